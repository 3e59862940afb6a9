"""A PNG of a map view, drawn on the server with matplotlib's Agg renderer.

For people whose computers cannot run the interactive map (no WebGL on many council virtual
desktops) and for reports. Each layer is drawn in its dataset's style (the same colours as the
map and its legend) in Web Mercator, so the picture matches the interactive map's view, with an
attribution line at the foot.
"""

import io
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.path import Path
from pyproj import Transformer

from infraplan.catalogue.models import Dataset, GeometryType

from .selectors import NOW, BadRequest, MapMoment, bbox_polygon, records_within
from .styling import dataset_style, feature_colour

MIN_SIDE = 64
MAX_SIDE = 2000
MAX_PIXELS = 2000 * 1500
MAX_FEATURES_PER_LAYER = 20_000
BACKGROUND = "#f3f2f1"
EARTH_RADIUS = 6378137.0
DPI = 100

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


def mercator(lon: float, lat: float) -> tuple[float, float]:
    x = math.radians(lon) * EARTH_RADIUS
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * EARTH_RADIUS
    return x, y


def mercator_inverse(x: float, y: float) -> tuple[float, float]:
    lon = math.degrees(x / EARTH_RADIUS)
    lat = math.degrees(2 * math.atan(math.exp(y / EARTH_RADIUS)) - math.pi / 2)
    return lon, lat


def view_bbox(
    center: tuple[float, float], zoom: float, width: int, height: int
) -> tuple[float, float, float, float]:
    """The WGS84 box a ``width`` x ``height`` web map shows centred on ``center`` at ``zoom``."""
    metres_per_pixel = 2 * math.pi * EARTH_RADIUS / (512 * 2**zoom)
    x, y = mercator(*center)
    half_w, half_h = width / 2 * metres_per_pixel, height / 2 * metres_per_pixel
    west, south = mercator_inverse(x - half_w, y - half_h)
    east, north = mercator_inverse(x + half_w, y + half_h)
    return (max(west, -180), max(south, -85), min(east, 180), min(north, 85))


def view_zoom(bbox: tuple[float, float, float, float], width: int) -> float:
    """The web map zoom (512-pixel tiles, as MapLibre) showing ``bbox`` ``width`` pixels wide."""
    return math.log2(360 * width / (512 * (bbox[2] - bbox[0])))


@dataclass(frozen=True)
class Extent:
    """The Web Mercator box the image shows: the bbox widened to the image's proportions, as the
    interactive map fits bounds."""

    min_x: float
    min_y: float
    max_x: float
    max_y: float

    @classmethod
    def fitting(cls, bbox: tuple[float, float, float, float], width: int, height: int) -> "Extent":
        min_x, min_y = mercator(bbox[0], bbox[1])
        max_x, max_y = mercator(bbox[2], bbox[3])
        scale = max((max_x - min_x) / width, (max_y - min_y) / height)
        centre_x, centre_y = (min_x + max_x) / 2, (min_y + max_y) / 2
        half_w, half_h = scale * width / 2, scale * height / 2
        return cls(centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h)


def view_fitting(
    bbox: tuple[float, float, float, float], width: int, height: int
) -> tuple[tuple[float, float], float]:
    """The centre (WGS84) and web map zoom at which a ``width`` x ``height`` map shows all of
    ``bbox``: the view ``view_bbox`` turns back into the box."""
    extent = Extent.fitting(bbox, width, height)
    centre = mercator_inverse((extent.min_x + extent.max_x) / 2, (extent.min_y + extent.max_y) / 2)
    metres_per_pixel = (extent.max_x - extent.min_x) / width
    return centre, math.log2(2 * math.pi * EARTH_RADIUS / (512 * metres_per_pixel))


def _ring_path(parts: Iterable) -> Path:
    """One matplotlib path for a polygon's rings (holes included, drawn even-odd)."""
    vertices, codes = [], []
    for ring in parts:
        coords = list(ring.coords)
        vertices += coords
        codes += [Path.MOVETO] + [Path.LINETO] * (len(coords) - 2) + [Path.CLOSEPOLY]
    return Path(vertices, codes)


def _draw_layer(axes, dataset: Dataset, bbox, accent: str, moment: MapMoment) -> None:
    style = dataset_style(dataset)
    polygons, polygon_colours, lines, line_colours, points, point_colours = [], [], [], [], [], []
    records = records_within(dataset, bbox_polygon(bbox), moment)
    for count, record in enumerate(records):
        if count == MAX_FEATURES_PER_LAYER or record.geometry is None:
            break
        colour = feature_colour(style, record.properties, default_colour=accent)
        geometry = shapely.transform(shapely.from_wkb(bytes(record.geometry.wkb)), _to_mercator)
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
            PathCollection(polygons, facecolors=polygon_colours, edgecolors="none", alpha=0.15)
        )
        axes.add_collection(
            PathCollection(polygons, facecolors="none", edgecolors=polygon_colours, linewidths=1.2)
        )
    if lines:
        axes.add_collection(LineCollection(lines, colors=line_colours, linewidths=1.5))
    if points:
        xs, ys = zip(*points, strict=True)
        axes.scatter(xs, ys, s=30, c=point_colours, edgecolors="white", linewidths=0.8, zorder=3)


def map_png(
    *,
    datasets: list[Dataset],
    bbox: tuple[float, float, float, float],
    width: int,
    height: int,
    accent: str,
    moment: MapMoment = NOW,
) -> bytes:
    """The view ``bbox`` of ``datasets`` (already permitted), ``width`` x ``height`` pixels, as
    at ``moment`` (each dataset as published on its date, ended features as it says).

    Layers whose minimum zoom is above the view's zoom are left out, as on the interactive map.
    """
    check_size(width, height)
    extent = Extent.fitting(bbox, width, height)
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor=BACKGROUND)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    axes.set_xlim(extent.min_x, extent.max_x)
    axes.set_ylim(extent.min_y, extent.max_y)
    zoom = view_zoom(bbox, width)
    drawn = [dataset for dataset in datasets if dataset.min_zoom <= zoom]
    order = {GeometryType.POLYGON: 0, GeometryType.LINE: 1, GeometryType.POINT: 2}
    for dataset in sorted(drawn, key=lambda d: order.get(d.geometry_type, 3)):
        _draw_layer(axes, dataset, bbox, accent, moment)
    attribution = "; ".join(dict.fromkeys(d.attribution.split("\n")[0] for d in drawn))
    figure.text(
        0.005, 0.005, (attribution or "No layers in this view")[:300],
        fontsize=7, color="#0b0c0c", ha="left", va="bottom", wrap=True,
        bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 2},
    )  # fmt: skip
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND)
    return buffer.getvalue()
