"""Running a requested load or rollback: the task queue's job body, its retries with backoff,
its progress and the end of the run.

The job (``ingest_run_execute``) runs the catalogue's pipeline, recording its stage and rows as
it goes through a connection of its own, because the pipeline's transaction hides everything
until it commits. That connection also holds an advisory lock for the run's lifetime: when the
process running a load dies, the database drops the lock with the connection, and
``run_sweep.ingest_runs_sweep`` knows the run is dead. Through it, too, the load learns that it
was cancelled while it ran (``load_requests.run_stop``): its job's abort was requested.
"""

import shutil
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from infraplan.catalogue.ingest import (
    INTERRUPTED,
    IngestCancelled,
    IngestMapping,
    IngestRejected,
    ingest_run,
)
from infraplan.catalogue.models import DatasetVersion, VersionState
from infraplan.catalogue.publishing import version_attempt_discard, version_rollback
from infraplan.catalogue.services import loads_refusal

from .base import Progress
from .models import CANCELLED, IngestRun, RunState
from .notifications import ingest_run_notify_on_commit

# The first key of the two-key advisory lock a running load holds (the second is the run's id).
RUN_LOCK_CLASS = 0x1A6E
PROGRESS_INTERVAL = 1.0  # seconds between progress writes


class IngestRetry(Exception):
    """A temporary failure; the job is to run again at ``retry_at`` (see tasks.py)."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class RunProgress:
    """The progress callback of a running load, writing through a connection of its own.

    Writes at most once per ``PROGRESS_INTERVAL`` (and whenever the stage changes), and each
    time reads whether the run's job was asked to abort (``load_requests.run_stop``): if so it
    raises IngestCancelled, saying who cancelled the run, and the load ends with nothing
    published. The last word of a run ("done") comes after it published, too late to stop it.
    Opening it takes the run's advisory lock, which lives as long as this connection: see the
    module's docstring. Use as a context manager.
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
        written = self._connection.execute(
            f"""
            UPDATE {IngestRun._meta.db_table} AS run SET rows_read = %s, stage = %s
            WHERE run.id = %s
            RETURNING run.error, (
                SELECT job.abort_requested FROM {ProcrastinateJob._meta.db_table} AS job
                WHERE job.id = run.job_id
            )
            """,  # noqa: S608 (the tables' names are the models'; every value is bound)
            (rows, stage[:40], self.run_id),
        ).fetchone()
        if written is None:  # the run cannot be seen from here: a test's, in its transaction
            return
        error, abort_requested = written
        if abort_requested and stage != "done":
            raise IngestCancelled(stop_reason(error))

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


def run_finish(run: IngestRun, state: str, *, notify: bool = True, **fields: Any) -> IngestRun:
    """End ``run`` in ``state`` with ``fields`` set. Once committed, its stored upload is removed
    and, with ``notify``, a source's run goes to ``notifications`` (its people are mailed when
    it matters): a run a person cancelled tells nobody."""
    for name, value in fields.items():
        setattr(run, name, value)
    # Its source may have been removed since the run was read (the row's link is emptied then):
    # saving the link as read would point at a source that no longer exists.
    run.refresh_from_db(fields=["source"])
    run.state, run.finished_at, run.retry_at = state, timezone.now(), None
    run.save()
    transaction.on_commit(lambda: stored_upload_remove(run))
    if notify:
        ingest_run_notify_on_commit(run=run)
    return run


def run_retry_stopped(run: IngestRun) -> str | None:
    """Why ``run``, whose attempt just failed, is not to be tried again, or None while it may:
    it was cancelled during the attempt (``load_requests.run_stop`` asked its job to abort and
    wrote why on the run). Call inside a transaction holding the run's row."""
    if not ProcrastinateJob.objects.filter(pk=run.job_id, abort_requested=True).exists():
        return None
    run.refresh_from_db(fields=["source", "error"])
    return stop_reason(run.error)


def stop_reason(error: str) -> str:
    """The error of a run cancelled while it ran: what ``load_requests.run_stop`` wrote on it
    (``error``, as the running load reads it back), who cancelled it and that nothing was
    published."""
    if error.startswith(CANCELLED):
        return error
    return f"{CANCELLED}the load was asked to stop while it was running: nothing was published."


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
        return run_finish(run, RunState.FAILED, error=error, temporary=False)
    with RunProgress(run.pk) as progress:

        def both(rows: int, stage: str) -> None:
            progress(rows, stage)
            echo(rows, stage)

        run.state, run.stage, run.attempts = RunState.RUNNING, "starting", attempt
        run.started_at, run.retry_at, run.error = timezone.now(), None, ""
        # Only a run still to be done starts: one cancelled since it was read (its source
        # switched off or removed) stays as it ended.
        started = IngestRun.objects.filter(pk=run.pk, state__in=IngestRun.ACTIVE).update(
            state=run.state, stage=run.stage, attempts=attempt, started_at=run.started_at,
            retry_at=None, error="",
        )  # fmt: skip
        if not started:
            run.refresh_from_db()
            return run
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
                    source=run.source,  # read with the run, at this attempt's start
                )  # fmt: skip
        except RollbackFailed as failure:
            run.refresh_from_db(fields=["rows_read", "stage", "version"])
            return run_finish(run, RunState.FAILED, error=str(failure), temporary=False)
        except IngestRejected as rejection:
            run.refresh_from_db(fields=["rows_read", "stage"])
            # The connector could not read the source (the report says whether that may pass),
            # as against data that was read and did not pass the checks.
            unreadable = "temporary" in rejection.version.report
            temporary = bool(rejection.version.report.get("temporary"))
            error = str(rejection)
            if temporary and run.job_id and attempt < settings.INGEST_RETRY_ATTEMPTS:
                with transaction.atomic():
                    list(IngestRun.objects.select_for_update().filter(pk=run.pk).values("pk"))
                    stopped = run_retry_stopped(run)
                    if stopped:
                        return run_finish(
                            run, RunState.FAILED, notify=False, version=rejection.version,
                            error=f"{stopped} The last attempt: {error}", temporary=True,
                        )  # fmt: skip
                    retry_at = _retry_at(attempt)
                    run.refresh_from_db(fields=["source"])
                    run.state, run.retry_at, run.temporary = RunState.QUEUED, retry_at, True
                    run.version, run.error = None, error
                    run.save()
                # The attempt's failed draft says no more than the run's error: kept, a source
                # that stays down would add a failed version to the history at every attempt,
                # and the version that finally publishes would not be the next number.
                version_attempt_discard(rejection.version)
                raise IngestRetry(error, retry_at) from None
            if temporary and run.job_id:
                error = f"Gave up after {attempt} attempts. The last: {error}"
            return run_finish(
                run, RunState.FAILED if unreadable else RunState.REJECTED,
                version=rejection.version, error=error, temporary=temporary,
            )  # fmt: skip
        except IngestCancelled as cancelled:
            # Its draft was failed as a failed load's is (``ingest_run``); a person ended it, so
            # nobody is mailed, and it is not tried again.
            run.refresh_from_db(fields=["rows_read", "stage", "version"])
            return run_finish(
                run, RunState.FAILED, notify=False, error=str(cancelled), temporary=False
            )
        except Exception as error:
            run.refresh_from_db(fields=["rows_read", "stage", "version"])
            run_finish(run, RunState.FAILED, error=f"Internal error: {error}", temporary=False)
            raise
        except KeyboardInterrupt:
            # Ended at once, not left "running" until a worker's sweep finds it abandoned.
            run.refresh_from_db(fields=["rows_read", "stage", "version"])
            run_finish(run, RunState.FAILED, error=INTERRUPTED.capitalize(), temporary=False)
            raise
        # Finished while the lock is still held: a run marked running without its lock is one
        # the sweep fails as abandoned.
        run.refresh_from_db(fields=["rows_read", "stage"])
        return run_finish(
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
