"""The area the features-in-view table lists, as its field takes it: four numbers, in degrees
(west, south, east, north, as the map's links write a box) or, since planning officers work on
the National Grid, in metres (eastings and northings, west, south, east, north). Four
numbers any of which is beyond ±180 cannot be degrees: they are metres.

A box in degrees is the links' own; a box on the grid is kept on the grid by the table's links
and its downloads (``bbox-crs``, ``area_downloads``), so that each chooses the same features,
and is shown on the map and its picture as the box in degrees that holds it."""

from dataclasses import dataclass
from functools import cache

import shapely
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, Polygon
from django.urls import reverse
from django.utils.http import urlencode
from pyproj import Transformer

from infraplan.catalogue.models import Dataset
from infraplan.catalogue.store import StoreFeatureSource
from infraplan.core.coordinates import decimal_text
from infraplan.exports.registry import exporter_for

from .selectors import (
    BadRequest,
    MapLayer,
    MapMoment,
    bbox_polygon,
    box_error,
    box_numbers,
    degrees_box,
    on_grid,
)
from .viewport import Box

# How downloads and the OGC API name the grid as a box's coordinate system (``bbox-crs``).
GRID_CRS_URI = "http://www.opengis.net/def/crs/EPSG/0/27700"
EDGE_ORDER = "west,south,east,north"  # a grid box's: eastings and northings in metres
# The largest a longitude or latitude can be: a greater number is a metre on the grid.
DEGREES_LIMIT = 180
# A grid box's edges are transformed to degrees point by point this far apart (metres), so
# that the box in degrees holds all of it.
_GRID_STEP = 1000


@cache
def _grid_to_degrees() -> Transformer:
    return Transformer.from_crs(27700, 4326, always_xy=True)


@dataclass(frozen=True)
class Area:
    """A box the table lists: ``frame``, the WGS84 box the map and its picture show, and
    ``grid``, the box as given in metres when it was given on the grid."""

    frame: Box
    grid: Box | None = None

    def polygon(self) -> GEOSGeometry:
        """The area features must meet, in EPSG:27700."""
        if self.grid is None:
            return bbox_polygon(self.frame)
        return _within_grid(self.grid)

    def text(self) -> str:
        """The box as the table's field and links write it: every digit as given."""
        return ",".join(decimal_text(value) for value in (self.grid or self.frame))

    def frame_text(self) -> str:
        """The box in degrees (that holds it, when given on the grid), every digit kept."""
        return ",".join(decimal_text(value) for value in self.frame)

    def download_query(self) -> dict[str, str]:
        """``bbox`` (and ``bbox-crs`` on the grid) of a download of the same features."""
        if self.grid is None:
            return {"bbox": self.text()}
        return {"bbox": self.text(), "bbox-crs": GRID_CRS_URI}

    def meets(self, other: Box) -> bool:
        """Whether the area's frame meets the WGS84 box ``other``."""
        west, south, east, north = self.frame
        return west < other[2] and other[0] < east and south < other[3] and other[1] < north


def _within_grid(grid: Box) -> GEOSGeometry:
    """The grid box cut to the grid's extent (where every stored feature lies)."""
    box = Polygon.from_bbox(grid)
    box.srid = 27700
    return on_grid(box)


def _grid_box(parts: list[str], numbers: list[float]) -> Box:
    """The box's edges; raises BadRequest saying which numbers, as typed, are the wrong way
    round (or the same) and in what order to give them."""
    west, south, east, north = numbers
    if west > east:
        raise box_error(
            f"the box's first easting ({parts[0]}) is east of its second ({parts[2]}): "
            f"give the west edge first, as {EDGE_ORDER}"
        )
    if west == east:
        raise box_error(
            f"the box's two eastings are the same ({parts[0]}), so it has no width: give a "
            f"west edge and an east edge, as {EDGE_ORDER}"
        )
    if south > north:
        raise box_error(
            f"the box's first northing ({parts[1]}) is north of its second ({parts[3]}): "
            f"give the south edge first, as {EDGE_ORDER}"
        )
    if south == north:
        raise box_error(
            f"the box's two northings are the same ({parts[1]}), so it has no height: give a "
            f"south edge and a north edge, as {EDGE_ORDER}"
        )
    return west, south, east, north


def grid_area(grid: Box, text: str) -> Area:
    """The area of a box on the grid; raises BadRequest if none of it is on the grid."""
    within = _within_grid(grid)
    if within.empty or within.area == 0:
        raise box_error(
            f"the area {text} in metres lies outside the British National Grid "
            "(eastings 0 to 700000, northings 0 to 1300000)"
        )
    edges = shapely.segmentize(shapely.from_wkb(bytes(within.wkb)), max_segment_length=_GRID_STEP)
    degrees = shapely.transform(edges, _grid_to_degrees().transform, interleaved=False)
    return Area(frame=tuple(degrees.bounds), grid=grid)


def parse_area(value: str | None) -> Area:
    """The area ``value`` names: degrees as ``parse_bbox`` reads them, or metres on the grid
    when any of its numbers is beyond ±180; the authority's map extent when absent. Raises
    BadRequest saying which number is wrong and why."""
    if not value:
        return Area(frame=tuple(settings.AUTHORITY_PROFILE.map.bounds))
    parts, numbers = box_numbers(value)
    if any(abs(number) > DEGREES_LIMIT for number in numbers):
        return grid_area(_grid_box(parts, numbers), ",".join(parts))
    return Area(frame=degrees_box(parts, numbers))


def swapped_area(area: Area) -> Area | None:
    """The area with its coordinates' order turned round (latitude before longitude, or
    northings before eastings: a common slip) when the area lies wholly outside the map's
    area and so turned round it would not; None otherwise."""
    bounds = tuple(settings.AUTHORITY_PROFILE.map.bounds)
    if area.meets(bounds):
        return None
    west, south, east, north = area.grid or area.frame
    turned = [south, west, north, east]
    parts = [decimal_text(number) for number in turned]
    try:
        swapped = (
            Area(frame=degrees_box(parts, turned))
            if area.grid is None
            else grid_area(_grid_box(parts, turned), ",".join(parts))
        )
    except BadRequest:
        return None
    return swapped if swapped.meets(bounds) else None


# The formats the features table offers its layers' features in, by their exporters' keys.
DOWNLOAD_FORMATS = ("csv", "geojson", "gpkg", "xlsx")


def area_downloads(
    datasets: list[Dataset], layers: list[MapLayer], area: Area, moment: MapMoment
) -> list[dict]:
    """For each chosen layer, links to download its features in ``area`` as shown (the same
    box, date and ended features), or why it cannot be downloaded so."""
    published = {layer.slug: layer.published for layer in layers}
    query = urlencode({**area.download_query(), **moment.query()})
    downloads = []
    for dataset in datasets:
        problem = None
        if not published.get(dataset.slug, True):
            problem = "nothing had been published by the date shown"
        elif moment.as_of and dataset.source_key != StoreFeatureSource.key:
            problem = (
                "the platform keeps no history of it, so it can be downloaded only as it is now"
            )
        links = []
        if problem is None:
            for key in DOWNLOAD_FORMATS:
                exporter = exporter_for(key)
                url = reverse(f"dataset-download-{key}", args=[dataset.slug])
                links.append({"title": exporter.title, "url": f"{url}?{query}"})
        downloads.append({"dataset": dataset, "links": links, "problem": problem})
    return downloads
