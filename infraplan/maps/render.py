"""A PNG of a map view, drawn on the server with matplotlib's Agg renderer.

For people whose computers cannot run the interactive map (no WebGL on many council virtual
desktops) and for reports. Each layer is drawn in its dataset's style (the same colours as the
map and its legend) in Web Mercator, so the picture matches the interactive map's view, with its
legend at the top right and an attribution line at the foot.
"""

import io
import math
import textwrap
from collections.abc import Callable, Iterable

import numpy
import shapely
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.path import Path
from pyproj import Transformer

from infraplan.catalogue.models import Dataset, GeometryType
from infraplan.catalogue.sources import FeatureRecord
from infraplan.catalogue.styles import style_legend

from . import legend
from .highlight import ShownFeature
from .legend import Key, LegendLayer, LegendLayout, LegendRow
from .marker import MARKER_COLOUR, Marker
from .selectors import NOW, BadRequest, MapMoment, bbox_polygon, feature_label, records_within
from .styling import dataset_style, feature_colour, fill_opacity, label_field_of
from .viewport import EARTH_RADIUS, Extent, mercator

MIN_SIDE = 64
MAX_SIDE = 2000
MAX_PIXELS = 2000 * 1500
MAX_FEATURES_PER_LAYER = 20_000
# An area layer with a label field (districts, wards) is named in the picture, as on the map,
# when it has no more than this many features in view: more would cover the picture in text.
MAX_AREA_LABELS = 40
LABEL_EFFECTS = [patheffects.withStroke(linewidth=2.5, foreground="white")]
BACKGROUND = "#f3f2f1"
DPI = 100
LABEL_WIDTH = 40  # characters an area's name wraps at
# The search result's marker: a cross in the pin's colour with a white halo, which shows over
# any layer's colour and the background alike.
MARKER_STYLE = {
    "marker": "P", "markersize": 22, "markerfacecolor": MARKER_COLOUR,
    "markeredgecolor": "white", "markeredgewidth": 2.5, "linestyle": "none",
}  # fmt: skip
LEGEND_MARKER = {"markersize": 11, "markeredgewidth": 1.2}  # its key: the cross drawn smaller
# The feature a link shows (``highlight.py``): outlined over the layers as GOV.UK marks what has
# focus, near-black within yellow. The black line stands out from the background and every
# layer's light fill (over 15:1 on either), the yellow from any dark line or dot it crosses.
SHOWN_COLOUR = "#0b0c0c"
SHOWN_HALO = "#ffdd00"
SHOWN_WIDTH = 2.5
SHOWN_HALO_WIDTH = 8
SHOWN_POINT_SIZE = 20  # the ring around a point, in points across
SHOWN_TINT = 0.2  # the opacity of the yellow an area is filled with
SHOWN_EFFECTS = [patheffects.Stroke(linewidth=SHOWN_HALO_WIDTH, foreground=SHOWN_HALO),
                 patheffects.Normal()]  # fmt: skip

_TO_MERCATOR = Transformer.from_crs(27700, 3857, always_xy=True)


def _to_mercator(xy: numpy.ndarray) -> numpy.ndarray:
    return numpy.column_stack(_TO_MERCATOR.transform(xy[:, 0], xy[:, 1]))


def check_size(width: int, height: int) -> None:
    """Refuse sizes the server should not spend time on, saying which limit."""
    for name, value in (("width", width), ("height", height)):
        if not MIN_SIDE <= value <= MAX_SIDE:
            raise BadRequest(f"{name}: must be between {MIN_SIDE} and {MAX_SIDE} pixels")
    if width * height > MAX_PIXELS:
        raise BadRequest(f"width x height: at most {MAX_PIXELS:,} pixels")


def _ring_path(parts: Iterable) -> Path:
    """One matplotlib path for a polygon's rings (holes included, drawn even-odd)."""
    vertices, codes = [], []
    for ring in parts:
        coords = list(ring.coords)
        vertices += coords
        codes += [Path.MOVETO] + [Path.LINETO] * (len(coords) - 2) + [Path.CLOSEPOLY]
    return Path(vertices, codes)


def _draw_layer(
    axes, dataset: Dataset, bbox, accent: str, moment: MapMoment,
    records: Iterable[FeatureRecord] | None = None, opacity: float = 1.0,
) -> set[str]:  # fmt: skip
    """Draw the layer's features in the view, faded to ``opacity`` (the map's slider); the
    colours drawn (for the legend)."""
    style = dataset_style(dataset)
    polygons, polygon_colours, lines, line_colours, points, point_colours = [], [], [], [], [], []
    labelled = dataset.geometry_type == GeometryType.POLYGON and bool(label_field_of(dataset))
    labels: list[tuple[float, float, str]] = []
    if records is None:
        records = records_within(dataset, bbox_polygon(bbox), moment)
    for count, record in enumerate(records):
        if count == MAX_FEATURES_PER_LAYER or record.geometry is None:
            break
        colour = feature_colour(style, record.properties, default_colour=accent)
        geometry = shapely.transform(shapely.from_wkb(bytes(record.geometry.wkb)), _to_mercator)
        if labelled and len(labels) <= MAX_AREA_LABELS:  # one more: too many to name
            inside = shapely.point_on_surface(geometry)
            labels.append((inside.x, inside.y, feature_label(dataset, record)))
        for part in getattr(geometry, "geoms", [geometry]):
            if isinstance(part, shapely.Polygon):
                polygons.append(_ring_path([part.exterior, *part.interiors]))
                polygon_colours.append(colour)
            elif isinstance(part, shapely.LineString):
                lines.append(list(part.coords))
                line_colours.append(colour)
            elif isinstance(part, shapely.Point):
                points.append((part.x, part.y))
                point_colours.append(colour)
    if polygons:
        axes.add_collection(
            PathCollection(
                polygons,
                facecolors=polygon_colours,
                edgecolors="none",
                alpha=fill_opacity(style) * opacity,
            )
        )
        axes.add_collection(
            PathCollection(
                polygons,
                facecolors="none",
                edgecolors=polygon_colours,
                linewidths=1.2,
                alpha=opacity,
            )
        )
    if len(labels) <= MAX_AREA_LABELS:
        for x, y, text in labels:
            axes.text(
                x, y, _wrapped(text), fontsize=7, color="#0b0c0c", ha="center", va="center",
                path_effects=LABEL_EFFECTS, clip_on=True, zorder=4,
            )  # fmt: skip
    if lines:
        axes.add_collection(
            LineCollection(lines, colors=line_colours, linewidths=1.5, alpha=opacity)
        )
    if points:
        xs, ys = zip(*points, strict=True)
        axes.scatter(
            xs, ys, s=30, c=point_colours, edgecolors="white", linewidths=0.8, zorder=3,
            alpha=opacity,
        )  # fmt: skip
    return {*polygon_colours, *line_colours, *point_colours}


def _wrapped(label: str) -> str:
    return "\n".join(textwrap.wrap(label, LABEL_WIDTH)) or label


def legend_layers(
    drawn: list[Dataset], accent: str, colours: dict[int, set[str]] | None = None
) -> list[LegendLayer]:
    """Each drawn layer's legend, as the map's layer panel shows it: a layer of one colour by
    its title, a categorised or graduated one by its title and each class. With ``colours``
    (the colours drawn, by dataset id), only the classes the picture shows: a legend that
    lists what is not drawn misleads a reader of a report; a layer with none of its classes
    drawn has no entry."""
    layers = []
    for dataset in drawn:
        style = dataset_style(dataset)
        classes = tuple(
            (colour, label)
            for colour, label in style_legend(style, default_colour=accent)
            if colours is None or colour in colours.get(dataset.pk, set())
        )
        if classes:
            layers.append(
                LegendLayer(dataset.title, dataset.geometry_type, fill_opacity(style), classes)
            )
    return layers


def legend_labels(layers: list[LegendLayer]) -> list[str]:
    """Every entry of the layers' legends, each class with its layer's title ("Title: class"),
    for the picture's metadata: the whole legend, whatever the picture had room to draw."""
    return [
        f"{layer.title}: {label}" if label else layer.title
        for layer in layers
        for _, label in layer.classes
    ]


def marker_legend_label(marker: Marker) -> str:
    return f"Search result: {marker.label}" if marker.label else "Search result"


def _legend_extras(
    marker: Marker | None, shown: ShownFeature | None, nothing: list[str]
) -> list[LegendRow]:
    """The rows after the layers': those without a key for the layers with no feature in the
    picture, then the shown feature's and the marker's."""
    rows = [LegendRow(label) for label in nothing]
    if shown is not None:
        kind = "shown-point" if shown.dataset.geometry_type == GeometryType.POINT else "shown-line"
        rows.append(LegendRow(shown.legend_label(), Key(kind)))
    if marker is not None:
        rows.append(LegendRow(marker_legend_label(marker), Key("marker")))
    return rows


def _rgb(colour: str) -> tuple[float, float, float]:
    return tuple(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))


def _draw_key(figure: Figure, key: Key, left: float, middle: float) -> None:
    """``key`` drawn as what it stands for is (a filled area, a line, a dot, the shown
    feature's outline, the marker's cross) in the box from ``left`` (pixels) about the line
    at ``middle``."""
    width, height = figure.bbox.width, figure.bbox.height
    x0, x1 = left / width, (left + legend.KEY_WIDTH) / width
    xc, y = (x0 + x1) / 2, middle / height
    on = {"transform": figure.transFigure, "zorder": 6}
    if key.kind == GeometryType.POLYGON:
        box_height = legend.KEY_HEIGHT / height
        figure.add_artist(
            Rectangle((x0, y - box_height / 2), x1 - x0, box_height,
                      facecolor=(*_rgb(key.colour), key.opacity), edgecolor=key.colour,
                      linewidth=1.2, **on)
        )  # fmt: skip
    elif key.kind == GeometryType.LINE:
        figure.add_artist(Line2D([x0, x1], [y, y], color=key.colour, linewidth=1.5, **on))
    elif key.kind == GeometryType.POINT:
        figure.add_artist(
            Line2D([xc], [y], linestyle="none", marker="o", markersize=6,
                   markerfacecolor=key.colour, markeredgecolor="white", **on)
        )  # fmt: skip
    elif key.kind == "shown-point":
        figure.add_artist(
            Line2D([xc], [y], linestyle="none", marker="o", markersize=11,
                   markerfacecolor="none", markeredgecolor=SHOWN_COLOUR, markeredgewidth=2,
                   path_effects=[patheffects.Stroke(linewidth=5, foreground=SHOWN_HALO),
                                 patheffects.Normal()], **on)
        )  # fmt: skip
    elif key.kind == "shown-line":
        figure.add_artist(
            Line2D([x0, x1], [y, y], color=SHOWN_COLOUR, linewidth=2,
                   path_effects=[patheffects.Stroke(linewidth=6, foreground=SHOWN_HALO),
                                 patheffects.Normal()], **on)
        )  # fmt: skip
    elif key.kind == "marker":
        figure.add_artist(Line2D([xc], [y], **{**MARKER_STYLE, **LEGEND_MARKER}, **on))


def _draw_legend(figure: Figure, layout: LegendLayout) -> None:
    """The legend's panel at the picture's top right, its rows as ``layout`` placed them."""
    width, height = figure.bbox.width, figure.bbox.height
    left, top = width - legend.MARGIN - layout.width, height - legend.MARGIN
    figure.add_artist(
        Rectangle((left / width, (top - layout.height) / height), layout.width / width,
                  layout.height / height, facecolor="white", alpha=0.85, edgecolor="none",
                  transform=figure.transFigure, zorder=5)
    )  # fmt: skip
    line = layout.line_height
    for placed in layout.placed:
        x = left + legend.PADDING + placed.x
        y = top - legend.PADDING - placed.y - line / 2  # the middle of its first line
        if placed.row.key is not None:
            _draw_key(figure, placed.row.key, x, y)
        text_x = (x + legend.KEY_WIDTH + legend.KEY_GAP) / width
        for number, text in enumerate(placed.row.lines()):
            # Titles and labels are written as given: a "$" is not the start of mathematics.
            figure.text(
                text_x, (y - number * line) / height, text, fontsize=legend.FONT_SIZE,
                color="#0b0c0c", ha="left", va="center_baseline", parse_math=False, zorder=7,
                fontweight="bold" if placed.row.title else "normal",
            )  # fmt: skip


def _draw_marker(axes, extent: Extent, marker: Marker) -> bool:
    """Draw the marker, if the picture shows its point; whether it did."""
    x, y = mercator(marker.lon, marker.lat)
    if not (extent.min_x <= x <= extent.max_x and extent.min_y <= y <= extent.max_y):
        return False
    axes.plot([x], [y], zorder=10, **MARKER_STYLE)
    return True


def _draw_shown(axes, extent: Extent, shown: ShownFeature) -> bool:
    """Outline the shown feature over the layers (an area also tinted), if the picture shows
    any of it; whether it did."""
    geometry = shapely.transform(shapely.from_wkb(bytes(shown.record.geometry.wkb)), _to_mercator)
    if not geometry.intersects(shapely.box(extent.min_x, extent.min_y, extent.max_x, extent.max_y)):
        return False
    areas, lines, points = [], [], []
    for part in getattr(geometry, "geoms", [geometry]):
        if isinstance(part, shapely.Polygon):
            areas.append(_ring_path([part.exterior, *part.interiors]))
            lines += [list(ring.coords) for ring in (part.exterior, *part.interiors)]
        elif isinstance(part, shapely.LineString):
            lines.append(list(part.coords))
        elif isinstance(part, shapely.Point):
            points.append((part.x, part.y))
    if areas:
        # Tinted within, so that a view inside an area, which shows none of its outline, still
        # shows it.
        axes.add_collection(
            PathCollection(areas, facecolors=SHOWN_HALO, edgecolors="none", alpha=SHOWN_TINT,
                           zorder=7)
        )  # fmt: skip
    if lines:
        axes.add_collection(
            LineCollection(lines, colors=SHOWN_COLOUR, linewidths=SHOWN_WIDTH, zorder=8,
                           capstyle="round", joinstyle="round", path_effects=SHOWN_EFFECTS)
        )  # fmt: skip
    for x, y in points:
        axes.plot([x], [y], linestyle="none", marker="o", markersize=SHOWN_POINT_SIZE,
                  markerfacecolor="none", markeredgecolor=SHOWN_COLOUR,
                  markeredgewidth=SHOWN_WIDTH, zorder=8, path_effects=SHOWN_EFFECTS)  # fmt: skip
    return True


def attribution_line(datasets: list[Dataset]) -> str:
    """Each layer's whole attribution once, as one sentence-ended line: "A; B." (an
    attribution's own closing full stop is not doubled by the joining)."""
    parts = dict.fromkeys(" ".join(d.attribution.split()).rstrip(".") for d in datasets)
    line = "; ".join(part for part in parts if part)
    return f"{line}." if line else ""


# Lengths a scale bar may show, in metres: a round number near a fifth of the picture's width.
_SCALE_STEPS = (1, 2, 5)
SCALE_MIN_HEIGHT = 200  # pixels; a smaller picture (a thumbnail) has no room for it


def scale_length(metres_per_pixel: float, width: int) -> int:
    """The round length (1, 2 or 5 times a power of ten metres) of the scale bar: the longest
    not over a fifth of ``width`` pixels."""
    most = metres_per_pixel * width / 5
    power = 10 ** math.floor(math.log10(most))
    return max(step * power for step in _SCALE_STEPS if step * power <= most)


def _draw_scale_and_north(figure: Figure, extent: Extent, width: int, height: int) -> None:
    """A north arrow and a scale bar true at the picture's centre (Web Mercator stretches
    distances by 1/cos of the latitude), at the top left under the date: a map in a report
    needs both, and there they clear the attribution, however many lines it wraps to."""
    if height < SCALE_MIN_HEIGHT:
        return
    centre_y = (extent.min_y + extent.max_y) / 2
    latitude = math.atan(math.sinh(centre_y / EARTH_RADIUS))
    metres_per_pixel = (extent.max_x - extent.min_x) / width * math.cos(latitude)
    metres = scale_length(metres_per_pixel, width)
    left, level = 30 / width, 1 - 40 / height
    bar = metres / metres_per_pixel / width  # of the figure's width
    figure.text(
        8 / width, level, "\u25b2\nN", fontsize=8, fontweight="bold", color="#0b0c0c",
        ha="left", va="center", linespacing=0.9,
        bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1},
    )  # fmt: skip
    figure.add_artist(
        Line2D([left, left + bar], [level, level], color="#0b0c0c", linewidth=3,
               solid_capstyle="butt", transform=figure.transFigure)
    )  # fmt: skip
    figure.text(
        left + bar + 4 / width, level, f"{metres // 1000:,} km" if metres >= 1000 else f"{metres} m",
        fontsize=7, color="#0b0c0c", ha="left", va="center",
        bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1},
    )  # fmt: skip


def map_png(
    *,
    datasets: list[Dataset],
    bbox: tuple[float, float, float, float],
    width: int,
    height: int,
    accent: str,
    moment: MapMoment = NOW,
    records: Callable[[Dataset], Iterable[FeatureRecord]] | None = None,
    marker: Marker | None = None,
    shown_feature: ShownFeature | None = None,
    caption: str | None = None,
    opacities: dict[str, int] | None = None,
) -> bytes:
    """The view ``bbox`` of ``datasets`` (already permitted), ``width`` x ``height`` pixels, as
    at ``moment`` (each dataset as published on its date, ended features as it says).

    A box of other proportions than the picture is widened to them about its centre, as the
    interactive map fits bounds, and the picture draws all it shows, margins included. Layers
    whose minimum zoom is above the picture's zoom are left out, as on the interactive map.

    ``records`` gives the features to draw of each dataset instead (a download's selection,
    already read as at its moment): then every dataset is drawn, whatever its minimum zoom.

    ``shown_feature`` (the feature a link names) is outlined over the layers, and ``marker`` (a search
    result's place) drawn over them as a cross; each is named last in the legend, if the
    picture shows it. ``caption`` says what the picture shows in place of its date (a download
    of a version asked for by number names that version). ``opacities`` (per cent, by slug, as
    the map's ``opacity``) fade layers as the map's sliders do.
    """
    check_size(width, height)
    extent = Extent.fitting(bbox, width, height)
    shown = extent.bbox()
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor=BACKGROUND)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    axes.set_xlim(extent.min_x, extent.max_x)
    axes.set_ylim(extent.min_y, extent.max_y)
    zoom = extent.zoom(width)
    drawn = [dataset for dataset in datasets if records or dataset.min_zoom <= zoom]
    order = {GeometryType.POLYGON: 0, GeometryType.LINE: 1, GeometryType.POINT: 2}
    colours = {}
    for dataset in sorted(drawn, key=lambda d: order.get(d.geometry_type, 3)):
        given = records(dataset) if records else None
        opacity = (opacities or {}).get(dataset.slug, 100) / 100
        colours[dataset.pk] = _draw_layer(axes, dataset, shown, accent, moment, given, opacity)
    keyed = legend_layers(drawn, accent, colours)
    # A download's dataset with nothing in its frame is named as such: the picture would
    # otherwise show an area's outline alone, as if it were that dataset's map.
    nothing = [f"{d.title}: no features here" for d in drawn if records and not colours[d.pk]]
    outlined = (
        shown_feature
        if shown_feature is not None and _draw_shown(axes, extent, shown_feature)
        else None
    )
    marked = marker if marker is not None and _draw_marker(axes, extent, marker) else None
    attribution = attribution_line(drawn)
    layout = legend.legend_layout(
        keyed, _legend_extras(marked, outlined, nothing), width=width, height=height,
        bottom=legend.wrapped_height(attribution, width - 2 * legend.MARGIN, DPI), dpi=DPI,
    )  # fmt: skip
    if layout is not None:
        _draw_legend(figure, layout)
    _draw_scale_and_north(figure, extent, width, height)
    # The date the picture shows, in it and in its metadata: a picture kept as evidence must
    # say what the platform had published when.
    caption = caption or moment_caption(moment)
    figure.text(
        0.005, 0.995, caption, fontsize=8, fontweight="bold", color="#0b0c0c", ha="left",
        va="top", bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 2},
    )  # fmt: skip
    # Each layer's whole attribution, as its licence asks (wrapped to the picture's width).
    figure.text(
        0.005, 0.005, attribution or "No layers in this view",
        fontsize=7, color="#0b0c0c", ha="left", va="bottom", wrap=True,
        bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 2},
    )  # fmt: skip
    buffer = io.BytesIO()
    metadata = {"Description": caption, "Copyright": attribution, "Software": "infraplan"}
    labels = legend_labels(keyed) + nothing
    labels += [outlined.legend_label()] if outlined else []
    labels += [marker_legend_label(marked)] if marked else []
    if labels:
        metadata["Comment"] = "Legend: " + "; ".join(labels)
    figure.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND, metadata=metadata)
    return buffer.getvalue()


def moment_caption(moment: MapMoment) -> str:
    """What a picture of the map says of its date: "As published on 14 July 2026", and whether
    features that have ended are drawn."""
    day = moment.day
    caption = f"As published on {day.day} {day:%B %Y}"
    return caption + ("; features that have ended are shown" if moment.show_ended else "")
