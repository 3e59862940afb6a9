"""Map views and the boxes they show, in Web Mercator as the interactive map draws them: what
turns a view (centre and zoom) into a box for the table and the picture, and back."""

import math
from dataclasses import dataclass

EARTH_RADIUS = 6378137.0
# The map the no-JavaScript links describe (and the size of the picture they link to).
FALLBACK_SIZE = (960, 640)
# The latitudes a box may reach (``parse_bbox``), within Web Mercator's 85.0511.
MAX_LATITUDE = 85.0
# Links write a box's corners to this many decimal places (about a metre), and never describe
# a box less than MIN_BOX_DEGREES (ten of those places) across: a view at zoom 22 at the edge
# of the world would otherwise round to a box of no height, which the table and picture refuse.
BOX_DECIMALS = 5
MIN_BOX_DEGREES = 0.0001

Box = tuple[float, float, float, float]


def mercator(lon: float, lat: float) -> tuple[float, float]:
    x = math.radians(lon) * EARTH_RADIUS
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * EARTH_RADIUS
    return x, y


def mercator_inverse(x: float, y: float) -> tuple[float, float]:
    lon = math.degrees(x / EARTH_RADIUS)
    lat = math.degrees(2 * math.atan(math.exp(y / EARTH_RADIUS)) - math.pi / 2)
    return lon, lat


def view_bbox(center: tuple[float, float], zoom: float, width: int, height: int) -> Box:
    """The WGS84 box a ``width`` x ``height`` web map shows centred on ``center`` at ``zoom``."""
    metres_per_pixel = 2 * math.pi * EARTH_RADIUS / (512 * 2**zoom)
    x, y = mercator(*center)
    half_w, half_h = width / 2 * metres_per_pixel, height / 2 * metres_per_pixel
    west, south = mercator_inverse(x - half_w, y - half_h)
    east, north = mercator_inverse(x + half_w, y + half_h)
    return (max(west, -180), max(south, -MAX_LATITUDE), min(east, 180), min(north, MAX_LATITUDE))


@dataclass(frozen=True)
class Extent:
    """The Web Mercator box the image shows: the bbox widened to the image's proportions, as the
    interactive map fits bounds."""

    min_x: float
    min_y: float
    max_x: float
    max_y: float

    @classmethod
    def fitting(cls, bbox: Box, width: int, height: int) -> "Extent":
        min_x, min_y = mercator(bbox[0], bbox[1])
        max_x, max_y = mercator(bbox[2], bbox[3])
        scale = max((max_x - min_x) / width, (max_y - min_y) / height)
        centre_x, centre_y = (min_x + max_x) / 2, (min_y + max_y) / 2
        half_w, half_h = scale * width / 2, scale * height / 2
        return cls(centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h)

    def bbox(self) -> Box:
        """The WGS84 box the image shows: the whole of it, margins included, so that what lies
        in a margin the widening added is drawn there too (within ±180° and ±MAX_LATITUDE)."""
        west, south = mercator_inverse(self.min_x, self.min_y)
        east, north = mercator_inverse(self.max_x, self.max_y)
        return max(west, -180), max(south, -MAX_LATITUDE), min(east, 180), min(north, MAX_LATITUDE)

    def zoom(self, width: int) -> float:
        """The web map zoom (512-pixel tiles) at which the image, ``width`` pixels wide, shows
        it."""
        metres_per_pixel = (self.max_x - self.min_x) / width
        return math.log2(2 * math.pi * EARTH_RADIUS / (512 * metres_per_pixel))


def view_fitting(bbox: Box, width: int, height: int) -> tuple[tuple[float, float], float]:
    """The centre (WGS84) and web map zoom at which a ``width`` x ``height`` map shows all of
    ``bbox``: the view ``view_bbox`` turns back into the box."""
    extent = Extent.fitting(bbox, width, height)
    centre = mercator_inverse((extent.min_x + extent.max_x) / 2, (extent.min_y + extent.max_y) / 2)
    return centre, extent.zoom(width)


def _usable_span(low: float, high: float, limit: float) -> tuple[float, float]:
    """``low``..``high`` within ``-limit``..``limit`` and at least MIN_BOX_DEGREES wide (about
    its middle, moved inside the limits if it would reach past them)."""
    low, high = max(low, -limit), min(high, limit)
    if high - low < MIN_BOX_DEGREES:
        half = MIN_BOX_DEGREES / 2
        middle = min(max((low + high) / 2, half - limit), limit - half)
        low, high = middle - half, middle + half
    return low, high


def usable_bbox(bbox: Box) -> Box:
    """``bbox`` as a link may give it: within the longitudes and latitudes the table and picture
    take, and at least MIN_BOX_DEGREES each way, so that written to BOX_DECIMALS places it is
    still an area."""
    west, east = _usable_span(bbox[0], bbox[2], 180)
    south, north = _usable_span(bbox[1], bbox[3], MAX_LATITUDE)
    return west, south, east, north


def bbox_text(bbox: Box) -> str:
    """``west,south,east,north`` to BOX_DECIMALS places, as links carry a box."""
    return ",".join(f"{value:.{BOX_DECIMALS}f}" for value in bbox)
