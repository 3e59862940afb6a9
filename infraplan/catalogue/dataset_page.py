"""Everything a dataset's page shows: its metadata (UK GEMINI's elements), fields with example
values, extent and extent map, legend, and the first page of its versions.

The dataset must already have passed the gate (``selectors.dataset_visible``).
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from typing import Any

from django.conf import settings
from django.contrib.gis.db.models import Extent
from django.core.paginator import Page, Paginator
from django.db.models import Func, Q, Subquery, TextField
from django.utils import timezone

from infraplan.maps.ended import END_DATE_PROPERTIES, EndedBy, LiveOn

from .access import Action, dataset_permits
from .fields import FIELD_TYPE_NAMES
from .models import Dataset, DatasetVersion, Feature, GeometryType, Theme, VersionState
from .publishing import version_extent_record
from .selectors import (
    DataAge,
    dataset_data_age,
    dataset_last_fetched,
    versions_listed,
    versions_unpublished_shown,
)
from .sources import FeatureRecord, source_for
from .store import StoreFeatureSource, current_features, live_at
from .styles import StyleError, style_legend, style_parse

# ISO 19115 MD_TopicCategoryCode for each theme: the "topic category" UK GEMINI asks for.
TOPIC_CATEGORIES: dict[str, str] = {
    Theme.HOUSING_GROWTH: "planningCadastre",
    Theme.EDUCATION: "society",
    Theme.HEALTH: "health",
    Theme.TRANSPORT: "transportation",
    Theme.UTILITIES: "utilitiesCommunication",
    Theme.GREEN_INFRASTRUCTURE: "environment",
    Theme.FLOOD: "inlandWaters",
    Theme.COMMUNITY: "society",
    Theme.DESIGNATIONS: "planningCadastre",
    Theme.BOUNDARIES: "boundaries",
    Theme.DEMOGRAPHICS: "society",
}


SAMPLE_SIZE = 200  # features read to find example values
SAMPLE_SCAN = 2000  # at most this many are read to find them among features that have ended
EXAMPLES_PER_FIELD = 3
EXAMPLE_LENGTH = 60  # characters of an example value shown, the rest cut to an ellipsis
FIRST_ROWS = 10  # rows shown for a dataset without geometry
OUTLINE_KINDS = {"district", "unitary"}  # profile areas drawn under the extent map
EXTENT_MAP_PIXELS = 400  # the outlines are simplified to about a pixel at this width
VERSIONS_PER_PAGE = 25


@dataclass(frozen=True)
class FieldInfo:
    name: str
    title: str
    type: str
    examples: list[str]

    @property
    def type_name(self) -> str:
        """The type as the rest of the platform words it ("Whole number", not "integer")."""
        return FIELD_TYPE_NAMES.get(self.type, self.type)


@dataclass(frozen=True)
class Extent2D:
    """A bounding box: (min x, min y, max x, max y)."""

    min_x: float
    min_y: float
    max_x: float
    max_y: float


@dataclass(frozen=True)
class ExtentMap:
    """A server-drawn map of a dataset's extent over the area's outlines (SVG, BNG metres)."""

    view_box: str
    outlines: list[str]  # SVG path data, y pointing down (negated northings)
    box: tuple[float, float, float, float]  # the dataset's extent: SVG x, y, width, height


@dataclass(frozen=True)
class LegendEntry:
    colour: str
    label: str


@dataclass(frozen=True)
class ResponsibleParty:
    """An organisation responsible for the dataset and its ISO 19115 role (CI_RoleCode), as
    UK GEMINI's "responsible organisation" asks."""

    name: str
    role: str


@dataclass
class DatasetPage:
    dataset: Dataset
    topic_category: str
    responsible: list[ResponsibleParty]
    versions: Page  # of the versions, newest first (``VERSIONS_PER_PAGE`` a page)
    feature_count: int | None
    fields: list[FieldInfo]
    # How old its data are today, whatever date the page is shown as of: its dates are today's.
    data_age: DataAge
    # Of ``feature_count``, how many their source says had ended by ``day`` (left out of the
    # map, the table and downloads unless asked for); None where not known.
    ended_count: int | None = None
    day: date | None = None
    extent_bng: Extent2D | None = None
    extent_wgs84: Extent2D | None = None
    # What a map opened on the dataset fits: the extent of its features placed in a district
    # where there are any (not one flagged far outside them), else extent_wgs84.
    map_extent_wgs84: Extent2D | None = None
    extent_map: ExtentMap | None = None
    first_rows: list[list[str]] = field(default_factory=list)
    legend: list[LegendEntry] = field(default_factory=list)
    style_error: str = ""
    can_manage: bool = False
    can_contribute: bool = False  # loads into it: sees its loads never published
    # The versions listed skip numbers: loads never published, which the user does not see.
    unpublished_left_out: bool = False

    @property
    def is_spatial(self) -> bool:
        return self.dataset.geometry_type != GeometryType.NONE


def dataset_page(
    user: Any, dataset: Dataset, *, as_of: DatasetVersion | None = None, on: date | None = None,
    versions_page: str | None = None,
) -> DatasetPage:  # fmt: skip
    """Everything the dataset page shows. ``dataset`` must already have passed the gate.

    With ``as_of`` (a published version of the feature store's dataset), the features, fields,
    count and extent are those of that version instead of the current one. Example values and
    first rows come from features that had not ended by ``on`` (today unless given). The
    versions table shows page ``versions_page`` (the first if not a page number; the last if
    beyond it): a source loaded daily for years has thousands.
    """
    can_contribute = versions_unpublished_shown(user, dataset)
    listed = versions_listed(dataset, unpublished=can_contribute)
    versions = Paginator(listed, VERSIONS_PER_PAGE).get_page(versions_page)
    current = as_of or listed.filter(is_current=True).first()
    sample = _sample(dataset, as_of, live_on=on or timezone.localdate())
    fields = _fields(dataset, sample)
    day = on or timezone.localdate()
    page = DatasetPage(
        dataset=dataset,
        topic_category=TOPIC_CATEGORIES.get(dataset.theme, ""),
        responsible=_responsible(dataset),
        versions=versions,
        feature_count=current.feature_count if current else None,
        fields=fields,
        data_age=dataset_data_age(
            dataset, today=timezone.localdate(), fetched=dataset_last_fetched(dataset)
        ),
        ended_count=_ended_count(dataset, current, day) if current else None,
        day=day,
        can_manage=dataset_permits(user, dataset, Action.MANAGE),
        can_contribute=can_contribute,
        unpublished_left_out=not can_contribute and _unpublished_among_published(dataset),
    )
    if page.is_spatial:
        page.extent_bng, page.extent_wgs84, page.map_extent_wgs84 = _extents(dataset, current)
        if page.extent_bng is not None:
            page.extent_map = _extent_map(user, page.extent_bng)
    else:
        page.first_rows = [
            [value_text(record.properties.get(info.name)) for info in fields]
            for record in sample[:FIRST_ROWS]
        ]
    try:
        style = style_parse(dataset.style, fields=[info.name for info in fields])
    except StyleError as error:
        page.style_error = str(error)
    else:
        default = settings.AUTHORITY_PROFILE.branding.accent_colour
        page.legend = [
            LegendEntry(colour, label)
            for colour, label in style_legend(style, default_colour=default)
        ]
    return page


def _unpublished_among_published(dataset: Dataset) -> bool:
    """Whether a version never published is numbered below the latest published one, so a
    list of the published versions skips its number (one indexed query). A load under way
    after the latest published leaves no gap."""
    published = dataset.versions.filter(state=VersionState.PUBLISHED)
    latest = Subquery(published.order_by("-number").values("number")[:1])
    return dataset.versions.exclude(state=VersionState.PUBLISHED).filter(number__lt=latest).exists()


def _responsible(dataset: Dataset) -> list[ResponsibleParty]:
    """The owner, then the organisations that contribute features, by name."""
    contributors = dataset.contributing_organisations.exclude(pk=dataset.owner_id).order_by("name")
    # ISO 19115's "custodian": the organisation that keeps the dataset on the platform. Not
    # "owner": much of it is another body's data (ONS, NHS, Historic England), which the
    # attribution and lineage name.
    return [ResponsibleParty(dataset.owner.name, "custodian")] + [
        ResponsibleParty(name, "contributor")
        for name in contributors.values_list("name", flat=True)
    ]


def dataset_field_types(dataset: Dataset) -> dict[str, str]:
    """Field name -> type, from the schema or, where there is none, from the features."""
    return {info.name: info.type for info in _fields(dataset, _sample(dataset))}


def _sample(
    dataset: Dataset, as_of: DatasetVersion | None = None, *, live_on: date | None = None
) -> list[FeatureRecord]:
    """The first features of the dataset (as of a version), for example values and first rows.

    With ``live_on``, features that had ended by that day are passed over, as the map and the
    table leave them out; at most ``SAMPLE_SCAN`` features are read to find them.
    """
    read = SAMPLE_SIZE if live_on is None else SAMPLE_SCAN
    if as_of is not None:
        rows = Feature.objects.filter(live_at(as_of.number), dataset=dataset)
        records = StoreFeatureSource._records(rows, limit=read)
    elif dataset.source_key == StoreFeatureSource.key:
        records = StoreFeatureSource._records(current_features(dataset), limit=read)
    else:
        records = islice(source_for(dataset).features(dataset), read)
    if live_on is not None:
        keep = LiveOn(live_on)
        records = (record for record in records if keep(record.properties))
    return list(islice(records, SAMPLE_SIZE))


def _ended_count(dataset: Dataset, version: DatasetVersion, day: date) -> int | None:
    """How many features of ``version`` their source says had ended by ``day``: 0 without
    counting when the dataset's declared schema has no end-date field; None for a dataset
    whose features are not kept on the platform."""
    if dataset.source_key != StoreFeatureSource.key:
        return None
    declared = {entry["name"] for entry in dataset.field_schema or []}
    if declared and not declared & set(END_DATE_PROPERTIES):
        return 0
    return StoreFeatureSource.at_version(version.number).count_within(dataset, None, EndedBy(day))


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _fields(dataset: Dataset, sample: list[FeatureRecord]) -> list[FieldInfo]:
    """The schema's fields (or those the features have, when the schema is empty) with up to
    three distinct example values each from the current features."""
    schema = dataset.field_schema or [
        {"name": name, "title": name, "type": _type_of(value)}
        for name, value in _first_values(sample).items()
    ]
    fields = []
    for entry in schema:
        examples: list[str] = []
        for record in sample:
            value = record.properties.get(entry["name"])
            shown = _shortened(value_text(value))
            if value is not None and shown and shown not in examples:
                examples.append(shown)
                if len(examples) == EXAMPLES_PER_FIELD:
                    break
        fields.append(
            FieldInfo(
                name=entry["name"],
                title=entry.get("title") or entry["name"],
                type=entry.get("type", "string"),
                examples=examples,
            )
        )
    return fields


def _first_values(sample: list[FeatureRecord]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for record in sample:
        for name, value in record.properties.items():
            if values.get(name) is None:
                values[name] = value
    return values


def value_text(value: Any) -> str:
    """A property's value as pages show it: yes or no for a boolean, an ISO date, and nothing
    for no value (never "None")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _shortened(text: str) -> str:
    """``text`` cut to ``EXAMPLE_LENGTH`` characters, ending in an ellipsis where it was cut."""
    if len(text) <= EXAMPLE_LENGTH:
        return text
    return text[: EXAMPLE_LENGTH - 1].rstrip() + "…"


def _extents(
    dataset: Dataset, current: DatasetVersion | None
) -> tuple[Extent2D | None, Extent2D | None, Extent2D | None]:
    """The bounding box of the features of ``current`` (the version shown) in EPSG:27700 and
    in WGS84, and the WGS84 box a map opened on them fits (``DatasetPage.map_extent_wgs84``).

    The WGS84 box is that of the transformed geometries, not the transformed BNG box, which
    would be slightly too large or too small at the corners.
    """
    placed = None
    if dataset.source_key == StoreFeatureSource.key:
        if current is None:
            return None, None, None
        # Measured when the version was published, not over every feature on every visit.
        extent = current.extent
        if extent is None or "fit_wgs84" not in extent:
            extent = version_extent_record(version=current)
        bng, wgs84, placed = extent["bng"], extent["wgs84"], extent["fit_wgs84"]
    else:
        bng = wgs84 = None
        for record in source_for(dataset).features(dataset):
            if record.geometry is None or record.geometry.empty:
                continue
            bng = _union(bng, record.geometry.extent)
            wgs84 = _union(wgs84, record.geometry.transform(4326, clone=True).extent)
    bng_box, wgs84_box, map_box = (
        Extent2D(*box) if box else None for box in (bng, wgs84, placed or wgs84)
    )
    return bng_box, wgs84_box, map_box


def _union(box: tuple | None, other: tuple) -> tuple:
    if box is None:
        return other
    return (min(box[0], other[0]), min(box[1], other[1]), max(box[2], other[2]),
            max(box[3], other[3]))  # fmt: skip


class _SimplifiedSVG(Func):
    """PostGIS SVG path data (absolute, whole metres) of a simplified geometry."""

    template = "ST_AsSVG(ST_SimplifyPreserveTopology(%(expressions)s, %(tolerance)s), 0, 0)"
    output_field = TextField()


def _extent_map(user: Any, extent: Extent2D) -> ExtentMap:
    """The dataset's extent over the outlines of the profile's districts the user may see."""
    boundaries: dict[str, set[str]] = {}
    for area in settings.AUTHORITY_PROFILE.areas:
        if area.kind in OUTLINE_KINDS:
            boundaries.setdefault(area.boundary.dataset, set()).add(area.boundary.reference)
    outline_filter = Q(pk__in=[])
    visible = Dataset.objects.permitting(user, Action.VIEW).filter(
        slug__in=boundaries, versions__is_current=True
    )
    for slug, dataset_id, number in visible.values_list("slug", "pk", "versions__number"):
        outline_filter |= Q(
            dataset_id=dataset_id, reference__in=boundaries[slug], valid_from__lte=number
        )
    outlines = Feature.objects.filter(outline_filter, valid_to__isnull=True, geom__isnull=False)
    whole = outlines.aggregate(box=Extent("geom"))["box"]
    box = _union(whole, (extent.min_x, extent.min_y, extent.max_x, extent.max_y))
    width, height = box[2] - box[0], box[3] - box[1]
    size = max(width, height, 1000.0)
    pad = size * 0.05
    paths = list(
        outlines.annotate(
            svg=_SimplifiedSVG("geom", tolerance=size / EXTENT_MAP_PIXELS)
        ).values_list("svg", flat=True)
    ) if whole else []  # fmt: skip
    # A dataset of one point (or a line along an axis) still gets a visible box.
    least = size / 50
    centre_x = (extent.min_x + extent.max_x) / 2
    centre_y = (extent.min_y + extent.max_y) / 2
    half_w = max(extent.max_x - extent.min_x, least) / 2
    half_h = max(extent.max_y - extent.min_y, least) / 2
    return ExtentMap(
        view_box=f"{box[0] - pad:.0f} {-box[3] - pad:.0f} {width + 2 * pad:.0f} "
        f"{height + 2 * pad:.0f}",
        outlines=paths,
        box=(centre_x - half_w, -centre_y - half_h, 2 * half_w, 2 * half_h),
    )
