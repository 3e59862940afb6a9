"""Coordinate reference systems of the OGC API (Part 2, CRS by reference).

Features are stored in EPSG:27700 (British National Grid). The API answers in CRS84
(longitude, latitude: GeoJSON's own) by default, and on request in EPSG:4326 (latitude first,
as the EPSG register defines its axes and Part 2 requires), EPSG:27700 or EPSG:3857. PostGIS
transforms in SQL with the same Helmert transformation as pyproj (docs/coordinates.md).
"""

import json
import math
from dataclasses import dataclass
from typing import Any

from django.contrib.gis.geos import GEOSGeometry, Polygon
from pyproj import Transformer

from infraplan.core.coordinates import GRID_EASTING_MAX, GRID_NORTHING_MAX
from infraplan.maps.selectors import bbox_polygon

from .errors import bad_parameter


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int
    lat_first: bool  # the axis order the CRS defines: EPSG:4326 is latitude, longitude
    digits: int  # decimal places written: 7 for degrees (about 1 cm), 2 for metres
    label: str

    def geometry_sql(self, alias: str = "f") -> str:
        """SQL for the GeoJSON geometry of the feature row ``alias`` in this CRS."""
        if self.srid == 27700:
            geometry = f"{alias}.geom"
        elif self.srid == 3857:
            geometry = f"{alias}.geom_3857"  # stored by the database for tiles
        else:
            geometry = f"ST_Transform({alias}.geom, 4326)"
        if self.lat_first:
            geometry = f"ST_FlipCoordinates({geometry})"
        # Options 0: no "crs" member (GeoJSON has none; the Content-Crs header says it).
        return f"ST_AsGeoJSON({geometry}, {self.digits}, 0)"

    def geometry_json(self, geometry: GEOSGeometry | None) -> str:
        """A stored geometry (EPSG:27700) as GeoJSON text in this CRS, as ``geometry_sql``
        writes it: for sources outside the feature store, which give GEOS geometries."""
        if geometry is None or geometry.empty:
            return "null"
        if geometry.srid != self.srid:
            geometry = geometry.transform(self.srid, clone=True)
        document = json.loads(geometry.json)
        document["coordinates"] = _rounded(document["coordinates"], self.digits, self.lat_first)
        return json.dumps(document)


def _rounded(coordinates: Any, digits: int, flip: bool) -> Any:
    if coordinates and isinstance(coordinates[0], int | float):
        point = [round(value, digits) for value in coordinates]
        return [point[1], point[0], *point[2:]] if flip else point
    return [_rounded(part, digits, flip) for part in coordinates]


CRS84 = Crs("http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326, False, 7, "CRS84")
EPSG_4326 = Crs("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True, 7, "EPSG:4326")
EPSG_27700 = Crs("http://www.opengis.net/def/crs/EPSG/0/27700", 27700, False, 2, "EPSG:27700")
EPSG_3857 = Crs("http://www.opengis.net/def/crs/EPSG/0/3857", 3857, False, 2, "EPSG:3857")
SUPPORTED = (CRS84, EPSG_4326, EPSG_27700, EPSG_3857)
STORAGE = EPSG_27700
_BY_URI = {crs.uri: crs for crs in SUPPORTED}
# Web Mercator's bounds in metres (x); y is cut at about 85 degrees of latitude.
MERCATOR_LIMIT = 20037508.342789244
_MERCATOR_TO_DEGREES = Transformer.from_crs(3857, 4326, always_xy=True)


def crs_parse(name: str, value: str) -> Crs:
    """The CRS the parameter ``name`` (``crs``, ``bbox-crs``) names by its URI."""
    crs = _BY_URI.get(value.strip())
    if crs is None:
        known = ", ".join(crs.uri for crs in SUPPORTED)
        raise bad_parameter(
            f"{name}: {value!r} is not a coordinate reference system this service offers; "
            f"give one of {known}"
        )
    return crs


def _numbers(value: str) -> list[float]:
    parts = value.split(",")
    if len(parts) == 6:
        raise bad_parameter(
            f"bbox: {value!r} has six numbers, a box in three dimensions, which this service "
            "does not support: give four, lower left then upper right corner"
        )
    if len(parts) != 4:
        raise bad_parameter(
            f"bbox: {value!r} has {len(parts)} part(s); give four comma-separated numbers, "
            "lower left then upper right corner"
        )
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise bad_parameter(f"bbox: {value!r} is not four comma-separated numbers") from None
    if not all(math.isfinite(number) for number in numbers):
        raise bad_parameter(f"bbox: {value!r} holds a number that is not finite")
    return numbers


def bbox_parse(value: str, crs: Crs) -> GEOSGeometry:
    """The box ``bbox`` names in ``crs`` (its own axis order: EPSG:4326 is latitude first), as
    a polygon in EPSG:27700 that holds all of it (edges in degrees are curves on the grid)."""
    numbers = _numbers(value)
    if crs.lat_first:
        south, west, north, east = numbers
        order = "minimum latitude, minimum longitude, maximum latitude, maximum longitude"
    else:
        west, south, east, north = numbers
        order = (
            "minimum longitude, minimum latitude, maximum longitude, maximum latitude"
            if crs.srid == 4326
            else "minimum x, minimum y, maximum x, maximum y"
        )
    if west >= east or south >= north:
        raise bad_parameter(
            f"bbox: {value!r} in {crs.label} must be {order}, each minimum below its maximum "
            "(a box across the antimeridian is not supported)"
        )
    if crs.srid == 27700:
        box = Polygon.from_bbox((west, south, east, north))
        box.srid = 27700
        return box
    if crs.srid == 3857:
        if west < -MERCATOR_LIMIT or east > MERCATOR_LIMIT:
            raise bad_parameter(
                f"bbox: {value!r} reaches beyond EPSG:3857's x range (±{MERCATOR_LIMIT:.2f} metres)"
            )
        # Web Mercator's x and y lines are meridians and parallels: its box is a box in degrees.
        west, south = _MERCATOR_TO_DEGREES.transform(west, south)
        east, north = _MERCATOR_TO_DEGREES.transform(east, north)
        return bbox_polygon((west, south, east, north))
    if west < -180 or east > 180 or south < -90 or north > 90:
        raise bad_parameter(
            f"bbox: {value!r} in {crs.label} is outside longitudes -180 to 180 and latitudes "
            "-90 to 90"
        )
    return bbox_polygon((west, south, east, north))


def grid_bbox_check(value: str, box: GEOSGeometry) -> None:
    """400 for a box given in EPSG:27700 (``box``, read from ``value`` by ``bbox_parse``) that
    cannot be one of the grid's, rather than an answer with no features that looks like a
    true one: a box whose numbers all lie within longitude's and latitude's ranges (degrees
    sent as metres: at most 360 by 180 metres about the grid's origin, out in the Atlantic),
    and one wholly off the grid, as downloads refuse it (``exports.selectors``). A box in
    degrees or in Web Mercator's metres is a place on Earth whatever it is, and holds what it
    holds: none is refused for lying far from Great Britain."""
    west, south, east, north = box.extent
    if west >= -180 and east <= 180 and south >= -90 and north <= 90:
        raise bad_parameter(
            f"bbox: {value!r} in EPSG:27700 looks like degrees: on the British National Grid "
            f"it is a box {east - west:g} by {north - south:g} metres at the grid's origin, out "
            "in the Atlantic. Leave bbox-crs out for a box in degrees (longitude first), or "
            f"give eastings from 0 to {GRID_EASTING_MAX:,} and northings from 0 to "
            f"{GRID_NORTHING_MAX:,} metres"
        )
    if east <= 0 or west >= GRID_EASTING_MAX or north <= 0 or south >= GRID_NORTHING_MAX:
        raise bad_parameter(
            f"bbox: {value!r} in EPSG:27700 lies outside Great Britain and its waters, where "
            f"every feature is: the grid's eastings run from 0 to {GRID_EASTING_MAX:,} and its "
            f"northings from 0 to {GRID_NORTHING_MAX:,} metres"
        )
