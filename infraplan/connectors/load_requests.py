"""Asking for loads and rollbacks: from a page, an upload, "Refresh now", the command line and
a source's schedule (``sources.source_refresh_due``); and cancelling them (``run_cancel``).

A load is asked for with ``ingest_request``: it records an ``IngestRun`` and defers its job in
the same transaction; the job runs it with ``run_execution.ingest_run_execute``.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from procrastinate.contrib.django import app

from infraplan.accounts.models import Organisation
from infraplan.audit.services import audit_record
from infraplan.catalogue.ingest import IngestMapping
from infraplan.catalogue.models import Dataset, DatasetVersion, VersionState
from infraplan.catalogue.services import dataset_loads_check
from infraplan.catalogue.uploads import KeptUpload, upload_kept_claim, upload_kept_return

from .fetch import config_recorded
from .load_checks import config_checked, mapping_checked, organisation_checked
from .models import CANCELLED, IngestRun, RunState, Source
from .notifications import ingest_run_notify_on_commit
from .registry import ROLLBACK_KEY
from .run_execution import run_finish


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
        checked = config_checked(connector_key, config)
        mapping = mapping_checked(mapping, dataset)
        organisation_checked(dataset, organisation)
    except ValidationError as error:
        if source is None:
            raise
        return source_run_refused(
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
    organisation_checked(dataset, organisation)
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


def source_run_refused(*, actor: Any, source: Source, reason: str) -> IngestRun:
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


class RunNotCancelled(Exception):
    """A run that cannot be cancelled; the message says why, for the person who asked."""


def run_cancel(*, actor: Any, run: IngestRun) -> IngestRun:
    """Cancel ``run`` for ``actor``, who may ask for a load of its dataset part (the caller
    checks); audited (``run_stop``). Returns the run as it now is.

    A run waiting to start, or to try again after a temporary failure, ends at once, failed as
    cancelled, and loads of the same part queued after it start at once. A running one is
    asked to stop: it notices within seconds and ends failed as cancelled, its draft failed and
    nothing published (``run_execution.RunProgress``); one already publishing, its last step,
    may finish and publish. Asked again while it stops, nothing more is done.

    RunNotCancelled, with nothing changed, for what ``run_cancel_refusal`` refuses.
    """
    with transaction.atomic():
        run = (
            IngestRun.objects.select_for_update(of=("self",))
            .select_related("version")
            .get(pk=run.pk)
        )
        refusal = run_cancel_refusal(run)
        if refusal:
            raise RunNotCancelled(refusal)
        if run_stop_asked(run):
            return run
        who = str(actor) if getattr(actor, "is_authenticated", False) else "The platform"
        run_stop(actor=actor, run=run, why=f"{who} cancelled the {run.noun}")
    return run


def run_cancel_refusal(run: IngestRun) -> str | None:
    """Why ``run`` cannot be cancelled, or None: it has already finished; the command line runs
    it (it has no job: it is stopped where it runs, with Ctrl-C); or it is a rollback that has
    started, which restores the features in one statement that cannot stop part-way."""
    if not run.is_active:
        return f"This {run.noun} has already finished: {_outcome(run)}."
    if run.job_id is None:
        return (
            f"This {run.noun} runs from the command line on the platform's server, not on the "
            "task queue: it can be stopped only there (with Ctrl-C), by whoever started it."
        )
    if run.is_rollback and run.state == RunState.RUNNING:
        return (
            "This rollback has started restoring the features of the version it goes back to, "
            "which cannot be stopped part-way: it will finish by itself. To undo it, roll back "
            "again to the version that was current before it."
        )
    return None


def _outcome(run: IngestRun) -> str:
    """How an ended run ended, as a clause."""
    if run.state == RunState.PUBLISHED:
        number = f" as version {run.version.number}" if run.version else ""
        return f"it was published{number}"
    if run.cancelled:
        return "it was cancelled"
    return "it was rejected" if run.state == RunState.REJECTED else "it failed"


def run_stop_asked(run: IngestRun) -> bool:
    """Whether the running ``run`` was cancelled and has yet to notice (``run_stop``)."""
    return run.state == RunState.RUNNING and run.error.startswith(CANCELLED)


def run_stop(*, actor: Any, run: IngestRun, why: str) -> None:
    """End the waiting or running ``run`` because ``why`` ("Jo Smith cancelled the load", "the
    source was switched off by Jo Smith"); audited (``ingest.cancel``). Call inside a
    transaction holding the run's row.

    Its job is cancelled, or, running, asked to abort. A waiting run ends at once, failed with
    an error starting ``CANCELLED``, so that the part's loads queued after it start at once. A
    running run is given that error now, for the load to end with when it notices the abort
    request (``run_execution.RunProgress``, ``run_retry_stopped``); until then it runs.
    """
    if run.job_id is not None:
        app.job_manager.cancel_job_by_id(run.job_id, abort=True)
    if run.state == RunState.QUEUED:
        when = "it was tried again" if run.retry_at else "it started"
        error = f"{CANCELLED}{why} before {when}."
        if run.retry_at:
            error = f"{error} The last attempt: {run.error}"
        run_finish(run, RunState.FAILED, notify=False, error=error)
    else:
        error = f"{CANCELLED}{why} while it was running: nothing was published."
        run.error = error
        IngestRun.objects.filter(pk=run.pk).update(error=error)
    audit_record(actor=actor, action="ingest.cancel", target=run, after={"error": error})
