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


# The zooms the picture's links go between: the interactive map's own (``MIN_ZOOM`` in
# frontend/src/js/map.mjs, and MapLibre's maximum), which a view's URL may name.
MIN_ZOOM = 4.0
MAX_ZOOM = 22.0
ZOOM_STEP = 1.0
# A move goes half the picture's width or height: what was at its edge comes to its middle.
MOVE_FRACTION = 0.5
# The world the links may move to, in Web Mercator metres: longitudes to ±180 and latitudes to
# ±MAX_LATITUDE, the box a view's URL may name.
_WORLD_X = math.pi * EARTH_RADIUS
_WORLD_Y = mercator(0, MAX_LATITUDE)[1]
# A move the world's edge cuts to less than this (metres) is no move: the link is left out.
_LEAST_MOVE = 0.5


@dataclass(frozen=True)
class View:
    """A map view as its URL names it: the centre (WGS84 longitude, latitude) and the zoom."""

    centre: tuple[float, float]
    zoom: float

    def query(self) -> dict[str, str]:
        """``center`` and ``zoom`` as the map's URL writes them (BOX_DECIMALS places)."""
        lon, lat = self.centre
        return {
            "center": f"{lon:.{BOX_DECIMALS}f},{lat:.{BOX_DECIMALS}f}",
            "zoom": f"{self.zoom:.2f}",
        }

    def metres_per_pixel(self) -> float:
        """Web Mercator metres a pixel of the map spans at this zoom (512-pixel tiles)."""
        return 2 * math.pi * EARTH_RADIUS / (512 * 2**self.zoom)


def _moved_along(position: float, step: float, half_span: float, limit: float) -> float | None:
    """``position`` moved by ``step``, stopped where the view's edge (``half_span`` from it)
    meets ``±limit``; None when it cannot move that way (at the edge, or wider than the world)."""
    if step > 0:
        moved = min(position + step, limit - half_span)
    else:
        moved = max(position + step, -limit + half_span)
    return moved if (moved - position) * step > 0 and abs(moved - position) >= _LEAST_MOVE else None


def view_moves(view: View, width: int, height: int) -> dict[str, View | None]:
    """Where the no-WebGL picture's links go from ``view`` (a ``width`` x ``height`` map):
    ``in`` and ``out`` by ZOOM_STEP about the same centre, within MIN_ZOOM and MAX_ZOOM, and
    ``north``, ``south``, ``east`` and ``west`` by MOVE_FRACTION of the view, in Web Mercator
    as the map moves, stopping at the world's edges. None where the view can go no further."""
    zoom_in = min(max(view.zoom + ZOOM_STEP, MIN_ZOOM), MAX_ZOOM)
    zoom_out = max(view.zoom - ZOOM_STEP, MIN_ZOOM)
    x, y = mercator(*view.centre)
    scale = view.metres_per_pixel()
    half_w, half_h = width / 2 * scale, height / 2 * scale
    step_x, step_y = width * MOVE_FRACTION * scale, height * MOVE_FRACTION * scale
    moves: dict[str, View | None] = {
        "in": View(view.centre, zoom_in) if zoom_in > view.zoom else None,
        "out": View(view.centre, zoom_out) if zoom_out < view.zoom else None,
    }
    for name, step, along in (
        ("north", step_y, "y"), ("south", -step_y, "y"),
        ("east", step_x, "x"), ("west", -step_x, "x"),
    ):  # fmt: skip
        if along == "x":
            moved = _moved_along(x, step, half_w, _WORLD_X)
            centre = None if moved is None else mercator_inverse(moved, y)
        else:
            moved = _moved_along(y, step, half_h, _WORLD_Y)
            centre = None if moved is None else mercator_inverse(x, moved)
        moves[name] = None if centre is None else View(centre, view.zoom)
    return moves


def ground_size(view: View, width: int, height: int) -> tuple[float, float]:
    """The metres a ``width`` x ``height`` map at ``view`` spans from west to east and from
    south to north, true at its centre (Web Mercator stretches distances by 1/cos latitude)."""
    scale = view.metres_per_pixel() * math.cos(math.radians(view.centre[1]))
    return width * scale, height * scale


def distance_text(metres: float) -> str:
    """A distance to two significant figures, in metres under a kilometre: "690 m", "1.3 km",
    "25 km"."""
    if metres <= 0:
        return "0 m"
    rounded = round(metres, 1 - math.floor(math.log10(metres)))
    if rounded < 1000:
        return f"{rounded:,.0f} m" if rounded >= 10 else f"{rounded:g} m"
    kilometres = rounded / 1000
    return f"{kilometres:,.1f} km".replace(".0 km", " km")
