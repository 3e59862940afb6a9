"""Background tasks of the catalogue: thin wrappers around services."""

from procrastinate.contrib.django import app

from .demo import demo_load

DEMO_LOAD_LOCK = "catalogue.demo_load"


@app.task(
    name="catalogue.demo_load", queue="ingest", queueing_lock=DEMO_LOAD_LOCK, lock=DEMO_LOAD_LOCK
)
def demo_load_task() -> dict[str, int]:
    """Load the demo datasets; returns each dataset's current version number."""
    return {version.dataset.slug: version.number for version in demo_load()}
