"""Reads for the map viewer: which layers a user may see, how to draw them, and what is in a view.

Every read starts from the one gate, ``Dataset.objects.permitting(user, "view")``.
"""

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from functools import cached_property
from typing import Any, NamedTuple

import shapely
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, Polygon
from django.core.validators import slug_re
from django.db.models import OuterRef, Subquery
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from pyproj import Transformer

from infraplan.catalogue.access import Action
from infraplan.catalogue.dataset_page import value_text
from infraplan.catalogue.history import (
    FUTURE_DATE,
    as_of_in_future,
    as_of_parse,
    version_as_of,
)
from infraplan.catalogue.models import Dataset, DatasetVersion, GeometryType
from infraplan.catalogue.sources import FeatureRecord, FeatureSource, source_for
from infraplan.catalogue.store import StoreFeatureSource, current_features
from infraplan.catalogue.styles import SimpleStyle, style_legend
from infraplan.core.coordinates import GRID_EASTING_MAX, GRID_NORTHING_MAX

from .ended import END_DATE_PROPERTIES, LiveOn, ended_on
from .styling import colour_expression, dataset_style, feature_class, fill_opacity, label_field_of
from .tiles import tile_version
from .viewport import (
    FALLBACK_SIZE,
    MAX_LATITUDE,
    Box,
    usable_bbox,
    view_bbox,
    view_fitting,
)
from .web_addresses import web_address

# Labels of a layer with more features than this start at LABEL_DENSE_ZOOM (wards from about
# zoom 11), so a county-wide view is not buried under a thousand names.
LABEL_SPARSE_LIMIT = 50
LABEL_DENSE_ZOOM = 11
MAX_LABELS = 400


# EPSG:27700's area of use (west, south, east, north), in degrees, as the EPSG register gives it.
BNG_AREA_OF_USE = (-9.01, 49.75, 2.01, 61.01)
_WGS84_TO_GRID = Transformer.from_crs(4326, 27700, always_xy=True)


class BadRequest(ValueError):
    """Input that cannot be used; the message says which and why, for the user of a link or
    the API (naming the parameter). ``for_field``, where the value can also come from a page's
    form field, says the same in that field's words."""

    def __init__(self, message: str, *, for_field: str | None = None) -> None:
        super().__init__(message)
        self.for_field = for_field or message


@dataclass(frozen=True)
class MapMoment:
    """When the map is looking: each dataset as published on ``as_of`` (None: now), and whether
    features their source says have ended (``END_DATE_PROPERTIES``) are shown."""

    as_of: date | None = None
    show_ended: bool = False

    @property
    def day(self) -> date:
        """The day features are judged ended on: the date shown."""
        return self.as_of or timezone.localdate()

    def query(self) -> dict[str, str]:
        """The URL parameters that restore this moment (none for now, ended hidden)."""
        query = {}
        if self.as_of:
            query["as_of"] = self.as_of.isoformat()
        if self.show_ended:
            query["ended"] = "show"
        return query

    def suffix(self, separator: str = "?") -> str:
        query = self.query()
        return f"{separator}{urlencode(query)}" if query else ""


NOW = MapMoment()


def parse_moment(query: Mapping[str, str]) -> MapMoment:
    """``as_of=YYYY-MM-DD`` and ``ended=show`` from a query string; a date after today is today."""
    try:
        as_of = as_of_parse(query.get("as_of") or "")
    except ValueError as problem:
        raise BadRequest(str(problem)) from None
    return MapMoment(as_of=as_of, show_ended=query.get("ended") == "show")


def moment_or_error(query: Mapping[str, str]) -> tuple[MapMoment, str | None]:
    """The moment ``query`` asks for, or now (ended features as asked) and why its date cannot
    be used: for the pages, whose date field explains what it cannot show. A day to come is
    one: tiles and the API show it as now (nothing has been published since), but a page that
    emptied the field and showed today would leave the person who typed it wondering why."""
    try:
        moment = parse_moment(query)
    except BadRequest as problem:
        return MapMoment(show_ended=query.get("ended") == "show"), str(problem)
    # parse_moment read it as now: empty, today or (checked here) a day to come.
    if as_of_in_future(query.get("as_of") or ""):
        return moment, FUTURE_DATE
    return moment, None


def is_ended(properties: Mapping[str, Any], moment: MapMoment) -> bool:
    return not LiveOn(moment.day)(properties)


def source_at(dataset: Dataset, moment: MapMoment) -> FeatureSource | None:
    """The source of ``dataset`` as published on the moment's date; None when nothing had been
    published then. Sources other than the feature store keep no history: they answer as now."""
    source = source_for(dataset)
    if moment.as_of is None or dataset.source_key != StoreFeatureSource.key:
        return source
    version = version_as_of(dataset, moment.as_of)
    return StoreFeatureSource.at_version(version.number) if version else None


def records_within(
    dataset: Dataset, box: GEOSGeometry, moment: MapMoment
) -> Iterator[FeatureRecord]:
    """The features of ``dataset`` meeting ``box`` (EPSG:27700) at ``moment``, ended ones only
    when it shows them."""
    source = source_at(dataset, moment)
    if source is None:
        return
    for record in source.features_within(dataset, box):
        if moment.show_ended or not is_ended(record.properties, moment):
            yield record


# What is wrong with a box, in the words of the features table's field "Area": the same as
# for a link's ``bbox``, without naming the parameter.
AREA_NOT_FOUR_NUMBERS = (
    "Enter the area as four numbers: west, south, east, north in degrees, or the minimum "
    "easting, northing, maximum easting, northing in metres"
)
# The order a box's edges are given in, said after what is wrong with it.
DEGREES_ORDER = "give west, south, east, north"


def box_error(message: str) -> BadRequest:
    """``message`` for a link's ``bbox`` (naming it), and for the table's field (as a
    sentence of its own)."""
    return BadRequest(f"bbox: {message}", for_field=message[:1].upper() + message[1:])


def box_numbers(value: str) -> tuple[list[str], list[float]]:
    """The four parts of a box ``value`` as given (stripped) and as finite numbers; raises
    BadRequest saying what it is not."""
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 4:
        raise BadRequest(
            f"bbox: expected four numbers minlon,minlat,maxlon,maxlat, got {len(parts)} part(s)",
            for_field=AREA_NOT_FOUR_NUMBERS,
        )
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if not numbers or not all(math.isfinite(number) for number in numbers):
        raise BadRequest(
            f"bbox: {value!r} is not four comma-separated numbers", for_field=AREA_NOT_FOUR_NUMBERS
        ) from None
    return parts, numbers


def degrees_box(parts: list[str], numbers: list[float]) -> tuple[float, float, float, float]:
    """The box of four numbers read as west, south, east, north in degrees; raises BadRequest
    naming the edge that cannot be, as given (``parts``)."""
    west, south, east, north = numbers
    edges = dict(zip(("west", "south", "east", "north"), parts, strict=True))
    for edge, number in (("west", west), ("east", east)):
        if not -180 <= number <= 180:
            raise box_error(
                f"the {edge} edge ({edges[edge]}) must be a longitude between -180 and 180 degrees"
            )
    if west >= east:
        raise box_error(
            f"the west edge ({edges['west']}) must be less than the east edge "
            f"({edges['east']}): {DEGREES_ORDER}"
        )
    for edge, number in (("south", south), ("north", north)):
        if not -MAX_LATITUDE <= number <= MAX_LATITUDE:
            raise box_error(
                f"the {edge} edge ({edges[edge]}) must be a latitude between "
                f"-{MAX_LATITUDE:g} and {MAX_LATITUDE:g} degrees"
            )
    if south >= north:
        raise box_error(
            f"the south edge ({edges['south']}) must be less than the north edge "
            f"({edges['north']}): {DEGREES_ORDER}"
        )
    return west, south, east, north


def parse_bbox(value: str | None) -> tuple[float, float, float, float]:
    """``minlon,minlat,maxlon,maxlat`` in WGS84; the authority's map extent when absent. What
    cannot be a box is explained edge by edge ("the west edge (1.2) must be less than ...")."""
    if not value:
        return tuple(settings.AUTHORITY_PROFILE.map.bounds)
    return degrees_box(*box_numbers(value))


def parse_layers(value: str | list[str] | None) -> list[str] | None:
    """Slugs from ``layers=a,b`` (or repeated ``layers``); None when the parameter is absent.
    What cannot be a slug (a NUL, say, which PostgreSQL refuses in text) names no layer."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    slugs = [slug.strip() for item in items for slug in item.split(",")]
    return list(dict.fromkeys(slug for slug in slugs if slug_re.match(slug)))


def requested_layers(query: QueryDict) -> list[str] | None:
    """The slugs of ``layers``, as ``a,b`` (links) or repeated (the forms' checkboxes); None
    when the query has no ``layers`` (the map's defaults)."""
    if "layers" not in query:
        return None
    return parse_layers(query.getlist("layers"))


# A layer's opacity in per cent, as the map's sliders give it (0 to 100 in steps of 10:
# map.html); the map's URL names only the layers turned down from full
# (``opacity=slug:percent,...``).
FULL_OPACITY = 100
OPACITY_STEP = 10
PERCENT = re.compile(r"[0-9]{1,3}")


def parse_opacities(value: str | None) -> dict[str, int]:
    """Each layer's opacity from ``opacity=slug:percent,...``. What cannot be one (not a slug,
    not a value of the slider) is ignored, as a stale or mistyped view is: the link still
    opens the map, that layer at full opacity."""
    opacities = {}
    for item in (value or "").split(","):
        slug, _, percent = item.strip().partition(":")
        if (
            slug_re.match(slug)
            and PERCENT.fullmatch(percent)
            and int(percent) <= FULL_OPACITY
            and int(percent) % OPACITY_STEP == 0
        ):
            opacities[slug] = int(percent)
    return opacities


def bbox_polygon(bbox: tuple[float, float, float, float]) -> GEOSGeometry:
    """The WGS84 box as a polygon in EPSG:27700, the store's coordinates.

    The box is first cut to the grid's area of use (Great Britain and its waters, where every
    stored feature lies): a box reaching far beyond it cannot be transformed. Its edges are
    transformed point by point every tenth of a degree, since a long straight edge in
    longitude and latitude is a curve on the grid; transforming the corners alone would cut
    off features near the middle of a wide box's edges."""
    west, south, east, north = bbox
    use_west, use_south, use_east, use_north = BNG_AREA_OF_USE
    west, south = max(west, use_west), max(south, use_south)
    east, north = min(east, use_east), min(north, use_north)
    if west >= east or south >= north:
        return GEOSGeometry("POLYGON EMPTY", srid=27700)
    edges = shapely.segmentize(shapely.box(west, south, east, north), max_segment_length=0.1)
    on_grid = shapely.transform(edges, _WGS84_TO_GRID.transform, interleaved=False)
    return GEOSGeometry(memoryview(shapely.to_wkb(on_grid)), srid=27700)


def on_grid(polygon: GEOSGeometry) -> GEOSGeometry:
    """The part of ``polygon`` (EPSG:27700) within the grid's extent, where every stored
    feature lies: a box given in metres may reach far beyond it, where no point has a
    longitude and latitude to show it by."""
    extent = Polygon.from_bbox((0, 0, GRID_EASTING_MAX, GRID_NORTHING_MAX))
    extent.srid = 27700
    return polygon.intersection(extent)


def boundary_layers() -> list[str]:
    """The datasets the profile names as the boundaries of its areas, by slug: on when the map
    opens, and kept on by links that open it on another layer."""
    return sorted({area.boundary.dataset for area in settings.AUTHORITY_PROFILE.areas})


def visible_spatial_datasets(user: Any):
    """The spatial datasets ``user`` may see that have a current version, with its number read
    in the same query (tile URLs and the store name it for every layer): the map's layers and
    the OGC API's collections."""
    return (
        Dataset.objects.permitting(user, Action.VIEW)
        .exclude(geometry_type=GeometryType.NONE)
        .filter(versions__is_current=True)
        .with_current_version_number()
        .order_by("theme", "title")
    )


@dataclass(frozen=True)
class MapLayer:
    slug: str
    title: str
    theme: str
    geometry_type: str
    min_zoom: int
    attribution: str
    tiles: str
    colour: Any  # a MapLibre colour expression built from the dataset's style
    fill_opacity: float  # of a polygon layer's fill, at full opacity (``styling.fill_opacity``)
    has_end_dates: bool  # a field of its features' end dates: those ended are hidden by default
    legend: list[dict[str, str]]
    visible: bool
    labels: str | None  # the label endpoint, for layers with a label field
    label_field: str | None  # carried in the tiles: names a feature among others at a point
    label_min_zoom: int
    published: bool  # False when the date shown is before the dataset's first publish
    feature_count: int  # of the current version: the map draws finer areas over coarser ones
    opacity: int  # per cent, as its slider starts (the URL's ``opacity``)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def map_layers_for(
    user: Any,
    requested: list[str] | None = None,
    moment: MapMoment = NOW,
    opacities: Mapping[str, int] | None = None,
) -> list[MapLayer]:
    """The spatial datasets ``user`` may see, with a published version, as map layers at
    ``moment`` (their tile and label URLs carry it), each at its opacity in ``opacities``
    (fully opaque when it is not there).

    Visible at first: those ``requested`` (the URL's ``layers``), or when nothing is requested,
    the authority's area boundaries; every other layer waits to be switched on.
    """
    accent = settings.AUTHORITY_PROFILE.branding.accent_colour
    on = set(requested) if requested is not None else set(boundary_layers())
    layers = []
    # Only the current version's count: every version's report (thousands of problems each)
    # would be read for every layer on every map page.
    current = DatasetVersion.objects.filter(dataset=OuterRef("pk"), is_current=True).order_by()
    visible = visible_spatial_datasets(user).annotate(
        current_feature_count=Subquery(current.values("feature_count")[:1])
    )
    for dataset in visible:
        template = reverse("tile", kwargs={"slug": dataset.slug, "z": 0, "x": 0, "y": 0})
        template = template.replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")
        style = dataset_style(dataset)
        label = label_field_of(dataset)
        count = dataset.current_feature_count or 0
        source = source_at(dataset, moment)
        version = tile_version(dataset, source) if source else "none"
        labels = reverse("map-labels", kwargs={"slug": dataset.slug}) if label else None
        layers.append(
            MapLayer(
                slug=dataset.slug,
                title=dataset.title,
                theme=dataset.get_theme_display(),
                geometry_type=dataset.geometry_type,
                min_zoom=dataset.min_zoom,
                attribution=dataset.attribution,
                tiles=f"{template}?v={version}{moment.suffix('&')}",
                colour=colour_expression(style, default_colour=accent),
                fill_opacity=fill_opacity(style),
                has_end_dates=any(
                    entry.get("name") in END_DATE_PROPERTIES for entry in dataset.field_schema
                ),
                legend=[
                    {"colour": colour, "label": text}
                    for colour, text in style_legend(style, default_colour=accent)
                ],
                visible=dataset.slug in on,
                labels=f"{labels}{moment.suffix()}" if labels else None,
                label_field=label,
                label_min_zoom=max(
                    dataset.min_zoom, 0 if count <= LABEL_SPARSE_LIMIT else LABEL_DENSE_ZOOM
                ),
                published=source is not None,
                feature_count=count,
                opacity=(opacities or {}).get(dataset.slug, FULL_OPACITY),
            )
        )
    return layers


@dataclass(frozen=True)
class LayerGroup:
    theme: str
    layers: list[MapLayer]

    @property
    def open(self) -> bool:
        """Shown open when one of its layers is on."""
        return any(layer.visible for layer in self.layers)


def layer_groups(layers: list[MapLayer]) -> list[LayerGroup]:
    """Layers grouped by theme, in the order given."""
    groups: dict[str, list[MapLayer]] = {}
    for layer in layers:
        groups.setdefault(layer.theme, []).append(layer)
    return [LayerGroup(theme, members) for theme, members in groups.items()]


def permitted_dataset(user: Any, slug: str) -> Dataset | None:
    """The dataset ``slug`` if ``user`` may view it (its source decides what it holds)."""
    return Dataset.objects.permitted_get(user, slug, Action.VIEW)


# The dataset features are given their ward from (catalogue.ingest places them by it).
WARDS = "wards"


def _ward_name(code: str) -> str:
    """The name of the ward ``code``, from the wards dataset; empty if it is not there."""
    wards = Dataset.objects.filter(slug=WARDS).first()
    label = label_field_of(wards) if wards else None
    if label is None:
        return ""
    properties = (
        current_features(wards).filter(reference=code).values_list("properties", flat=True).first()
    )
    return str(properties.get(label) or "") if properties else ""


def _area_name(code: str) -> str:
    area = next((area for area in settings.AUTHORITY_PROFILE.areas if area.code == code), None)
    return area.name if area else ""


def live_feature(
    dataset: Dataset, feature_id: int, moment: MapMoment = NOW
) -> FeatureRecord | None:
    """The feature ``feature_id`` of a permitted dataset as it was at ``moment``; None if it
    has none, or it had ended then and the moment does not show ended features."""
    source = source_at(dataset, moment)
    record = source.feature(dataset, feature_id) if source else None
    if record is None or (is_ended(record.properties, moment) and not moment.show_ended):
        return None
    return record


FEATURE_NOT_AVAILABLE = (
    "This feature is not available: it may have been removed, or you may not have access to it."
)


@dataclass(frozen=True)
class EndedFeature:
    """A feature a moment hides only because it had ended: what a link to it is told."""

    label: str
    ended: date

    @property
    def message(self) -> str:
        return (
            f"{self.label} ended on {self.ended:%-d %B %Y}. Features that have ended are hidden "
            "unless ended features are shown."
        )


def hidden_as_ended(dataset: Dataset, feature_id: int, moment: MapMoment) -> EndedFeature | None:
    """The feature ``feature_id`` of a permitted dataset when ``moment`` hides it because it had
    ended by then (a link made before it ended, say); None when the moment shows ended features
    or the feature is hidden for another reason (gone, not yet published)."""
    if moment.show_ended:
        return None
    source = source_at(dataset, moment)
    record = source.feature(dataset, feature_id) if source else None
    if record is None or not is_ended(record.properties, moment):
        return None
    return EndedFeature(label=feature_label(dataset, record), ended=ended_on(record.properties))


def feature_detail(
    dataset: Dataset, feature_id: int, moment: MapMoment = NOW
) -> dict[str, Any] | None:
    """A feature of a permitted dataset live at ``moment`` as the pop-up shows it, or None (an
    ended feature only when the moment shows ended features).

    Properties are listed in the order of the dataset's field schema, each with its title;
    properties outside the schema follow under their own names.
    """
    record = live_feature(dataset, feature_id, moment)
    if record is None:
        return None
    ended = ended_on(record.properties)
    titles = {field["name"]: field.get("title") or field["name"] for field in dataset.field_schema}
    ordered = [name for name in titles if name in record.properties]
    ordered += sorted(name for name in record.properties if name not in titles)
    point = (
        record.geometry.point_on_surface.transform(4326, clone=True) if record.geometry else None
    )
    detail = {
        "id": record.id,
        "dataset": {"slug": dataset.slug, "title": dataset.title},
        "point": {"lon": round(point.x, 6), "lat": round(point.y, 6)} if point else None,
        "reference": record.reference,
        "label": feature_label(dataset, record),
        "properties": [
            {"name": name, "title": titles.get(name, name), "value": record.properties[name]}
            for name in ordered
        ],
        "district": {"code": record.district, "name": _area_name(record.district)}
        if record.district
        else None,
        "ward": {"code": record.ward, "name": _ward_name(record.ward)} if record.ward else None,
        "ended": ended.isoformat() if ended and ended <= moment.day else None,
    }
    return {**detail, "rows": _detail_rows(detail)}


class DetailRow(NamedTuple):
    """A row of a feature's details: its title and value as text, and where the value is a web
    address (``web_addresses.web_address``), that address, which is shown as a link. In the
    pop-up's JSON, ``[key, value, href]``."""

    key: str
    value: str
    href: str | None


def _detail_rows(detail: dict[str, Any]) -> list[DetailRow]:
    """The rows a feature's details are listed in by its pop-up and its page alike."""
    rows = [("Reference", detail["reference"])]
    rows += [(item["title"], item["value"]) for item in detail["properties"]]
    if detail["district"]:
        rows.append(("District", detail["district"]["name"] or detail["district"]["code"]))
    if detail["ward"]:
        rows.append(("Ward", detail["ward"]["name"] or detail["ward"]["code"]))
    if detail["ended"]:
        rows.insert(0, ("Ended", detail["ended"]))
    texts = [
        (key, json.dumps(value) if isinstance(value, dict | list) else value_text(value))
        for key, value in rows
    ]
    # A value of spaces alone (a source's blank Welsh name, " ") says no more than no value:
    # left out as that is. Downloads keep it as the source gave it.
    return [DetailRow(key, text, web_address(text)) for key, text in texts if text.strip()]


def feature_label(dataset: Dataset, record: FeatureRecord) -> str:
    """What a feature is called: its label field's value, or else its reference."""
    field = label_field_of(dataset)
    value = record.properties.get(field) if field else None
    return str(value) if value not in (None, "") else record.reference


def labels_in(
    dataset: Dataset, bbox: tuple[float, float, float, float], moment: MapMoment = NOW
) -> list[dict[str, Any]]:
    """Label points (a point inside each feature, WGS84) and texts of the features in ``bbox``
    at ``moment``."""
    labels = []
    for record in records_within(dataset, bbox_polygon(bbox), moment):
        point = record.geometry.point_on_surface.transform(4326, clone=True)
        labels.append(
            {
                "id": record.id,
                "text": feature_label(dataset, record),
                "lon": round(point.x, 6),
                "lat": round(point.y, 6),
            }
        )
        if len(labels) == MAX_LABELS:
            break
    return labels


@dataclass(frozen=True)
class ViewRow:
    """One feature of the "features in this view" table."""

    slug: str  # the layer's dataset and the feature's id, for the link to its details
    feature_id: int
    layer: str
    reference: str
    label: str
    district: str
    ended: date | None = None  # when the feature ended, for ended features shown
    shown_as: str = ""  # the legend's class it is drawn in: its colour, said in words


class ViewRows:
    """The rows of the features-in-view table: each layer's features in reference order, layer
    after layer. Django's Paginator takes it as its list: the count and each page are asked of
    the layers' sources (in SQL for the feature store), so no more than a page is ever read."""

    def __init__(
        self, layers: list[tuple[Dataset, FeatureSource]], box: GEOSGeometry, moment: MapMoment
    ) -> None:
        self.layers = layers
        self.box = box
        self.moment = moment
        self.keep = None if moment.show_ended else LiveOn(moment.day)
        self.styles = {dataset.pk: dataset_style(dataset) for dataset, _ in layers}

    @cached_property
    def counts(self) -> list[int]:
        return [
            source.count_within(dataset, self.box, self.keep) for dataset, source in self.layers
        ]

    def count(self) -> int:
        return sum(self.counts)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, items: slice) -> list[ViewRow]:
        start, stop, _ = items.indices(self.count())
        rows, first = [], 0  # first: the position of the layer's first row in the table
        for (dataset, source), count in zip(self.layers, self.counts, strict=True):
            low, high = max(start, first), min(stop, first + count)
            if low < high:
                records = source.page_within(
                    dataset, self.box, offset=low - first, limit=high - low, keep=self.keep
                )
                rows += [self._row(dataset, record) for record in records]
            first += count
        return rows

    def _row(self, dataset: Dataset, record: FeatureRecord) -> ViewRow:
        ended = ended_on(record.properties)
        return ViewRow(
            slug=dataset.slug,
            feature_id=record.id,
            layer=dataset.title,
            reference=record.reference,
            label=feature_label(dataset, record),
            district=_area_name(record.district) or record.district,
            ended=ended if ended and ended <= self.moment.day else None,
            shown_as=feature_class(self.styles[dataset.pk], record.properties),
        )

    @property
    def classed(self) -> bool:
        """Whether a layer listed is drawn in classes (categorised or graduated), whose names
        the table then gives: the map shows them by colour alone."""
        return any(not isinstance(style, SimpleStyle) for style in self.styles.values())


@dataclass(frozen=True)
class ViewTable:
    """What the features-in-view table shows of the chosen layers: the rows of those listed at
    the view's zoom, and the layers the map would not draw at that zoom (``far``)."""

    rows: ViewRows
    listed: list[Dataset]
    far: list[Dataset]
    zoom: float


def table_zoom(bbox: Box) -> float:
    """The zoom of a map of the links' size (``FALLBACK_SIZE``) showing all of ``bbox``, to a
    tenth (a box written to five decimal places is a hair wider than the view it came from)."""
    return round(view_fitting(bbox, *FALLBACK_SIZE)[1], 1)


def features_in_view(
    datasets: list[Dataset], bbox: Box, moment: MapMoment = NOW, box: GEOSGeometry | None = None
) -> ViewTable:
    """The features of ``datasets`` (already permitted) meeting ``bbox`` at ``moment``, layer by
    layer, as a table lists them; ``box`` (EPSG:27700) the area they must meet instead, when it
    was given on the grid (``bbox`` then the WGS84 box that holds it).

    A layer whose minimum zoom is above the view's zoom is not listed, as the map does not draw
    it there: the table is the map's text alternative, and says so (``far``) so that the reader
    can zoom in. Layers with nothing published at ``moment`` are listed with no rows."""
    zoom = table_zoom(bbox)
    listed = [dataset for dataset in datasets if dataset.min_zoom <= zoom]
    sources = [(dataset, source_at(dataset, moment)) for dataset in listed]
    box = bbox_polygon(bbox) if box is None else box
    rows = ViewRows([pair for pair in sources if pair[1]], box, moment)
    far = [dataset for dataset in datasets if dataset.min_zoom > zoom]
    return ViewTable(rows=rows, listed=listed, far=far, zoom=zoom)


def closer_bbox(bbox: Box, zoom: float) -> Box:
    """The middle of ``bbox`` as a map of the links' size shows it at ``zoom``: where to look
    for a layer the table does not list at the view's zoom."""
    centre, _ = view_fitting(bbox, *FALLBACK_SIZE)
    return usable_bbox(view_bbox(centre, zoom, *FALLBACK_SIZE))


def unmapped_datasets(user: Any, requested: list[str] | None) -> list[Dataset]:
    """The requested datasets ``user`` may see that have no geometry (lists, not layers), in
    title order: the table, asked for them, says where they can be read instead."""
    if not requested:
        return []
    return list(
        Dataset.objects.permitting(user, Action.VIEW)
        .filter(geometry_type=GeometryType.NONE, slug__in=requested)
        .order_by("title")
    )


def requested_datasets(user: Any, requested: list[str] | None) -> list[Dataset]:
    """The requested spatial datasets ``user`` may see (or the default boundaries), in the
    map's order; slugs the user may not see are dropped as if they did not exist."""
    slugs = set(requested) if requested is not None else set(boundary_layers())
    return list(visible_spatial_datasets(user).filter(slug__in=slugs))
