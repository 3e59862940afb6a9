"""Background tasks of the catalogue: thin wrappers around services."""

from procrastinate.contrib.django import app

from .demo import demo_load
from .problem_retention import version_problems_expire
from .uploads import uploads_kept_sweep

DEMO_LOAD_LOCK = "catalogue.demo_load"


@app.task(
    name="catalogue.demo_load", queue="ingest", queueing_lock=DEMO_LOAD_LOCK, lock=DEMO_LOAD_LOCK
)
def demo_load_task() -> dict[str, int]:
    """Load the demo datasets; returns each dataset's current version number."""
    return {version.dataset.slug: version.number for version in demo_load()}


@app.periodic(cron="23 * * * *", periodic_id="uploads-kept-sweep")
@app.task(name="catalogue.uploads_kept_sweep", queueing_lock="catalogue.uploads_kept_sweep")
def uploads_kept_sweep_task(timestamp: int) -> int:
    """Every hour: delete the files kept from upload forms with errors that nobody came back
    for within a day (``uploads.KEPT_FOR``); returns how many."""
    return uploads_kept_sweep()


@app.periodic(cron="41 3 * * *", periodic_id="version-problems-expire")
@app.task(
    name="catalogue.version_problems_expire", queueing_lock="catalogue.version_problems_expire"
)
def version_problems_expire_task(timestamp: int) -> int:
    """Every night: delete the stored problems of loads never published that ended more than
    ``LOAD_PROBLEMS_KEPT_DAYS`` ago (``problem_retention``); returns how many."""
    return version_problems_expire()
