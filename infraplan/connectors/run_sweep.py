"""The sweep of runs nothing will finish: a running one whose process died (nobody holds its
advisory lock, see ``run_execution``) and a queued one whose job will never run it. Each is
failed, saying why, so that its dataset part's next loads are not held up behind it."""

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone
from procrastinate import sql as procrastinate_sql
from procrastinate.contrib.django.models import ProcrastinateJob

from infraplan.audit.services import audit_record
from infraplan.catalogue.models import VersionState
from infraplan.catalogue.publishing import version_fail

from .models import IngestRun, RunState
from .run_execution import RUN_LOCK_CLASS, run_finish

# A worker silent this long is gone (it beats every 10 s; procrastinate prunes it after 30 s).
WORKER_GONE_AFTER = timedelta(minutes=2)
# A load the command line recorded and has not begun within this long never will.
COMMAND_START_WITHIN = timedelta(minutes=10)


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
                        f"{run.stage or 'starting'}, {run.rows_read:,} rows read). Ask for the "
                        f"{run.noun} again."
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
            error = f"The {run.noun} never started: {why}. Ask for the {run.noun} again."
            _run_abandon(run, error)
            swept.append(run)
    return swept


def _run_abandon(run: IngestRun, error: str) -> None:
    """Fail a run nothing will finish, with its draft version; audited. Its task-queue job, if
    left "doing", is finished as failed so the dataset's next load is not held up behind its
    lock. Call inside a transaction holding the run's row."""
    if run.version and run.version.state == VersionState.DRAFT:
        version_fail(actor=None, version=run.version, report={"error": error})
    run_finish(run, RunState.FAILED, error=error, temporary=False)
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
