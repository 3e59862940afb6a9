"""Reads for the catalogue pages: the list of datasets a user may see, and one dataset's page.

Every read starts from the one gate, ``Dataset.objects.permitting(user, action)``.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from itertools import islice
from typing import Any

from django.conf import settings
from django.contrib.gis.db.models import Extent
from django.core.paginator import Page, Paginator
from django.db.models import (
    F,
    Func,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from infraplan.accounts.models import Organisation, Role
from infraplan.connectors.models import IngestRun, RunState, Source
from infraplan.connectors.registry import ROLLBACK_KEY
from infraplan.maps.ended import END_DATE_PROPERTIES, EndedBy, LiveOn

from .access import Action, dataset_permits
from .models import (
    Dataset,
    DatasetVersion,
    Feature,
    GeometryType,
    Theme,
    VersionProblem,
    VersionState,
)
from .publishing import version_extent_record
from .search import datasets_search
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


# The list


def dataset_list(
    user: Any,
    *,
    themes: Iterable[str] = (),
    owners: Iterable[str] = (),
    access_levels: Iterable[str] = (),
    query: str = "",
) -> QuerySet[Dataset]:
    """The datasets ``user`` may see, filtered, with ``feature_count`` and ``last_updated``.

    Filters of one kind are alternatives (any of the themes); kinds combine (theme and owner).
    With a ``query``, the datasets it finds, most relevant first (``catalogue.search``);
    without, in order of title.
    """
    current = DatasetVersion.objects.filter(dataset=OuterRef("pk"), is_current=True)
    datasets = (
        Dataset.objects.permitting(user, Action.VIEW)
        .select_related("owner")
        .annotate(
            feature_count=Subquery(current.values("feature_count")[:1]),
            last_updated=Coalesce(Subquery(current.values("published_at")[:1]), F("updated_at")),
        )
        .order_by("title")
    )
    if themes := list(themes):
        datasets = datasets.filter(theme__in=themes)
    if owners := list(owners):
        datasets = datasets.filter(owner__slug__in=owners)
    if access_levels := list(access_levels):
        datasets = datasets.filter(access_level__in=access_levels)
    return datasets_search(datasets, query) if query else datasets


def dataset_owner_choices(user: Any) -> list[tuple[str, str]]:
    """(slug, name) of the organisations that own a dataset ``user`` may see."""
    visible = Dataset.objects.permitting(user, Action.VIEW)
    return list(
        Organisation.objects.filter(datasets__in=visible)
        .distinct()
        .order_by("name")
        .values_list("slug", "name")
    )


def dataset_owners_for_new(user: Any) -> list[tuple[str, str]]:
    """(slug, name) of the organisations ``user`` may add a dataset for: those where they are a
    data manager or organisation admin (as for managing the organisation's datasets); every
    active organisation for a platform admin. Empty: they may add none."""
    organisations = Organisation.objects.filter(is_active=True)
    if not (user.is_authenticated and user.is_active):
        return []
    if not user.is_superuser:
        organisations = organisations.filter(
            memberships__user=user,
            memberships__role__in=[role.value for role in Role if role.includes(Role.DATA_MANAGER)],
        )
    return list(organisations.distinct().order_by("name").values_list("slug", "name"))


# One dataset


@dataclass(frozen=True)
class FieldInfo:
    name: str
    title: str
    type: str
    examples: list[str]


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

    @property
    def is_spatial(self) -> bool:
        return self.dataset.geometry_type != GeometryType.NONE


def dataset_visible(user: Any, slug: str, action: Action | str = Action.VIEW) -> Dataset | None:
    """The dataset ``slug`` if ``user`` may do ``action`` on it, else None (unknown or not)."""
    return (
        Dataset.objects.permitting(user, action).select_related("owner").filter(slug=slug).first()
    )


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
        ended_count=_ended_count(dataset, current, day) if current else None,
        day=day,
        can_manage=dataset_permits(user, dataset, Action.MANAGE),
        can_contribute=can_contribute,
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


def dataset_downloads_offered(dataset: Dataset, *, as_of: DatasetVersion | None = None) -> bool:
    """Whether the dataset's page, and its metadata record, offer downloads: of what has been
    published, the version ``as_of`` a date or the current one. A source other than the
    feature store keeps no versions on the platform: its features are offered as they are."""
    return (
        as_of is not None
        or dataset.source_key != StoreFeatureSource.key
        or bool(dataset.current_version_number())
    )


PROBLEMS_LISTED = 20  # a failed version's first problems, on the dataset page
VERSIONS_PER_PAGE = 25


class _ReportHead(Func):
    """A version's report for the versions table: its counts and error, its first problems and
    how many it keeps (``problems_kept``), cut in SQL: a report keeps up to 10,000 problems, and
    a dataset loaded every week for years would otherwise have every one read on every visit."""

    template = (
        "((%(expressions)s - 'problems') || jsonb_build_object("
        f"'problems', jsonb_path_query_array(%(expressions)s, '$.problems[0 to {PROBLEMS_LISTED - 1}]'), "
        "'problems_kept', CASE jsonb_typeof(%(expressions)s -> 'problems') "
        "WHEN 'array' THEN jsonb_array_length(%(expressions)s -> 'problems') ELSE 0 END))"
    )
    output_field = JSONField()


def versions_unpublished_shown(user: Any, dataset: Dataset) -> bool:
    """Whether ``user`` sees the dataset's versions that were never published (loads that
    failed, were rejected or are under way): only those who may load into it do. They hold
    what was never published: the file's name, and in their reports the values of rows that
    did not pass."""
    return dataset_permits(user, dataset, Action.CONTRIBUTE)


def versions_listed(dataset: Dataset, *, unpublished: bool) -> QuerySet[DatasetVersion]:
    """The dataset's versions, newest first, each with ``report_head``: its report cut to what
    the versions table shows (see ``_ReportHead``); those never published only when
    ``unpublished``. The whole ``report`` is read only if asked for."""
    versions = dataset.versions.select_related("organisation")
    if not unpublished:
        versions = versions.filter(state=VersionState.PUBLISHED)
    return versions.order_by("-number").defer("report").annotate(report_head=_ReportHead("report"))


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


# Loads, versions and sources

# The upload form's organisation choice that replaces every organisation's features (no slug
# can be "*"; an empty value would read as no choice at all).
WHOLE_DATASET = "*"


def upload_organisation_choices(user: Any, dataset: Dataset) -> list[tuple[str, str]]:
    """The organisations ``user`` may load a file for into ``dataset`` (slug, name): their own
    among the dataset's owner and contributing organisations; a platform admin picks any of
    those. Those who may manage the dataset may also replace the whole of it (WHOLE_DATASET)."""
    publishers = Organisation.objects.filter(
        Q(pk=dataset.owner_id) | Q(datasets_contributed_to=dataset), is_active=True
    )
    if not (user.is_active and user.is_superuser):
        publishers = publishers.filter(
            memberships__user=user,
            memberships__role__in=[role.value for role in Role if role.includes(Role.CONTRIBUTOR)],
        )
    choices = [(slug, name) for slug, name in publishers.distinct().values_list("slug", "name")]
    if dataset_permits(user, dataset, Action.MANAGE):
        choices.append((WHOLE_DATASET, "The whole dataset (every organisation's features)"))
    return choices


def parts_managed(user: Any, dataset: Dataset) -> set[int] | None:
    """The organisations (ids) whose parts of ``dataset`` ``user`` manages (their sources) as a
    data manager of a contributing organisation; None when they manage the whole dataset.
    ``dataset`` must already have passed the gate for contributing."""
    if dataset_permits(user, dataset, Action.MANAGE):
        return None
    return set(
        dataset.contributing_organisations.filter(
            is_active=True,
            memberships__user=user,
            memberships__role__in=[role.value for role in Role if role.includes(Role.DATA_MANAGER)],
        ).values_list("pk", flat=True)
    )


def rollback_choices(user: Any, dataset: Dataset) -> list[tuple[str, str]]:
    """What ``user`` may roll back of ``dataset`` (slug, label), which has passed the gate for
    contributing: for its data managers the whole dataset and, when other organisations
    contribute to it, each publisher's part on its own; for a contributing organisation's data
    manager, only the parts they manage. Empty: nothing (always, for someone not signed in)."""
    if not user.is_authenticated:
        return []
    parts = parts_managed(user, dataset)
    if parts is None:
        choices = [(WHOLE_DATASET, "The whole dataset (every organisation's features)")]
        if dataset.contributing_organisations.exists():
            publishers = Organisation.objects.filter(
                Q(pk=dataset.owner_id) | Q(datasets_contributed_to=dataset), is_active=True
            )
            choices += [
                (slug, f"Only {name}'s features")
                for slug, name in publishers.distinct().order_by("name").values_list("slug", "name")
            ]
        return choices
    organisations = Organisation.objects.filter(pk__in=parts).order_by("name")
    return [
        (slug, f"{name}'s features") for slug, name in organisations.values_list("slug", "name")
    ]


def version_for_page(user: Any, dataset: Dataset, number: int) -> DatasetVersion | None:
    """Version ``number`` of ``dataset`` (which has passed the gate) with who made it; None
    also when it was never published and ``user`` may not see such versions."""
    versions = dataset.versions.select_related("created_by", "organisation", "rolled_back_to")
    if not versions_unpublished_shown(user, dataset):
        versions = versions.filter(state=VersionState.PUBLISHED)
    return versions.filter(number=number).first()


# How many stored problems are read at a time: a rejected load may have one for each of a
# million rows.
PROBLEMS_READ_AT_ONCE = 2_000


class _StoredProblems(Sequence[dict[str, Any]]):
    """A version's stored problems as ``version_problems`` gives them: counted, sliced (a page
    of them) and iterated (the report's CSV) in the database, never read whole."""

    def __init__(self, problems: QuerySet) -> None:
        self._problems = problems

    @cached_property
    def _count(self) -> int:
        return self._problems.count()

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: Any) -> Any:  # a problem, or a list of them for a slice
        if isinstance(index, slice):
            return list(self._problems[index])
        return self._problems[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._problems.iterator(chunk_size=PROBLEMS_READ_AT_ONCE)


def version_problems(version: DatasetVersion) -> Sequence[dict[str, Any]]:
    """The version's problems as (row, field, value, problem, reference) dictionaries, in row
    and field order: every one its load found, as the load stored them (``VersionProblem``);
    for a load from before problems were stored, or one whose stored problems were removed
    (``problem_retention``), those its report kept. Stored ones are counted, sliced and
    iterated in the database: take a page of them or iterate, rather than read them into a list.

    Older loads wrote ``reason`` and no value; both read the same here.
    """
    stored = VersionProblem.objects.filter(version=version)
    # Once marked removed, the report: a removal stopped part-way leaves some stored.
    if version.problems_removed_at is None and stored.exists():
        return _StoredProblems(
            stored.order_by("row", "field", "id").values(
                "row", "reference", "field", "value", "problem"
            )
        )
    # Loads before every problem was stored kept their rows' references here, or none at all.
    references = version.report.get("row_references", {})
    return [
        {
            "row": problem.get("row"),
            "field": problem.get("field", ""),
            "value": problem.get("value", ""),
            "problem": problem.get("problem") or problem.get("reason", ""),
            "reference": references.get(str(problem.get("row")), ""),
        }
        for problem in version.report.get("problems", [])
    ]


def published_version_numbers(dataset: Dataset) -> list[int]:
    """The numbers of the dataset's published versions, newest first."""
    return list(
        dataset.versions.filter(state=VersionState.PUBLISHED)
        .order_by("-number")
        .values_list("number", flat=True)
    )


def dataset_ever_published(dataset: Dataset) -> bool:
    """Whether a version of the dataset has been published, the current one or one since
    replaced: the kind of its features is then fixed."""
    return dataset.versions.filter(published_at__isnull=False).exists()


def run_for_page(dataset: Dataset, run_id: int) -> IngestRun | None:
    """The ingest run ``run_id`` of ``dataset``, or None (another dataset's runs are not found)."""
    return (
        IngestRun.objects.select_related("version", "organisation", "requested_by", "source")
        .filter(dataset=dataset, pk=run_id)
        .first()
    )


def dataset_runs_active(dataset: Dataset) -> list[IngestRun]:
    """The loads and rollbacks of ``dataset`` waiting or running, oldest first, for its page to
    show how far each has got: without their settings and column mappings."""
    return list(
        IngestRun.objects.filter(dataset=dataset, state__in=IngestRun.ACTIVE)
        .select_related("organisation", "requested_by", "source")
        .defer("mapping", "source__config", "source__mapping")
        .order_by("pk")
    )


def run_waited_for(run: IngestRun) -> IngestRun | None:
    """The earlier load ``run`` waits for, while it waits: loads into one part of a dataset (one
    organisation's, or the whole) run one at a time, in the order they were asked for, and an
    earlier load waiting to try again holds its place."""
    if run.state != RunState.QUEUED:
        return None
    return (
        IngestRun.objects.select_related("source")
        .filter(dataset_id=run.dataset_id, organisation_id=run.organisation_id, pk__lt=run.pk)
        .filter(state__in=IngestRun.ACTIVE)
        .order_by("pk")
        .first()
    )


def load_mapping_last(dataset: Dataset) -> dict[str, Any] | None:
    """The column mapping (``IngestMapping``, as its run kept it) of the dataset's last published
    load, a rollback not counting; None before the first. The upload page offers it again."""
    run = (
        IngestRun.objects.filter(
            dataset=dataset, state=RunState.PUBLISHED, version__state=VersionState.PUBLISHED
        )
        .exclude(connector_key=ROLLBACK_KEY)
        .order_by("-version__number")
        .only("mapping")
        .first()
    )
    return run.mapping if run is not None else None


def load_reference_change(dataset: Dataset, reference: str) -> str:
    """A sentence saying that ``reference`` is not the reference column of the dataset's last
    published load, naming both; empty when it is the same, or there was none. Features are
    matched by their references: with another column's, every feature looks new."""
    last = (load_mapping_last(dataset) or {}).get("reference")
    if not last or last == reference:
        return ""
    return (
        f" The last load used the reference column {last!r}; this one uses {reference!r}: "
        "features are matched by their references, so with another column's every feature looks "
        "new. Give the reference column the earlier loads used, if the file has it."
    )


def _sources_of(dataset: Dataset) -> QuerySet[Source]:
    return Source.objects.filter(dataset=dataset).select_related("organisation", "last_run")


def dataset_sources(dataset: Dataset) -> list[Source]:
    """The dataset's sources with their last runs, for its page, in one query: without the
    settings and column mappings, which the page does not show (nor a run's version, whose
    report holds up to 10,000 problems)."""
    return list(
        _sources_of(dataset)
        .defer("config", "mapping", "last_run__config", "last_run__mapping")
        .order_by("organisation__name")
    )


def dataset_source(dataset: Dataset, source_id: int) -> Source | None:
    """Source ``source_id`` if it is one of ``dataset``'s (which has passed the gate)."""
    return _sources_of(dataset).filter(pk=source_id).first()


def sources_failing(sources: Iterable[Source]) -> list[Source]:
    """Of ``sources``, those whose last load did not publish (rejected or failed): the dataset
    page says so at the top, as a scheduled refresh failing at night is otherwise seen only in
    its sources table."""
    return [
        source
        for source in sources
        if source.last_run is not None and source.last_run.did_not_publish
    ]


def dataset_national_off(dataset: Dataset, sources: Iterable[Source]) -> bool:
    """Whether ``dataset`` is one of the profile's national datasets with none of its
    ``sources`` switched on: it waits for a platform admin to switch it on."""
    # Imported here: the national module reaches the catalogue's ingest, which imports this one.
    from infraplan.connectors.national import national_spec

    return national_spec(dataset.slug) is not None and not any(source.enabled for source in sources)
