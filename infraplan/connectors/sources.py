"""Sources: a dataset part's saved load settings (connector, configuration, mapping) and
schedule, checked, saved and removed through these services (audited), and the loads their
schedules ask for (``source_refresh_due``, the task queue's minute tick)."""

import logging
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from procrastinate.contrib.django import app

from infraplan.accounts.models import Organisation
from infraplan.audit.services import audit_record, model_snapshot
from infraplan.catalogue.ingest import IngestMapping
from infraplan.catalogue.models import Dataset

from .fetch import address_refusal, config_recorded
from .load_checks import config_checked, mapping_checked, organisation_checked
from .load_requests import ingest_request, source_run_refused
from .models import CANCELLED, IngestRun, RunState, Source
from .run_execution import run_finish
from .schedules import schedule_checked, schedule_next

logger = logging.getLogger(__name__)

# What a source's audit entries record of it, and what a save compares to see a change.
# What a load of the source reads with (its run keeps a copy): a change ends the loads that
# have not begun or wait to try again, which would load with the settings as they were.
LOAD_SETTINGS = ("connector_key", "config", "mapping")
SOURCE_FIELDS = [
    "dataset_id", "organisation_id", "connector_key", "config", "mapping", "schedule", "enabled",
    "next_run_at",
]  # fmt: skip


def source_save(
    *,
    actor: Any,
    dataset: Dataset,
    connector_key: str,
    config: dict[str, Any],
    mapping: IngestMapping | dict[str, Any],
    organisation: Organisation | None = None,
    schedule: str = "",
    enabled: bool = True,
    source: Source | None = None,
    addresses_checked: bool = True,
) -> Source:
    """Create a source (or update ``source``) after checking its configuration against the
    connector, its mapping and its schedule; audited. ValidationError naming the bad field.

    Addresses in a new or changed configuration must be ones the platform may fetch from
    (``fetch.address_refusal``), unless ``addresses_checked`` is False: the profile's own
    national sources are listed, switched off, even where their host is not allowed, and a load
    says why it is refused. Saving a source without changing its addresses (switching it off,
    a new schedule) never fails on them.

    The next run is worked out from the schedule when it changes or the source is switched
    back on; saving an unscheduled source clears it.
    """
    checked = config_checked(connector_key, config)
    if addresses_checked and (source is None or source.config != checked):
        _addresses_checked(checked)
    mapping = mapping_checked(mapping, dataset)
    organisation_checked(dataset, organisation)
    schedule = schedule.strip()
    schedule_checked(schedule)
    with transaction.atomic():
        if source is None:
            source = Source(created_by=actor if getattr(actor, "is_authenticated", False) else None)
            before = None
        else:
            source = Source.objects.select_for_update().get(pk=source.pk)
            before = model_snapshot(source, SOURCE_FIELDS)
        # A source switched back on starts from its next scheduled time, not from the one it
        # missed while off (which would load it at once, in the working day).
        switched_on = enabled and before is not None and not source.enabled
        switched_off = not enabled and before is not None and source.enabled
        rescheduled = source.schedule != schedule or source.next_run_at is None or switched_on
        source.dataset, source.organisation = dataset, organisation
        source.connector_key, source.config = connector_key, checked
        source.mapping = mapping.model_dump(mode="json")
        source.schedule, source.enabled = schedule, enabled
        if rescheduled:
            source.next_run_at = schedule_next(schedule, timezone.now())
        if (
            Source.objects.filter(dataset=dataset, organisation=organisation)
            .exclude(pk=source.pk)
            .exists()
        ):
            part = f"{organisation}'s part of " if organisation else ""
            raise ValidationError(
                {"organisation": f"{part}{dataset} already has a source: change that one."}
            )
        after = model_snapshot(source, SOURCE_FIELDS)
        if after == before:
            return source
        source.save()
        audit_record(
            actor=actor, action="source.create" if before is None else "source.update",
            target=source, before=_snapshot_recorded(before), after=_snapshot_recorded(after),
        )  # fmt: skip
        if switched_off:
            source_loads_cancel(actor=actor, source=source, why="switched off")
        elif before is not None and any(before[name] != after[name] for name in LOAD_SETTINGS):
            # Each queued load keeps the settings it was asked with: one waiting to try a
            # wrong address again would do so for as long as its backoff lasts, with the
            # corrected source's loads queued behind it.
            source_loads_cancel(actor=actor, source=source, why="changed")
    return source


# A coordinate system's name as an OGC URI: an identifier the platform never fetches.
_CRS_URI = re.compile(r"https?://www\.opengis\.net/def/crs/", re.IGNORECASE)


def _addresses_checked(config: dict[str, Any]) -> None:
    """ValidationError naming each setting whose address the platform may not fetch from."""
    problems = {}
    for name, value in config.items():
        if (
            isinstance(value, str)
            and urlsplit(value).scheme in ("http", "https")
            and not _CRS_URI.match(value)
        ):
            refusal = address_refusal(value)
            if refusal:
                problems[name] = refusal
    if problems:
        raise ValidationError(problems)


def _snapshot_recorded(snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
    """A source's snapshot as the audit log keeps it: its settings' addresses without their
    query values (``config_recorded``)."""
    if snapshot is None:
        return None
    return {**snapshot, "config": config_recorded(snapshot["config"])}


def source_delete(*, actor: Any, source: Source) -> None:
    """Remove a source; audited. Its runs and the versions it loaded stay (the runs keep their
    own copy of the settings they ran with), and so does every feature it loaded."""
    with transaction.atomic():
        before = _snapshot_recorded(model_snapshot(source, SOURCE_FIELDS))
        audit_record(actor=actor, action="source.delete", target=source, before=before)
        source_loads_cancel(actor=actor, source=source, why="removed")
        source.delete()


def source_loads_cancel(*, actor: Any, source: Source, why: str) -> list[IngestRun]:
    """End the loads of ``source`` that have not begun or wait to try again, as it is switched
    off or removed (``why``); each audited. Returns them.

    Left to the task queue, a load waiting to try again would go on trying for as long as its
    backoff lasts, and every load of the same dataset part (an upload, say) would wait behind
    it. Each ended load's job is cancelled, so those queued after it start at once. A load
    running now finishes its attempt, but its job is asked to abort: the attempt, if it fails,
    is not tried again (``run_execution.run_retry_stopped``). Call inside the transaction that
    switches the source off or removes it.
    """
    cancelled = []
    by = f" by {actor}" if getattr(actor, "is_authenticated", False) else ""
    runs = IngestRun.objects.select_for_update().filter(source=source, state__in=IngestRun.ACTIVE)
    for run in runs.order_by("pk"):
        if run.job_id is not None:
            app.job_manager.cancel_job_by_id(run.job_id, abort=True)
        if run.state != RunState.QUEUED:
            continue
        when = "it was tried again" if run.retry_at else "it started"
        error = f"{CANCELLED}the source was {why}{by} before {when}."
        if run.retry_at:
            error = f"{error} The last attempt: {run.error}"
        run_finish(run, RunState.FAILED, notify=False, error=error)
        audit_record(actor=actor, action="ingest.cancel", target=run, after={"error": error})
        cancelled.append(run)
    return cancelled


def source_refresh_due(*, now: datetime | None = None) -> list[IngestRun]:
    """Request a load of every enabled source whose next run is due, and schedule the one
    after. A source whose previous load is still queued or running is left for the next tick.

    One source's trouble never holds up the others: settings that no longer pass make a failed
    run (see ``ingest_request``), and a schedule that no longer works makes a failed run and
    stops the schedule, each saying what to change.

    A withdrawn dataset's sources are not loaded: each due time is passed over with a line in
    the log (not a failed run, which would read as the source's trouble), and the schedule goes
    on, so a restored dataset's sources load again at their next time.
    """
    now = now or timezone.now()
    runs = []
    with transaction.atomic():
        due = (
            Source.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("dataset", "organisation")
            .filter(enabled=True, next_run_at__lte=now)
        )
        for source in due:
            if source.runs.filter(state__in=IngestRun.ACTIVE).exists():
                continue
            try:
                next_run_at = schedule_next(source.schedule, now)
            except ValidationError as error:
                runs.append(
                    source_run_refused(
                        actor=None, source=source, reason=f"its schedule no longer works: "
                        f"{' '.join(error.messages)} It is not refreshed until the schedule "
                        "is changed on the source's page.",
                    )
                )  # fmt: skip
                source.next_run_at = None
                source.save(update_fields=["next_run_at"])
                continue
            try:
                run = ingest_request(
                    actor=None, dataset=source.dataset, connector_key=source.connector_key,
                    config=source.config, mapping=source.mapping,
                    organisation=source.organisation, source=source,
                )  # fmt: skip
            except ValidationError as refused:
                # A saved source's settings that fail make a failed run instead: this is its
                # dataset withdrawn (``dataset_loads_check``), before anything was written.
                logger.info(
                    "Scheduled load of source %s of %s skipped: %s. Next due %s.",
                    source.pk, source.dataset.slug, " ".join(refused.messages),
                    next_run_at.isoformat() if next_run_at else "never",
                )  # fmt: skip
            else:
                runs.append(run)
            source.next_run_at = next_run_at
            source.save(update_fields=["next_run_at"])
    return runs
