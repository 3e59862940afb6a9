"""How long the stored problems of a load that was not published are kept.

Every problem a load finds is stored, a row each (``VersionProblem``): a wholly bad file of a
million rows stores a million (some 200 MB), and a broken source refreshed every week stores
them again each week. Without a limit they would grow for ever. Those of a load never
published (rejected, or failed) are wanted while someone fixes the source:
``LOAD_PROBLEMS_KEPT_DAYS`` after the load ended a daily task deletes them, and the version
records when (``DatasetVersion.problems_removed_at``). Its page and CSV then list the first
``ingest_rows.REPORT_PROBLEMS_KEPT`` that its report keeps, and say why the rest are gone
(``problems_removed_said``).

A published version's problems are never deleted, whether it is current or since replaced:
they are the evidence of what the platform published and of the rows it left out (a
constraint on the version refuses the mark on a published one).
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import dateformat, timezone

from infraplan.audit.services import audit_record
from infraplan.connectors.models import IngestRun

from .models import DatasetVersion, VersionProblem, VersionState

# How many problems one statement deletes, each in a transaction of its own: a million deleted
# in one would be one long transaction, holding back the vacuum of every table until it ended.
PROBLEMS_DELETED_AT_ONCE = 10_000


def version_problems_expire() -> int:
    """Delete the stored problems of the loads never published that ended more than
    ``LOAD_PROBLEMS_KEPT_DAYS`` ago; returns how many were deleted.

    Each such version is marked first (audited), so that its pages read its report from then
    on; its problems then go in batches. A sweep stopped part-way leaves marked versions with
    problems still stored, which the next one deletes."""
    now = timezone.now()
    ended_before = now - timedelta(days=settings.LOAD_PROBLEMS_KEPT_DAYS)
    with transaction.atomic():
        # Not the report, which may be megabytes: only what the audit's label names.
        expired = (
            _versions_expired(ended_before)
            .select_related("dataset")
            .only("number", "problems_removed_at", "dataset__title")
        )
        for version in expired.select_for_update(of=("self",)).order_by("pk"):
            version.problems_removed_at = now
            version.save(update_fields=["problems_removed_at"])
            audit_record(
                actor=None,
                action="version.problems_remove",
                target=version,
                after={"kept_days": settings.LOAD_PROBLEMS_KEPT_DAYS},
            )
    deleted = 0
    for version_id in _versions_removed_holding_problems():
        batch = PROBLEMS_DELETED_AT_ONCE
        while batch == PROBLEMS_DELETED_AT_ONCE:  # a short batch was the last
            batch = _problems_delete(version_id)
            deleted += batch
    return deleted


def _versions_expired(ended_before: Any) -> QuerySet[DatasetVersion]:
    """The versions never published, not yet marked, that hold stored problems and ended before
    ``ended_before``: when their run last finished, else (a load with no run) when they began."""
    run_finished = (
        IngestRun.objects.filter(version=OuterRef("pk"), finished_at__isnull=False)
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )
    return (
        DatasetVersion.objects.filter(
            state=VersionState.FAILED, published_at__isnull=True, problems_removed_at__isnull=True
        )
        .alias(ended=Coalesce(Subquery(run_finished), F("created_at")))
        .filter(ended__lt=ended_before)
        .filter(Exists(VersionProblem.objects.filter(version=OuterRef("pk"))))
    )


def _versions_removed_holding_problems() -> list[int]:
    """The ids of the versions marked removed that still hold stored problems: those just
    marked, and any a sweep stopped part-way left."""
    return list(
        DatasetVersion.objects.filter(problems_removed_at__isnull=False)
        .filter(Exists(VersionProblem.objects.filter(version=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _problems_delete(version_id: int) -> int:
    """Delete up to ``PROBLEMS_DELETED_AT_ONCE`` of the version's stored problems (found by the
    index that begins with the version); returns how many."""
    batch = VersionProblem.objects.filter(version_id=version_id).values("pk")
    with transaction.atomic():
        deleted, _ = VersionProblem.objects.filter(pk__in=batch[:PROBLEMS_DELETED_AT_ONCE]).delete()
    return deleted


def problems_removed_said(version: DatasetVersion, *, listed: int, found: int) -> str | None:
    """What a version's page and CSV say when its stored problems were deleted: when and why,
    and that those ``listed`` (of the ``found`` its load found) are the ones its report keeps;
    None while they are stored."""
    if version.problems_removed_at is None:
        return None
    removed_on = dateformat.format(timezone.localtime(version.problems_removed_at), "j F Y")
    # Loads before every problem was stored kept their rows' references in the report.
    references = "" if version.report.get("row_references") else ", without their references"
    if found > listed:
        shown = f"Only the first {listed:,} of its {found:,} problems are shown{references}"
    elif found == 1:
        shown = f"Its one problem is shown{references}"
    else:
        shown = f"All {found:,} of its problems are shown{references}"
    return (
        f"The full list of this load's problems was removed on {removed_on}: the platform keeps "
        f"it for {settings.LOAD_PROBLEMS_KEPT_DAYS} days after a load that is not published. "
        f"{shown}, as the version's report keeps them."
    )
