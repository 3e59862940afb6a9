"""PNG: a map of the chosen features, drawn by the map's own picture renderer
(``maps.render.map_png``) in the dataset's style, with the date it shows and the dataset's
attribution drawn in it and kept in its metadata.

The picture is framed on the area or box asked for (an area's boundary is drawn under the
features, with its own attribution), or else on the chosen features (with a
margin), or, with none chosen, on the authority's map. It draws at most
``maps.render.MAX_FEATURES_PER_LAYER`` features, so a larger choice is refused rather than
drawn in part.
"""

from typing import TYPE_CHECKING, BinaryIO

from django.conf import settings
from django.utils import timezone

from infraplan.maps.render import MAX_FEATURES_PER_LAYER, map_png
from infraplan.maps.viewport import usable_bbox

from .base import Exporter
from .registry import exporter_register
from .selectors import day_text
from .table import GRID_TO_WGS84

if TYPE_CHECKING:
    from .selectors import Export

WIDTH, HEIGHT = 1600, 1200
MARGIN = 0.05  # of the features' extent, each side
LEAST_MARGIN = 250.0  # metres: a single point still shows its surroundings


def features_frame(extent: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The WGS84 box around a BNG extent, with a margin."""
    min_x, min_y, max_x, max_y = extent
    pad = max((max_x - min_x) * MARGIN, (max_y - min_y) * MARGIN, LEAST_MARGIN)
    west, south, east, north = GRID_TO_WGS84.transform_bounds(
        min_x - pad, min_y - pad, max_x + pad, max_y + pad
    )
    return usable_bbox((west, south, east, north))


@exporter_register
class PngExporter(Exporter):
    key = "png"
    title = "PNG map"
    hint = "A picture of the features on a map, with their attribution, for reports."
    media_type = "image/png"
    spatial_only = True

    @property
    def max_features(self) -> int | None:
        return min(super().max_features or MAX_FEATURES_PER_LAYER, MAX_FEATURES_PER_LAYER)

    def write(self, export: "Export", out: BinaryIO) -> None:
        if export.frame is not None:
            frame = usable_bbox(export.frame)
        elif export.outline is not None:
            frame = features_frame(export.outline.record.geometry.extent)
        elif export.summary.extent is not None:
            frame = features_frame(export.summary.extent)
        else:
            frame = tuple(settings.AUTHORITY_PROFILE.map.bounds)
        drawn = {export.dataset.pk: list(export.records())}
        datasets = [export.dataset]
        outline = export.outline
        if outline is not None and outline.dataset.pk not in drawn:  # the area, under them
            drawn[outline.dataset.pk] = [outline.record]
            datasets.insert(0, outline.dataset)
        png = map_png(
            datasets=datasets, bbox=frame, width=WIDTH, height=HEIGHT,
            accent=settings.AUTHORITY_PROFILE.branding.accent_colour, moment=export.moment,
            records=lambda dataset: drawn[dataset.pk], caption=version_caption(export),
        )  # fmt: skip
        out.write(png)


def version_caption(export: "Export") -> str | None:
    """What the picture of a version asked for by number says it shows: that version, when it
    was published and, if another has followed it, which is current; None for a download as
    published on a date (the picture then says the date)."""
    if export.version_asked is None:
        return None
    about = export.about
    caption = f"Version {about.version}"
    if about.published_at:
        caption += f", published {day_text(timezone.localdate(about.published_at))}"
    if about.superseded:
        caption += f" (not the current version; the current version is {about.superseded.current})"
    return caption + ("; features that have ended are shown" if export.moment.show_ended else "")
