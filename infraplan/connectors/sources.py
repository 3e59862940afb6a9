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

from infraplan.accounts.models import Organisation
from infraplan.audit.services import audit_record, model_snapshot
from infraplan.catalogue.ingest import IngestMapping
from infraplan.catalogue.models import Dataset

from .credentials import (
    CredentialKind,
    EnteredCredentials,
    credentials_encrypt,
    credentials_problems,
)
from .fetch import address_refusal, config_recorded, origin
from .load_checks import config_checked, mapping_checked, organisation_checked
from .load_requests import ingest_request, run_stop, source_run_refused
from .models import IngestRun, RunState, Source
from .registry import connector_config, connector_for
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
    credentials: EnteredCredentials | None = None,
    credentials_removed: bool = False,
) -> Source:
    """Create a source (or update ``source``) after checking its configuration against the
    connector, its mapping and its schedule; audited. ValidationError naming the bad field.

    ``credentials``: new ones, replacing any saved (checked by ``credentials_checked``);
    ``credentials_removed``: the saved ones removed. Neither keeps what the source has. They
    must be of a kind the connector takes, and the address must be one they may travel to
    (``credentials_problems``). They are kept encrypted, and their audit entry says only that
    they were set, changed or removed, and of what kind.

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
    kept_kind = source.credentials_kind if source is not None and not credentials_removed else ""
    if credentials is not None or (kept_kind and source.config != checked):
        kind = credentials.kind if credentials is not None else kept_kind
        problems = credentials_problems(
            connector=connector_for(connector_key), kind=kind,
            config=connector_config(connector_key, checked),
        )  # fmt: skip
        if problems:
            raise ValidationError(problems)
    if credentials is None and kept_kind and source.config != checked:
        _credentials_stay_with_their_server(source, connector_key, checked)
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
        credentials_change = _credentials_set(
            source, actor=actor, credentials=credentials, removed=credentials_removed
        )
        if after == before and credentials_change is None:
            return source
        source.save()
        if after != before:
            audit_record(
                actor=actor, action="source.create" if before is None else "source.update",
                target=source, before=_snapshot_recorded(before), after=_snapshot_recorded(after),
            )  # fmt: skip
        if credentials_change is not None:
            audit_record(
                actor=actor, action="source.credentials", target=source, after=credentials_change
            )
        if switched_off:
            source_loads_cancel(actor=actor, source=source, why="switched off")
        elif before is not None and any(before[name] != after[name] for name in LOAD_SETTINGS):
            # Each queued load keeps the settings it was asked with: one waiting to try a
            # wrong address again would do so for as long as its backoff lasts, with the
            # corrected source's loads queued behind it.
            source_loads_cancel(actor=actor, source=source, why="changed")
    return source


def _credentials_stay_with_their_server(
    source: Source, connector_key: str, config: dict[str, Any]
) -> None:
    """ValidationError when a change of ``source``'s settings to ``config`` would send its saved
    credentials to another server (scheme, host or port) than the one they were entered for:
    whoever changes the address, a colleague or a slip, the credentials must be entered again
    for the new server (or removed), never sent there unasked."""
    old = connector_for(source.connector_key)
    new = connector_for(connector_key)
    was = origin(old.credentials_address(connector_config(source.connector_key, source.config)))
    now = origin(new.credentials_address(connector_config(connector_key, config)))
    if was != now:
        raise ValidationError(
            {
                "url": f"The saved credentials were entered for {was}, not {now}: enter them "
                "again for the new address, or tick the box to remove them"
            }
        )


def _credentials_set(
    source: Source, *, actor: Any, credentials: EnteredCredentials | None, removed: bool
) -> dict[str, str] | None:
    """Put new ``credentials`` on ``source`` (encrypted), or take its saved ones off when
    ``removed``; what its audit entry records of the change (never a secret), or None for
    none."""
    had = source.credentials_kind
    if credentials is not None:
        source.credentials_encrypted = credentials_encrypt(credentials)
        source.credentials_kind = credentials.kind
        source.credentials_set_at = timezone.now()
        source.credentials_set_by = actor if getattr(actor, "is_authenticated", False) else None
        return {"credentials": "changed" if had else "set", "kind": credentials.kind_label}
    if removed and (had or source.credentials_encrypted):
        source.credentials_encrypted = source.credentials_kind = ""
        source.credentials_set_at = source.credentials_set_by = None
        return {"credentials": "removed", "kind": CredentialKind(had).label if had else ""}
    return None


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
    off, changed or removed (``why``), and stop the one running; each audited
    (``load_requests.run_stop``). Returns those ended.

    Left to the task queue, a load waiting to try again would go on trying for as long as its
    backoff lasts, and every load of the same dataset part (an upload, say) would wait behind
    it. Each ended load's job is cancelled, so those queued after it start at once. A load
    running now is asked to stop, as a person's cancel asks it (``load_requests.run_cancel``):
    it ends within seconds with nothing published, unless it is already publishing. Call
    inside the transaction that switches the source off or removes it.
    """
    cancelled = []
    by = f" by {actor}" if getattr(actor, "is_authenticated", False) else ""
    runs = IngestRun.objects.select_for_update().filter(source=source, state__in=IngestRun.ACTIVE)
    for run in runs.order_by("pk"):
        if run.job_id is None and run.state == RunState.RUNNING:
            continue  # the command line's, stopped only where it runs (Ctrl-C)
        run_stop(actor=actor, run=run, why=f"the source was {why}{by}")
        if run.state == RunState.FAILED:
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
