"""What goes around the picture that stands in for the interactive map without WebGL or
JavaScript (``map.html``, ``_picture.html``): the links that move and zoom it, each keeping all
else the map shows (WCAG 2.5.7's alternative to dragging), its text alternative and the area it
shows in words, and links to the same map without its marker or its feature."""

from django.utils.http import urlencode

from .highlight import ShownFeature
from .marker import Marker, place_description
from .selectors import MapLayer, MapMoment
from .viewport import FALLBACK_SIZE, Extent, View, distance_text, ground_size, view_moves


def faded_query(layers: list[MapLayer]) -> dict[str, str]:
    """``opacity`` for a link, of the layers the page read (those the user may see) that are
    faded: never a layer named only in the URL as given."""
    faded = ",".join(f"{layer.slug}:{layer.opacity}" for layer in layers if layer.opacity < 100)
    return {"opacity": faded} if faded else {}


def map_url(
    layers: list[MapLayer],
    view_fields: dict[str, str],
    moment: MapMoment,
    *,
    marker: Marker | None,
    shown: ShownFeature | None,
) -> str:
    """The map at ``view_fields`` (``center`` and ``zoom``) with what the page read, not the
    URL as given, which could name layers or a feature the user may not see: a link to the
    same map moved, or without its marker or its feature."""
    return "/map/?" + urlencode({
        "layers": ",".join(layer.slug for layer in layers if layer.visible),
        **view_fields,
        **moment.query(),
        **faded_query(layers),
        **(shown.query() if shown else {}),
        **(marker.query() if marker else {}),
    })  # fmt: skip


def picture_filename(moment: MapMoment) -> str:
    """The name a picture of the map is saved under: the day it shows, "map-2026-12-08.png"."""
    return f"map-{moment.day.isoformat()}.png"


def download_url(png_url: str) -> str:
    """The picture at ``png_url`` (a ``/map.png`` address with its query) to save as a file:
    ``download=1`` asks for it as an attachment; the page's own image shows it inline."""
    return f"{png_url}&download=1"


# The picture's links that move and zoom it, in the order they are offered.
PICTURE_MOVES = (
    ("in", "Zoom in"), ("out", "Zoom out"), ("north", "Move north"), ("south", "Move south"),
    ("east", "Move east"), ("west", "Move west"),
)  # fmt: skip
PICTURE_LIMITS = {
    "in": "The picture is as close as it goes: it cannot zoom in further.",
    "out": "The picture is as far out as it goes: it cannot zoom out further.",
}


def and_list(items: list[str]) -> str:
    """Items joined as prose: "A", "A and B", "A, B and C"."""
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


def attributions_grouped(credited: list[tuple[str, str]]) -> list[dict[str, str]]:
    """(title, attribution) pairs as the page lists them: each attribution once (spacing
    aside), after the titles of the layers it is owed for ("A, B and C"), in the order given."""
    titles: dict[str, list[str]] = {}
    for title, attribution in credited:
        text = " ".join(attribution.split())
        if text:
            titles.setdefault(text, []).append(title)
    return [{"titles": and_list(names), "text": text} for text, names in titles.items()]


def picture_around(
    layers: list[MapLayer],
    view: View,
    bbox: tuple[float, float, float, float],
    moment: MapMoment,
    *,
    marker: Marker | None,
    shown: ShownFeature | None,
) -> dict:
    """What the page says and links around the picture that stands in for the map: the links
    that move and zoom it (each keeping all else the map shows), its text alternative and
    what area it shows, and the shown feature's panel."""
    width, height = FALLBACK_SIZE
    moves = view_moves(view, width, height)

    def at(moved: View) -> str:
        return map_url(layers, moved.query(), moment, marker=marker, shown=shown)

    zoom = Extent.fitting(bbox, width, height).zoom(width)  # as the picture judges min_zoom
    on = [layer for layer in layers if layer.visible]
    drawn_layers = [layer for layer in on if layer.min_zoom <= zoom]
    drawn = [layer.title for layer in drawn_layers]
    far = [f"{layer.title} (from zoom {layer.min_zoom})" for layer in on if layer.min_zoom > zoom]
    marks = []
    shown_within = shown.within(bbox) if shown else None
    if shown_within:
        marks.append(f"{shown.label} ({shown.dataset.title}) highlighted")
    if marker and marker.within(bbox):
        marks.append(f"{marker.label or 'the search result'} marked")
    credited = [(layer.title, layer.attribution) for layer in drawn_layers]
    if shown_within and shown.dataset.slug not in {layer.slug for layer in drawn_layers}:
        credited.append((shown.dataset.title, shown.dataset.attribution))
    across, high = ground_size(view, width, height)
    return {
        "moves": [
            {"text": text, "url": at(moves[key])} for key, text in PICTURE_MOVES if moves[key]
        ],
        "limits": [text for key, text in PICTURE_LIMITS.items() if moves[key] is None],
        "alt": (f"Map of {and_list(drawn)}" if drawn else "Map with no layers drawn")
        + (f", with {and_list(marks)}" if marks else ""),
        "area": f"The picture shows an area about {distance_text(across)} from west to east and "
        f"{distance_text(high)} from south to north, centred on "
        f"{place_description(*view.centre)}.",
        "far": f"Not drawn this far out: {and_list(far)}. Zoom in to see them." if far else "",
        # What the picture draws is credited under it: the layers drawn, and the feature shown
        # (drawn even with its layer off); not every layer the user may see.
        "attributions": attributions_grouped(credited),
        "shown_within": shown_within,
        "shown_centre_url": at(View(shown.centre(), view.zoom)) if shown else None,
    }
