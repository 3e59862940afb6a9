"""The place a search result marks on the map: ``marker=lon,lat`` (WGS84, MARKER_DECIMALS
places) and ``marker_label`` in the map's URL, kept by the links of the map page, its table of
features and its picture, so that a shared link still shows which point a postcode or grid
reference is. The interactive map draws it as a pin (``frontend/src/js/map.mjs``), the PNG as a
cross (``render.py``), and the pages say where it is in words (``Marker.description``)."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from pyproj import Transformer

from infraplan.core.coordinates import GRID_EASTING_MAX, GRID_NORTHING_MAX

from .selectors import BNG_AREA_OF_USE, BadRequest
from .viewport import MAX_LATITUDE, Box

MARKER = "marker"
MARKER_LABEL = "marker_label"
MARKER_DECIMALS = 6  # about 0.1 m
# A label is a search result's name: a postcode, a grid reference, a place or a feature. Longer
# text is cut, so that a link cannot make the page or the picture say a paragraph.
MARKER_LABEL_LENGTH = 80
MARKER_COLOUR = "#d4351c"  # the pin's, on the interactive map: GOV.UK's red
# A longitude or latitude as a link writes it: ASCII digits, at most 15 decimal places (the
# float's own precision); no exponent, "nan", "inf" or other scripts' digits, which float() takes.
_DEGREES = re.compile(r"[-+]?[0-9]{1,3}(?:\.[0-9]{1,15})?")
MARKER_NOT_A_POINT = (
    "marker: expected a longitude and a latitude in degrees, longitude first, separated by a comma"
)
MARKER_OUT_OF_RANGE = (
    f"marker: the longitude must be between -180 and 180 and the latitude between "
    f"-{MAX_LATITUDE:g} and {MAX_LATITUDE:g} degrees"
)
# The 100 km squares' letters of the National Grid: A to Z without I.
_GRID_LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"


@cache
def _to_grid() -> Transformer:
    return Transformer.from_crs(4326, 27700, always_xy=True)


def grid_reference_text(easting: float, northing: float) -> str:
    """The 6-figure Ordnance Survey grid reference (the 100 m square) of a point on the
    National Grid: ``TR 150 575``. The reverse of ``core.coordinates.grid_reference_parse``.
    The point is first rounded to the metre: a point on a square's edge, written to six decimal
    places of a degree and read back, lies a few centimetres either side of it."""
    easting, northing = round(easting), round(northing)
    east_100k, north_100k = easting // 100_000, northing // 100_000
    # The 500 km square's letter, then the 100 km square's within it, each counted in rows of
    # five from the north-west corner.
    first = (19 - north_100k) - (19 - north_100k) % 5 + (east_100k + 10) // 5
    second = (19 - north_100k) * 5 % 25 + east_100k % 5
    letters = _GRID_LETTERS[first] + _GRID_LETTERS[second]
    return f"{letters} {easting % 100_000 // 100:03d} {northing % 100_000 // 100:03d}"


def marker_label_clean(text: str) -> str:
    """``text`` as a marker's label: control characters as spaces, runs of space as one, and
    cut to MARKER_LABEL_LENGTH characters (the last an ellipsis where it was cut)."""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(text) > MARKER_LABEL_LENGTH:
        text = text[: MARKER_LABEL_LENGTH - 1].rstrip() + "…"
    return text


@dataclass(frozen=True)
class Marker:
    """A marked point, in WGS84 degrees rounded to MARKER_DECIMALS places, and its label."""

    lon: float
    lat: float
    label: str = ""

    @classmethod
    def at(cls, lon: float, lat: float, label: str = "") -> "Marker":
        return cls(
            round(lon, MARKER_DECIMALS), round(lat, MARKER_DECIMALS), marker_label_clean(label)
        )

    def query(self) -> dict[str, str]:
        """The URL parameters that keep the marker."""
        parameters = {MARKER: f"{self.lon:.{MARKER_DECIMALS}f},{self.lat:.{MARKER_DECIMALS}f}"}
        if self.label:
            parameters[MARKER_LABEL] = self.label
        return parameters

    def as_json(self) -> dict[str, float | str]:
        return {"lon": self.lon, "lat": self.lat, "label": self.label}

    def within(self, bbox: Box) -> bool:
        west, south, east, north = bbox
        return west <= self.lon <= east and south <= self.lat <= north

    def grid_reference(self) -> str:
        """Its 6-figure grid reference; empty off the National Grid."""
        return grid_reference_of(self.lon, self.lat)

    def description(self) -> str:
        """Where it is, in words: "CT1 2EH (grid reference TR 150 575)"; off the grid, by its
        latitude and longitude."""
        place = place_description(self.lon, self.lat)
        return f"{self.label} ({place})" if self.label else place


def grid_reference_of(lon: float, lat: float) -> str:
    """The 6-figure grid reference of a point (WGS84); empty off the National Grid."""
    west, south, east, north = BNG_AREA_OF_USE
    if not (west <= lon <= east and south <= lat <= north):
        return ""
    easting, northing = (round(value) for value in _to_grid().transform(lon, lat))
    if not (0 <= easting < GRID_EASTING_MAX and 0 <= northing < GRID_NORTHING_MAX):
        return ""
    return grid_reference_text(easting, northing)


def place_description(lon: float, lat: float) -> str:
    """A point in words: "grid reference TR 150 575"; off the grid, "latitude …, longitude …"."""
    reference = grid_reference_of(lon, lat)
    return (
        f"grid reference {reference}" if reference else f"latitude {lat:.5f}, longitude {lon:.5f}"
    )


def parse_marker(query: Mapping[str, str]) -> Marker | None:
    """The marker of ``marker=lon,lat`` and ``marker_label`` (None without ``marker``); raises
    BadRequest, naming the parameter, for a value that is not a point on the map."""
    value = query.get(MARKER)
    if value is None:
        return None
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 2 or not all(_DEGREES.fullmatch(part) for part in parts):
        raise BadRequest(MARKER_NOT_A_POINT)
    lon, lat = (float(part) for part in parts)
    if not (-180 <= lon <= 180 and -MAX_LATITUDE <= lat <= MAX_LATITUDE):
        raise BadRequest(MARKER_OUT_OF_RANGE)
    return Marker.at(lon, lat, query.get(MARKER_LABEL) or "")


def marker_from_query(query: Mapping[str, str]) -> Marker | None:
    """The marker a page's URL names; None when it names none or one that cannot be (ignored,
    as a stale or mistyped view is: the link still opens the page, without a marker)."""
    try:
        return parse_marker(query)
    except BadRequest:
        return None
