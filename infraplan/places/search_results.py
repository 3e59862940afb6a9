"""What a search returns: its results and outcome, and the map links they open.

The kinds of result and their labels, and the map a result flies to: the layers and moment
chosen (``MapChoice``) and the zoom that fits a result's box. The formats a search understands,
told when it finds nothing, are ``search_examples.search_formats``.
"""

import math
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib.gis.geos import Point, Polygon
from django.http import QueryDict

from infraplan.catalogue.models import Dataset
from infraplan.maps.marker import Marker
from infraplan.maps.selectors import (
    NOW,
    MapMoment,
    boundary_layers,
    moment_or_error,
    requested_layers,
)

from .search_examples import search_formats

# The boundary datasets whose features search offers as areas, by slug, in the order results
# list them; features of every other dataset come after them. A parish before a ward: a parish
# is the town or village of its name, where a ward of that name is an electoral division named
# after a street or a part of a town ("Bridge": the village's parish, before the wards called
# Bridge in two towns).
AREA_DATASETS = {
    "districts": ("district", "District"),
    "parishes": ("parish", "Parish"),
    "wards": ("ward", "Ward"),
}
# Zooms the map flies to: a postcode or typed point, and the limits for a fitted box.
POINT_ZOOM = 16
MIN_ZOOM, MAX_ZOOM = 6, 17
# The view a fitted box must fit in, in CSS pixels (the map panel on a laptop screen).
VIEW_WIDTH, VIEW_HEIGHT = 800, 600

KIND_LABELS = {
    "postcode": "Postcode",
    "postcode-area": "Postcode area",
    "grid-reference": "Grid reference",
    "eastings-northings": "Eastings and northings",
    "latitude-longitude": "Latitude and longitude",
    "feature": "Feature",
    "town": "Town",
    "county": "County",
    "group": "Area",
    **dict(AREA_DATASETS.values()),
}


@dataclass(frozen=True)
class SearchResult:
    label: str
    kind: str  # one of KIND_LABELS' keys
    kind_label: str
    point: tuple[float, float]  # WGS84 lon, lat
    bbox: tuple[float, float, float, float] | None  # WGS84 min lon, min lat, max lon, max lat
    map_url: str
    detail: str = ""
    dataset: dict[str, str] | None = None  # {slug, title} of the feature's dataset
    feature_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        result = asdict(self)
        result["point"] = {"lon": self.point[0], "lat": self.point[1]}
        result["bbox"] = list(self.bbox) if self.bbox else None
        return result


@dataclass(frozen=True)
class SearchOutcome:
    query: str
    results: list[SearchResult]
    error: str = ""  # why the text, which looks like coordinates, is not a place
    # The datasets whose features are among the results (reads of restricted ones are audited).
    datasets: tuple[Dataset, ...] = ()
    # Whether the results stopped at the limit, with others left unlisted.
    more: bool = False
    note: str = ""  # how the results answer the query, where they answer only part of it
    # With an error, places the query may have been meant for, to choose from: the map is not
    # moved to any (the postcodes one character away from one that does not exist).
    suggestions: tuple[SearchResult, ...] = ()

    @property
    def more_message(self) -> str:
        if not self.more:
            return ""
        if all(result.kind == "postcode" for result in self.results):
            return (
                f"Only the first {len(self.results)} are listed: type more of the postcode to "
                "find others."
            )
        return (
            f"Only the first {len(self.results)} are listed: add a word, such as a town or a "
            "kind of place, to find others."
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "results": [result.as_json() for result in self.results],
            "more": self.more_message or None,
            "note": self.note or None,
            "error": self.error or None,
            "suggestions": [suggestion.as_json() for suggestion in self.suggestions],
            "message": None if self.results or not self.query else nothing_found(self.query),
            "formats": search_formats(),
        }


def nothing_found(query: str) -> str:
    return f"Nothing found for “{query}”. Search for " + "; ".join(search_formats()) + "."


def rounded(values: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(round(value, 6) for value in values)


def lon_lat_of(point: Point) -> tuple[float, float]:
    moved = point.transform(4326, clone=True)
    return rounded((moved.x, moved.y))


def _zoom_to_fit(bbox: tuple[float, float, float, float]) -> float:
    """The web-map zoom at which ``bbox`` fills a VIEW_WIDTH by VIEW_HEIGHT view."""
    west, south, east, north = bbox

    def mercator_y(latitude: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(latitude) / 2))

    width = max(math.radians(east - west), 1e-9)
    height = max(mercator_y(north) - mercator_y(south), 1e-9)
    zoom = min(
        math.log2(2 * math.pi * VIEW_WIDTH / (256 * width)),
        math.log2(2 * math.pi * VIEW_HEIGHT / (256 * height)),
    )
    return round(max(MIN_ZOOM, min(MAX_ZOOM, zoom)), 2)


@dataclass(frozen=True)
class MapChoice:
    """What was chosen on the map a search comes from: its layers (None: the map's defaults)
    and moment. The links of the results open the map with them."""

    layers: tuple[str, ...] | None = None
    moment: MapMoment = NOW

    @classmethod
    def from_query(cls, query: QueryDict) -> "MapChoice":
        """The choice a query string carries; a date the map could not use is left out (the
        map, and the names searched, as of now)."""
        layers = requested_layers(query)
        moment, _ = moment_or_error(query)
        return cls(layers=None if layers is None else tuple(layers), moment=moment)

    def query(self) -> dict[str, str]:
        """The URL parameters that keep the choice."""
        layers = {} if self.layers is None else {"layers": ",".join(self.layers)}
        return {**layers, **self.moment.query()}

    def map_url(
        self,
        point: tuple[float, float],
        bbox: tuple[float, float, float, float] | None,
        *,
        label: str,
        layer: str | None = None,
        feature_id: int | None = None,
    ) -> str:
        """A /map/ link centred on ``point`` and zoomed to ``bbox`` (or a street-level zoom),
        with the chosen layers, the layer of a feature switched on and its pop-up open, and
        ``point`` marked as ``label`` (the map without WebGL draws the mark on its picture)."""
        parameters = {
            "center": f"{point[0]:.5f},{point[1]:.5f}",
            "zoom": f"{_zoom_to_fit(bbox) if bbox else POINT_ZOOM:g}",
            **self.query(),
        }
        if layer:
            chosen = boundary_layers() if self.layers is None else self.layers
            parameters["layers"] = ",".join(dict.fromkeys([*chosen, layer]))
        if layer and feature_id is not None:
            parameters["feature"] = f"{layer}/{feature_id}"
        parameters.update(Marker.at(*point, label).query())
        return "/map/?" + urlencode(parameters)


def point_result(
    kind: str, label: str, point: Point, choice: MapChoice, detail: str = ""
) -> SearchResult:
    lon_lat = lon_lat_of(point)
    return SearchResult(
        label=label, kind=kind, kind_label=KIND_LABELS[kind], point=lon_lat, bbox=None,
        map_url=choice.map_url(lon_lat, None, label=label), detail=detail,
    )  # fmt: skip


def box_result(
    kind: str, label: str, box: tuple[float, ...], choice: MapChoice, detail: str = ""
) -> SearchResult:
    """A result for a box in EPSG:27700: centred on the box, zoomed to fit it."""
    polygon = Polygon.from_bbox(box)
    polygon.srid = 27700
    wgs84 = polygon.transform(4326, clone=True)
    bbox = rounded(wgs84.extent)
    point = lon_lat_of(polygon.centroid)
    return SearchResult(
        label=label, kind=kind, kind_label=KIND_LABELS[kind], point=point, bbox=bbox,
        map_url=choice.map_url(point, bbox, label=label), detail=detail,
    )  # fmt: skip
