"""Reads for the catalogue pages: the list of datasets a user may see, a dataset's versions,
loads and sources. The dataset's own page is read by ``dataset_page``.

Every read starts from the one gate, ``Dataset.objects.permitting(user, action)``.
"""

import calendar
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from django.db.models import Count, Func, JSONField, OuterRef, Q, QuerySet, Subquery
from django.utils.timezone import localdate

from infraplan.accounts.models import Membership, Organisation, Role
from infraplan.connectors.models import IngestRun, RunState, Source
from infraplan.connectors.registry import ROLLBACK_KEY
from infraplan.connectors.upload import UploadConnector

from .access import Action, dataset_permits
from .models import (
    Dataset,
    DatasetVersion,
    Feature,
    UpdateFrequency,
    VersionProblem,
    VersionState,
)
from .search import datasets_search
from .store import StoreFeatureSource, live_at

# The list


def dataset_list(
    user: Any,
    *,
    themes: Iterable[str] = (),
    owners: Iterable[str] = (),
    access_levels: Iterable[str] = (),
    query: str = "",
) -> QuerySet[Dataset]:
    """The datasets ``user`` may see, filtered, with ``feature_count`` and ``loaded_at`` (when
    the platform published the current version: not how old its data are, ``dataset_data_age``).

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
            loaded_at=Subquery(current.values("published_at")[:1]),
            fetched_at=Subquery(
                _fetches_published().filter(dataset=OuterRef("pk")).values("finished_at")[:1]
            ),
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


@dataclass(frozen=True)
class UpdateCycle:
    """How long after the date its data are as of an update frequency makes a newer version
    due (days, or calendar months: a register revised each March is due the next March), and
    the grace past that before the dataset is said to be overdue."""

    grace: timedelta
    days: int = 0
    months: int = 0

    def due_after(self, day: date) -> date:
        """When a newer version than that of ``day`` is due: the 31st of a shorter month is
        its last day."""
        month_index = day.month - 1 + self.months
        year, month = day.year + month_index // 12, month_index % 12 + 1
        last = calendar.monthrange(year, month)[1]
        moved = day.replace(year=year, month=month, day=min(day.day, last))
        return moved + timedelta(days=self.days)


# The grace allows for a register revised each year being published some weeks late, and a
# daily feed missing a long weekend. A frequency that promises no date (as needed, irregular,
# not planned, unknown) is never overdue.
UPDATE_CYCLES: dict[str, UpdateCycle] = {
    UpdateFrequency.CONTINUAL: UpdateCycle(days=1, grace=timedelta(days=3)),
    UpdateFrequency.DAILY: UpdateCycle(days=1, grace=timedelta(days=3)),
    UpdateFrequency.WEEKLY: UpdateCycle(days=7, grace=timedelta(days=7)),
    UpdateFrequency.MONTHLY: UpdateCycle(months=1, grace=timedelta(days=14)),
    UpdateFrequency.QUARTERLY: UpdateCycle(months=3, grace=timedelta(days=31)),
    UpdateFrequency.BIANNUALLY: UpdateCycle(months=6, grace=timedelta(days=61)),
    UpdateFrequency.ANNUALLY: UpdateCycle(months=12, grace=timedelta(days=92)),
}


@dataclass(frozen=True)
class DataAge:
    """How old a dataset's data are, by its own dates: not when the platform loaded them."""

    as_of: date | None  # None: not known
    update_due: date | None = None  # None: its update frequency promises none, or as_of unknown
    overdue: bool = False  # update_due has passed, and the grace after it


def _fetches_published():
    """The published loads of remote sources (a service's or an address's, not an upload), the
    latest first."""
    return (
        IngestRun.objects.filter(state=RunState.PUBLISHED, source__isnull=False)
        .exclude(connector_key=UploadConnector.key)
        .order_by("-finished_at")
    )


def dataset_last_fetched(dataset: Dataset) -> datetime | None:
    """When ``dataset`` was last published from a remote source, if ever (``dataset_list``
    annotates each dataset with it as ``fetched_at``)."""
    finished = _fetches_published().filter(dataset=dataset).values_list("finished_at", flat=True)
    return finished.first()


def dataset_data_age(dataset: Dataset, *, today: date, fetched: datetime | None = None) -> DataAge:
    """How old ``dataset``'s data are on ``today``: as of its reference date (when its source was
    published or last revised), else the end of the period they describe unless that is still
    to come (a plan period to 2040 says nothing of when the data were made), or as of the day
    they were last ``fetched`` from a remote source where that is later (a service read weekly
    is as current as that service); and whether its update frequency made a newer version due,
    and overdue (``UPDATE_CYCLES``)."""
    as_of = dataset.reference_date
    if as_of is None and dataset.temporal_end is not None and dataset.temporal_end <= today:
        as_of = dataset.temporal_end
    fetched_on = localdate(fetched) if fetched is not None else None
    if fetched_on is not None and (as_of is None or fetched_on > as_of):
        as_of = fetched_on
    cycle = UPDATE_CYCLES.get(dataset.update_frequency)
    if as_of is None or cycle is None:
        return DataAge(as_of=as_of)
    due = cycle.due_after(as_of)
    return DataAge(as_of=as_of, update_due=due, overdue=today > due + cycle.grace)


def datasets_counted(user: Any) -> tuple[int, int]:
    """How many datasets ``user`` may see, and how many of those are not published yet (no
    current version: the catalogue says so of each), for the home page's count."""
    datasets = Dataset.objects.permitting(user, Action.VIEW)
    return datasets.count(), datasets.exclude(versions__is_current=True).count()


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


def datasets_administered_of_all(user: Any, organisations: list[str]) -> bool:
    """Whether ``user`` administers the datasets of every one of ``organisations`` (slugs), as
    the gate's ``Action.ADMINISTER`` decides for a dataset they own: a platform admin, or an
    admin of each. The page adding a dataset asks it of every organisation it offers, so that
    what it offers does not change with the organisation chosen."""
    if user.is_superuser:
        return True
    administered = Membership.objects.filter(
        user=user, organisation__slug__in=organisations, organisation__is_active=True,
        role__in=[role.value for role in Role if role.includes(Role.ORG_ADMIN)],
    ).values("organisation")  # fmt: skip
    return administered.distinct().count() == len(set(organisations))


# One dataset: the gate, and its versions


def dataset_visible(user: Any, slug: str, action: Action | str = Action.VIEW) -> Dataset | None:
    """The dataset ``slug`` if ``user`` may do ``action`` on it, else None (unknown or not)."""
    return (
        Dataset.objects.permitting(user, action).select_related("owner").filter(slug=slug).first()
    )


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


def loads_permitted(user: Any, dataset: Dataset, organisation: Organisation | None) -> bool:
    """Whether ``user`` may ask for a load of ``organisation``'s part of ``dataset`` (None: of
    the whole), which has passed the gate for contributing: upload a file for it (one of
    ``upload_organisation_choices``) or refresh its source (a part ``parts_managed``)."""
    part = organisation.slug if organisation is not None else WHOLE_DATASET
    if part in {slug for slug, _ in upload_organisation_choices(user, dataset)}:
        return True
    parts = parts_managed(user, dataset)
    return parts is None or (organisation is not None and organisation.pk in parts)


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


@dataclass(frozen=True)
class RollbackCount:
    label: str  # the choice's, as the rollback form offers it
    now: int  # features of that part in the current version
    after: int  # in the version restored: what the part will hold after the rollback


def rollback_counts(
    dataset: Dataset, version: DatasetVersion, choices: list[tuple[str, str]]
) -> list[RollbackCount]:
    """For each of the rollback form's ``choices`` (``rollback_choices``), how many features
    its part holds now and will hold once ``version`` is restored: a part emptied, or nearly,
    is said before the rollback runs, not after."""
    current = dataset.current_version_number() or 0

    def by_part(number: int) -> dict[str, int]:
        rows = (
            Feature.objects.filter(dataset=dataset)
            .filter(live_at(number))
            .values_list("organisation__slug")
            .annotate(count=Count("id"))
        )
        return {slug or "": count for slug, count in rows}

    now, after = by_part(current), by_part(version.number)
    return [
        RollbackCount(
            label,
            sum(now.values()) if part == WHOLE_DATASET else now.get(part, 0),
            sum(after.values()) if part == WHOLE_DATASET else after.get(part, 0),
        )
        for part, label in choices
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
    its sources table. Not one a person cancelled by switching its source off."""
    return [
        source
        for source in sources
        if source.last_run is not None
        and source.last_run.did_not_publish
        and not source.last_run.cancelled
    ]


def dataset_national_off(dataset: Dataset, sources: Iterable[Source]) -> bool:
    """Whether ``dataset`` is one of the profile's national datasets with none of its
    ``sources`` switched on: it waits for a platform admin to switch it on."""
    # Imported here: the national module reaches the catalogue's ingest, which imports this one.
    from infraplan.connectors.national import national_spec

    return national_spec(dataset.slug) is not None and not any(source.enabled for source in sources)
