"""Background tasks of the connectors: loads, and the minute tick that refreshes sources."""

from procrastinate import RetryDecision
from procrastinate.contrib.django import app
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy

from .run_execution import IngestRetry, ingest_run_execute
from .run_sweep import ingest_runs_sweep
from .sources import source_refresh_due


class _RetryWhenAsked(BaseRetryStrategy):
    """Retry a load only when its body says so (IngestRetry: a temporary failure with attempts
    left), at the time it chose and recorded on the run for the page to show."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, IngestRetry):
            return RetryDecision(retry_at=exception.retry_at)
        return None


@app.task(name="connectors.ingest_run", queue="ingest", pass_context=True, retry=_RetryWhenAsked())
def ingest_run_task(context, run_id: int) -> str:
    """Run one requested load; returns the run's final state."""
    return ingest_run_execute(run_id, attempt=context.job.attempts + 1).state


@app.periodic(cron="* * * * *", periodic_id="every-minute")
@app.task(name="connectors.sources_tick", queueing_lock="connectors.sources_tick")
def sources_tick_task(timestamp: int) -> dict[str, int]:
    """Every minute: fail the loads whose worker died, then start the sources that are due."""
    swept = ingest_runs_sweep()
    started = source_refresh_due()
    return {"swept": len(swept), "started": len(started)}
