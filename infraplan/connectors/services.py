"""Sources and ingest runs: asking for a load, running it on the task queue, and refreshing
sources on their schedules.

A load is asked for with ``ingest_request`` (a page, "refresh now", the scheduler): it records
an ``IngestRun`` and defers its job in the same transaction. The job (``ingest_run_execute``)
runs the catalogue's pipeline, recording its stage and rows as it goes through a connection of
its own, because the pipeline's transaction hides everything until it commits. That connection
also holds an advisory lock for the run's lifetime: when the process running a load dies, the
database drops the lock with the connection, and ``ingest_runs_sweep`` knows the run is dead.
"""

import logging
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from croniter import CroniterBadDateError, croniter  # procrastinate's own cron parser
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from procrastinate import sql as procrastinate_sql
from procrastinate.contrib.django.models import ProcrastinateJob
from pydantic import ValidationError as PydanticValidationError

from infraplan.accounts.models import Organisation
from infraplan.audit.services import audit_record, model_snapshot
from infraplan.catalogue.ingest import INTERRUPTED, IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.loading import typed_value
from infraplan.catalogue.models import Dataset, DatasetVersion, VersionState
from infraplan.catalogue.services import (
    dataset_loads_check,
    loads_refusal,
    version_attempt_discard,
    version_fail,
    version_rollback,
)
from infraplan.catalogue.uploads import KeptUpload, upload_kept_claim, upload_kept_return

from .base import ConnectorError, Progress
from .fetch import address_refusal, config_recorded
from .models import IngestRun, RunState, Source
from .notifications import ingest_run_notify_on_commit
from .registry import ROLLBACK_KEY, connector_config

logger = logging.getLogger(__name__)

# Named schedules as cron expressions (UTC): loads at night, when nobody is looking at the map.
SCHEDULES = {"daily": "0 2 * * *", "weekly": "0 2 * * 1", "monthly": "0 2 1 * *"}
SOURCE_FIELDS = [
    "dataset_id", "organisation_id", "connector_key", "config", "mapping", "schedule", "enabled",
    "next_run_at",
]  # fmt: skip
# The first key of the two-key advisory lock a running load holds (the second is the run's id).
RUN_LOCK_CLASS = 0x1A6E
PROGRESS_INTERVAL = 1.0  # seconds between progress writes
# A worker silent this long is gone (it beats every 10 s; procrastinate prunes it after 30 s).
WORKER_GONE_AFTER = timedelta(minutes=2)
# A load the command line recorded and has not begun within this long never will.
COMMAND_START_WITHIN = timedelta(minutes=10)


class IngestRetry(Exception):
    """A temporary failure; the job is to run again at ``retry_at`` (see tasks.py)."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


# The fields of a cron expression, in order, with the values each takes.
CRON_FIELDS = (
    ("minute", "0 to 59"),
    ("hour", "0 to 23"),
    ("day of the month", "1 to 31"),
    ("month", "1 to 12 or JAN to DEC"),
    ("day of the week", "0 to 7 or SUN to SAT (0 and 7 are Sunday)"),
)


def _cron_field_problems(cron: str) -> list[str]:
    """What is wrong with each field of a five-field ``cron`` that is not valid, each field
    checked on its own (the others ``*``)."""
    fields = cron.split()
    problems = []
    for index, (name, values) in enumerate(CRON_FIELDS):
        alone = ["*"] * len(CRON_FIELDS)
        alone[index] = fields[index]
        if not croniter.is_valid(" ".join(alone)):
            problems.append(f"its {name} field, '{fields[index]}', must be {values}")
    return problems


def schedule_cron(schedule: str) -> str | None:
    """The cron expression of ``schedule`` (None for no schedule); ValidationError when it is
    neither a named schedule nor a valid five-field cron expression, naming the field that is
    wrong where one is."""
    schedule = schedule.strip()
    if not schedule:
        return None
    cron = SCHEDULES.get(schedule.lower(), schedule)
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        problems = _cron_field_problems(cron) if len(cron.split()) == 5 else []
        why = (
            "; ".join(problems) + ". A field may also be *, a list (1,15), a range (1-5) or a "
            "step of 1 or more (*/2)."
            if problems
            else "use daily, weekly, monthly or a cron expression of five fields (minute hour "
            "day-of-month month day-of-week), such as '30 6 * * 1-5'."
        )
        raise ValidationError({"schedule": f"{schedule!r} is not a schedule: {why}"})
    try:
        croniter(cron, timezone.now()).get_next(datetime)
    except CroniterBadDateError:
        raise ValidationError(
            {
                "schedule": f"{schedule!r} never runs: none of the months it names has the day "
                "of the month it names (such as the 31st in February). Choose a day those "
                "months have."
            }
        ) from None
    return cron


# How many runs of a schedule are looked at for two too close together: a year of weekly runs,
# five years of monthly ones.
_INTERVAL_SAMPLE = 60


def schedule_checked(schedule: str) -> str | None:
    """``schedule_cron``, refusing also a schedule that would load more often than once in
    ``SOURCE_MIN_INTERVAL_MINUTES``, anywhere in its next runs. Only a schedule being saved is
    checked: one saved before a smaller minimum keeps running."""
    cron = schedule_cron(schedule)
    if cron is None:
        return None
    minimum = timedelta(minutes=settings.SOURCE_MIN_INTERVAL_MINUTES)
    runs = croniter(cron, timezone.now())
    previous = runs.get_next(datetime)
    for _ in range(_INTERVAL_SAMPLE):
        following = runs.get_next(datetime)
        gap = following - previous
        if gap < minimum:
            raise ValidationError(
                {
                    "schedule": f"{schedule.strip()!r} would load the source twice within "
                    f"{_duration(gap)} (at {previous:%H:%M} and {following:%H:%M} UTC): the "
                    f"platform loads a source at most once in {_duration(minimum)}, so as "
                    "not to weigh on the service it reads. Use hours, such as '0 6 * * *'."
                }
            )
        previous = following
    return cron


def _duration(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "an hour" if hours == 1 else f"{hours} hours"
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def schedule_next(schedule: str, after: datetime) -> datetime | None:
    """When a source on ``schedule`` next runs after ``after``; None for no schedule."""
    cron = schedule_cron(schedule)
    if cron is None:
        return None
    return croniter(cron, after.astimezone(UTC)).get_next(datetime)


def _config_checked(connector_key: str, config: dict[str, Any]) -> dict[str, Any]:
    try:
        return connector_config(connector_key, config).model_dump(mode="json")
    except ConnectorError as error:
        raise ValidationError({"config": str(error)}) from None


def constant_problem(
    name: str, value: Any, schema: dict[str, dict[str, Any]], casts: dict[str, str],
    reference: str,
) -> str:  # fmt: skip
    """Why ``value`` cannot be the constant of field ``name`` (its type by the dataset's
    ``schema``, by name, else by ``casts``), or "" when it can: every row would fail with it,
    or it would name what is not a field (the reference column, the geometry)."""
    if name == reference:
        return "every feature would have the same reference: it comes from a column"
    if name.lower() in ("geometry", "geom"):
        return "a feature's geometry comes from the source's geometry or coordinates"
    spec = schema.get(name, {"type": casts.get(name, "string")})
    try:
        typed = typed_value(value, spec.get("type", "string"))
    except ValueError as error:
        return str(error)
    allowed = spec.get("allowed")
    if allowed and typed not in allowed:
        return f"{value!r} is not one of: {', '.join(map(str, allowed))}"
    return ""


def _mapping_checked(mapping: IngestMapping | dict[str, Any], dataset: Dataset) -> IngestMapping:
    """The mapping, checked as a model and its constants against the dataset's schema (a
    constant every row would fail with is refused now, not in every load)."""
    if not isinstance(mapping, IngestMapping):
        try:
            mapping = IngestMapping.model_validate(mapping)
        except PydanticValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in problem['loc']) or 'mapping'}: {problem['msg']}"
                for problem in error.errors()
            )
            raise ValidationError(
                {"mapping": f"The column mapping is not valid: {problems}."}
            ) from None
    schema = {entry["name"]: entry for entry in dataset.field_schema}
    problems = []
    for name, value in mapping.constants.items():
        problem = constant_problem(name, value, schema, mapping.casts, mapping.reference)
        if problem:
            problems.append(f"the constant for {name}: {problem}")
    if problems:
        raise ValidationError(
            {"mapping": f"The column mapping is not valid: {'; '.join(problems)}."}
        )
    return mapping


def _organisation_checked(dataset: Dataset, organisation: Organisation | None) -> None:
    """Refuse a part of ``dataset`` for an organisation that does not publish it (neither its
    owner nor a contributing organisation): its features would sit in the dataset under a
    publisher nobody chose, out of reach of the pages that load each part."""
    if organisation is None or organisation.pk == dataset.owner_id:
        return
    if dataset.contributing_organisations.filter(pk=organisation.pk).exists():
        return
    contributing = sorted(dataset.contributing_organisations.values_list("name", flat=True))
    publishers = [dataset.owner.name, *contributing]
    raise ValidationError(
        {
            "organisation": f"{organisation} does not publish {dataset}: its owner and "
            f"contributing organisations are {', '.join(publishers)}."
        }
    )


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
    checked = _config_checked(connector_key, config)
    if addresses_checked and (source is None or source.config != checked):
        _addresses_checked(checked)
    mapping = _mapping_checked(mapping, dataset)
    _organisation_checked(dataset, organisation)
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
    return source


def _addresses_checked(config: dict[str, Any]) -> None:
    """ValidationError naming each setting whose address the platform may not fetch from."""
    problems = {}
    for name, value in config.items():
        if isinstance(value, str) and urlsplit(value).scheme in ("http", "https"):
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
        source.delete()


def ingest_request(
    *,
    actor: Any,
    dataset: Dataset,
    connector_key: str,
    config: dict[str, Any],
    mapping: IngestMapping | dict[str, Any],
    organisation: Organisation | None = None,
    source: Source | None = None,
    queue: bool = True,
) -> IngestRun:
    """Record a load of ``dataset`` and put it on the task queue; audited.

    The configuration and mapping are checked here (ValidationError naming the field), so a
    request that cannot run is refused at once, not in the worker. Loads of the same dataset
    part run one after another (the job's lock). With ``queue=False`` (the CLI) the run is only
    recorded: the caller runs it at once with ``ingest_run_execute``, and it is not retried.

    A load of a saved ``source`` is different in two ways. Settings that no longer pass (the
    dataset's schema or the connector changed since they were saved) are not the requester's
    mistake: the run is recorded as failed with the reason, for the source's page to show.
    And while an identical load of the source waits or runs, that run is returned rather than
    a second one queued (two presses of "Refresh now", or one during a scheduled load).

    A withdrawn dataset is loaded by nobody: ValidationError naming the dataset, whatever asks.
    """
    from .tasks import ingest_run_task

    dataset_loads_check(dataset)
    try:
        checked = _config_checked(connector_key, config)
        mapping = _mapping_checked(mapping, dataset)
        _organisation_checked(dataset, organisation)
    except ValidationError as error:
        if source is None:
            raise
        return _source_run_refused(
            actor=actor, source=source, reason=f"its saved settings no longer pass their "
            f"checks: {' '.join(error.messages)} Change the source's settings, then load it again.",
        )  # fmt: skip
    with transaction.atomic():
        if source is not None and queue:
            list(Source.objects.select_for_update().filter(pk=source.pk).order_by().values("pk"))
            active = IngestRun.objects.filter(
                source=source, state__in=IngestRun.ACTIVE, job_id__isnull=False,
                connector_key=connector_key, organisation=organisation,
            )  # fmt: skip
            waiting = active.order_by("-id").first()
            same = (checked, mapping.model_dump(mode="json"))
            if waiting is not None and (waiting.config, waiting.mapping) == same:
                return waiting
        run = IngestRun.objects.create(
            source=source, dataset=dataset, organisation=organisation,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
            connector_key=connector_key, config=checked, mapping=mapping.model_dump(mode="json"),
        )  # fmt: skip
        if queue:
            run.job_id = ingest_run_task.configure(lock=_part_lock(dataset, organisation)).defer(
                run_id=run.pk
            )
            run.save(update_fields=["job_id"])
        if source is not None:
            Source.objects.filter(pk=source.pk).update(last_run=run)
        audit_record(
            actor=actor, action="ingest.request", target=run,
            after={
                "dataset": dataset.slug, "connector": connector_key,
                "config": config_recorded(checked),
                "organisation": organisation.slug if organisation else None,
                "source": source.pk if source else None,
            },
        )  # fmt: skip
    return run


def _part_lock(dataset: Dataset, organisation: Organisation | None) -> str:
    """The task-queue lock of a dataset part's loads and rollbacks: they run one at a time, in
    the order they were asked for."""
    return f"ingest:{dataset.pk}:{organisation.pk if organisation else '*'}"


def upload_ingest_request(
    *,
    actor: Any,
    dataset: Dataset,
    kept: KeptUpload,
    organisation: Organisation | None,
    layer: str,
    reference: str,
    rename: dict[str, str],
    threshold: float,
    allow_large_removal: bool,
) -> IngestRun:
    """Ask for the load of a file ``actor`` uploaded (kept by ``uploads.upload_keep``), read
    with the upload page's settings: ``layer`` the one to load of a file holding several (else
    empty), and ``threshold`` the percentage of rows with problems past which the load is
    rejected.

    The file is moved among the files to load. A refused load (ValidationError, as
    ``ingest_request``) puts it back where ``kept`` names it, so that it can be loaded again
    without being sent again.
    """
    stored = upload_kept_claim(kept, dataset_slug=dataset.slug)
    config = {"path": str(stored)}
    if layer:
        config["layer"] = layer
    mapping = {
        "reference": reference,
        "rename": rename,
        "max_invalid_share": threshold / 100,
        "allow_large_removal": allow_large_removal,
    }
    try:
        return ingest_request(
            actor=actor, dataset=dataset, connector_key="upload", config=config,
            mapping=mapping, organisation=organisation,
        )  # fmt: skip
    except ValidationError:
        upload_kept_return(stored, user_id=actor.pk, dataset_id=dataset.pk, signed=kept.signed)
        raise


def rollback_request(
    *,
    actor: Any,
    dataset: Dataset,
    to: DatasetVersion,
    organisation: Organisation | None = None,
) -> IngestRun:
    """Put a rollback of ``dataset`` (or of ``organisation``'s part) to version ``to`` on the
    task queue as a run of its own; audited.

    Restoring copies every feature of the version, which for a large dataset takes longer than
    a web request may (and a request ended half-way would leave its draft behind): like a load,
    it runs in a worker, its page shows how far it has got, and it waits behind the part's
    earlier loads. While the same rollback waits or runs, that run is returned, not a second.
    """
    from .tasks import ingest_run_task

    if to.dataset_id != dataset.pk or to.state != VersionState.PUBLISHED:
        raise ValueError(f"{to} is not a published version of {dataset}")
    _organisation_checked(dataset, organisation)
    dataset_loads_check(dataset)
    config = {"version": to.number}
    with transaction.atomic():
        list(Dataset.objects.select_for_update().filter(pk=dataset.pk).values("pk"))
        waiting = (
            IngestRun.objects.filter(
                dataset=dataset,
                organisation=organisation,
                connector_key=ROLLBACK_KEY,
                config=config,
                state__in=IngestRun.ACTIVE,
            )
            .order_by("-id")
            .first()
        )
        if waiting is not None:
            return waiting
        run = IngestRun.objects.create(
            dataset=dataset, organisation=organisation,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
            connector_key=ROLLBACK_KEY, config=config, mapping={},
        )  # fmt: skip
        run.job_id = ingest_run_task.configure(lock=_part_lock(dataset, organisation)).defer(
            run_id=run.pk
        )
        run.save(update_fields=["job_id"])
        audit_record(
            actor=actor, action="rollback.request", target=run,
            after={
                "dataset": dataset.slug, "version": to.number,
                "organisation": organisation.slug if organisation else None,
            },
        )  # fmt: skip
    return run


def _source_run_refused(*, actor: Any, source: Source, reason: str) -> IngestRun:
    """Record a load of ``source`` that could not start, failed with ``reason``; audited. The
    source's page shows it as its last load, with the reason."""
    with transaction.atomic():
        error = f"The load did not start: {reason}"
        run = IngestRun.objects.create(
            source=source, dataset=source.dataset, organisation=source.organisation,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
            connector_key=source.connector_key, config=source.config, mapping=source.mapping,
            state=RunState.FAILED, error=error, finished_at=timezone.now(),
        )  # fmt: skip
        Source.objects.filter(pk=source.pk).update(last_run=run)
        audit_record(
            actor=actor, action="ingest.request", target=run,
            after={"dataset": source.dataset.slug, "source": source.pk, "error": error},
        )  # fmt: skip
        ingest_run_notify_on_commit(run=run)
    return run


class RunProgress:
    """The progress callback of a running load, writing through a connection of its own.

    Writes at most once per ``PROGRESS_INTERVAL`` (and whenever the stage changes). Opening it
    takes the run's advisory lock, which lives as long as this connection: see the module's
    docstring. Use as a context manager.
    """

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self._stage = ""
        self._written = 0.0
        db = connection.settings_dict
        self._connection = psycopg.connect(
            dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"],
            port=db["PORT"] or None, autocommit=True, application_name=f"ingest-run-{run_id}",
        )  # fmt: skip
        locked = self._connection.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (RUN_LOCK_CLASS, run_id)
        ).fetchone()[0]
        if not locked:
            self._connection.close()
            raise RuntimeError(f"ingest run {run_id} is already running in another process")

    def __enter__(self) -> "RunProgress":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._connection.close()

    def __call__(self, rows: int, stage: str) -> None:
        now = time.monotonic()
        if stage == self._stage and now - self._written < PROGRESS_INTERVAL:
            return
        self._stage, self._written = stage, now
        self._connection.execute(
            f"UPDATE {IngestRun._meta.db_table} SET rows_read = %s, stage = %s WHERE id = %s",  # noqa: S608
            (rows, stage[:40], self.run_id),
        )

    def version_started(self, version: DatasetVersion) -> None:
        """Record the run's draft at once, so a sweep after a crash can fail it."""
        self._connection.execute(
            f"UPDATE {IngestRun._meta.db_table} SET version_id = %s WHERE id = %s",  # noqa: S608
            (version.pk, self.run_id),
        )


def _retry_at(attempt: int) -> datetime:
    """Exponential backoff: INGEST_RETRY_WAIT_SECONDS, then twice that, four times ..."""
    return timezone.now() + timedelta(
        seconds=settings.INGEST_RETRY_WAIT_SECONDS * 2 ** (attempt - 1)
    )


def _run_finish(run: IngestRun, state: str, **fields: Any) -> IngestRun:
    for name, value in fields.items():
        setattr(run, name, value)
    run.state, run.finished_at, run.retry_at = state, timezone.now(), None
    run.save()
    transaction.on_commit(lambda: stored_upload_remove(run))
    ingest_run_notify_on_commit(run=run)
    return run


def stored_upload_remove(run: IngestRun) -> None:
    """Delete the file a finished upload stored (its folder under UPLOAD_ROOT).

    It is not needed again: the version holds what was read and its report what was not, and a
    new try is a new upload. Keeping every upload would fill the disk with officers' files
    that no page serves. Only a folder the platform made under UPLOAD_ROOT is touched.
    """
    path = run.config.get("path") if run.connector_key == "upload" else None
    if not path:
        return
    root = Path(settings.UPLOAD_ROOT).resolve()
    folder = Path(path).resolve().parent
    if folder.is_relative_to(root) and len(folder.relative_to(root).parts) >= 2:
        shutil.rmtree(folder, ignore_errors=True)


def ingest_run_execute(
    run_id: int, *, attempt: int = 1, echo: Progress = lambda rows, stage: None
) -> IngestRun:
    """Run a requested load: the task queue's job body (and the CLI's, with no queue).

    Publishes the new version, or ends ``rejected`` (the data did not pass its checks) or
    ``failed`` (the source could not be read, or retries were used up). A temporary failure with attempts left puts
    the run back to ``queued`` with ``retry_at`` and raises IngestRetry for the queue (a run
    without a job, from the CLI, is not retried). ``echo`` is told of progress too, unthrottled.
    A load of a source that stops or starts publishing again mails the source's people once it
    has ended (``notifications``); a mail that cannot be sent never fails the run.
    """
    run = IngestRun.objects.select_related("dataset", "organisation", "requested_by").get(pk=run_id)
    if run.state not in IngestRun.ACTIVE:
        return run  # finished already (a sweep, or a duplicate delivery)
    if run.dataset.withdrawn_at is not None:
        # Asked for before the dataset was withdrawn. Nobody is mailed: the people a failure
        # is mailed to are those who may load into the dataset, and nobody may now.
        error = f"Not started: {loads_refusal(run.dataset)}."
        return _run_finish(run, RunState.FAILED, error=error, temporary=False)
    with RunProgress(run.pk) as progress:

        def both(rows: int, stage: str) -> None:
            progress(rows, stage)
            echo(rows, stage)

        run.state, run.stage, run.attempts = RunState.RUNNING, "starting", attempt
        run.started_at, run.retry_at, run.error = timezone.now(), None, ""
        run.save(update_fields=["state", "stage", "attempts", "started_at", "retry_at", "error"])
        try:
            if run.is_rollback:
                version = _rollback_execute(run, both, progress.version_started)
            else:
                version = ingest_run(
                    actor=run.requested_by, dataset=run.dataset, connector_key=run.connector_key,
                    config=run.config, mapping=IngestMapping.model_validate(run.mapping),
                    organisation=run.organisation,
                    progress=both,
                    on_version=progress.version_started,
                )  # fmt: skip
        except RollbackFailed as failure:
            run.refresh_from_db(fields=["rows_read", "stage", "version"])
            return _run_finish(run, RunState.FAILED, error=str(failure), temporary=False)
        except IngestRejected as rejection:
            run.refresh_from_db(fields=["rows_read", "stage"])
            # The connector could not read the source (the report says whether that may pass),
            # as against data that was read and did not pass the checks.
            unreadable = "temporary" in rejection.version.report
            temporary = bool(rejection.version.report.get("temporary"))
            if temporary and run.job_id and attempt < settings.INGEST_RETRY_ATTEMPTS:
                retry_at = _retry_at(attempt)
                run.state, run.retry_at, run.temporary = RunState.QUEUED, retry_at, True
                run.version, run.error = None, str(rejection)
                run.save()
                # The attempt's failed draft says no more than the run's error: kept, a source
                # that stays down would add a failed version to the history at every attempt,
                # and the version that finally publishes would not be the next number.
                version_attempt_discard(rejection.version)
                raise IngestRetry(str(rejection), retry_at) from None
            error = str(rejection)
            if temporary and run.job_id:
                error = f"Gave up after {attempt} attempts. The last: {error}"
            return _run_finish(
                run, RunState.FAILED if unreadable else RunState.REJECTED,
                version=rejection.version, error=error, temporary=temporary,
            )  # fmt: skip
        except Exception as error:
            run.refresh_from_db(fields=["rows_read", "stage", "version"])
            _run_finish(run, RunState.FAILED, error=f"Internal error: {error}", temporary=False)
            raise
        except KeyboardInterrupt:
            # Ended at once, not left "running" until a worker's sweep finds it abandoned.
            run.refresh_from_db(fields=["rows_read", "stage", "version"])
            _run_finish(run, RunState.FAILED, error=INTERRUPTED.capitalize(), temporary=False)
            raise
        # Finished while the lock is still held: a run marked running without its lock is one
        # the sweep fails as abandoned.
        run.refresh_from_db(fields=["rows_read", "stage"])
        return _run_finish(
            run, RunState.PUBLISHED, version=version, rows_read=version.report.get("rows_read", run.rows_read),
            stage="done", error="", temporary=False,
        )  # fmt: skip


class RollbackFailed(Exception):
    """A rollback that could not publish; its draft is failed and the current version kept."""


def _rollback_execute(
    run: IngestRun, progress: Progress, on_version: Callable[[DatasetVersion], None]
) -> DatasetVersion:
    """The body of a rollback's run: restore the version it names as a new version."""
    number = run.rollback_to
    to = run.dataset.versions.filter(number=number, state=VersionState.PUBLISHED).first()
    if to is None:
        raise RollbackFailed(f"Version {number} is not a published version of {run.dataset}.")
    progress(0, f"restoring version {number}")
    try:
        version = version_rollback(
            actor=run.requested_by, dataset=run.dataset, to=to, organisation=run.organisation,
            on_version=on_version,
        )  # fmt: skip
    except ValueError as error:  # a clash of references in the restored features, say
        raise RollbackFailed(
            f"The rollback to version {number} failed: {error}. The current version was not "
            "changed."
        ) from None
    progress(version.report["rows_read"], "done")
    return version


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
                    _source_run_refused(
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


def ingest_runs_sweep() -> list[IngestRun]:
    """Fail the runs whose process died: marked running, yet nobody holds their lock.

    Their draft version is failed (the previous version stays current: it was never touched),
    and their task-queue job, left "doing" by the dead worker, is finished as failed so the
    dataset's next load is not held up behind its lock.
    """
    swept = []
    for run in IngestRun.objects.filter(state=RunState.RUNNING).select_related("version"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK_CLASS, run.pk])
            if not cursor.fetchone()[0]:
                continue  # alive
            try:
                with transaction.atomic():
                    run = IngestRun.objects.select_for_update().get(pk=run.pk)
                    if run.state != RunState.RUNNING:
                        continue
                    error = (
                        f"The {run.noun} stopped when the process running it ended (while "
                        f"{run.stage or 'starting'}, {run.rows_read:,} rows read). The current "
                        f"version was not changed; ask for the {run.noun} again."
                    )
                    _run_abandon(run, error)
                    swept.append(run)
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK_CLASS, run.pk])
    return swept + _queued_runs_sweep()


def _queued_runs_sweep() -> list[IngestRun]:
    """Fail the runs waiting for something that will never run them: their job was cancelled,
    failed before the run began or was taken by a worker that has since died, or the command
    that asked for it (no job) ended before it began. Left waiting, such a run would hold its
    source's refreshes (scheduled and "Refresh now") for ever."""
    swept = []
    for run in IngestRun.objects.filter(state=RunState.QUEUED):
        if _never_to_run(run) is None:
            continue
        with transaction.atomic():
            run = (
                IngestRun.objects.select_for_update(of=("self",))
                .select_related("version")
                .get(pk=run.pk)
            )
            why = _never_to_run(run) if run.state == RunState.QUEUED else None
            if why is None:
                continue
            error = (
                f"The {run.noun} never started: {why}. The current version was not changed; "
                f"ask for the {run.noun} again."
            )
            _run_abandon(run, error)
            swept.append(run)
    return swept


def _run_abandon(run: IngestRun, error: str) -> None:
    """Fail a run nothing will finish, with its draft version; audited. Its task-queue job, if
    left "doing", is finished as failed so the dataset's next load is not held up behind its
    lock. Call inside a transaction holding the run's row."""
    if run.version and run.version.state == VersionState.DRAFT:
        version_fail(actor=None, version=run.version, report={"error": error})
    _run_finish(run, RunState.FAILED, error=error, temporary=False)
    if run.job_id and _job_status(run.job_id) == "doing":
        with connection.cursor() as cursor:
            cursor.execute(
                procrastinate_sql.queries["finish_job"],
                {"job_id": run.job_id, "status": "failed", "delete_job": False},
            )
    audit_record(actor=None, action="ingest.abandon", target=run, after={"error": error})


def _never_to_run(run: IngestRun) -> str | None:
    """Why the queued ``run`` will never run, or None while it still may."""
    if run.job_id is None:
        # The command line runs its load the moment it has recorded it.
        if run.created_at < timezone.now() - COMMAND_START_WITHIN:
            return "the command that asked for it ended before it began"
        return None
    return _job_lost(run.job_id)


def _job_lost(job_id: int) -> str | None:
    """Why job ``job_id`` will never run its load, or None while it still may."""
    job = (
        ProcrastinateJob.objects.filter(pk=job_id)
        .values("status", "worker__last_heartbeat")
        .first()
    )
    if job is None:
        return "its task-queue job was removed"
    if job["status"] == "todo":
        return None
    if job["status"] == "doing":
        heartbeat = job["worker__last_heartbeat"]
        if heartbeat is not None and heartbeat > timezone.now() - WORKER_GONE_AFTER:
            return None
        return "the worker that took it stopped before it began"
    if job["status"] == "failed":
        return "the task queue could not start it (the worker's log says why)"
    return f"its task-queue job was {job['status']}"


def _job_status(job_id: int) -> str | None:
    return ProcrastinateJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
