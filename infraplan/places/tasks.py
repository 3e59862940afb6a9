"""Background tasks of the places app: thin wrappers around services."""

from pathlib import Path

from django.conf import settings
from procrastinate.contrib.django import app

from .name_index import name_indexes_ensure
from .services import postcodes_load

POSTCODES_LOAD_LOCK = "places.postcodes_load"
NAME_INDEXES_LOCK = "places.name_indexes"


@app.task(
    name="places.postcodes_load",
    queue="ingest",
    queueing_lock=POSTCODES_LOAD_LOCK,
    lock=POSTCODES_LOAD_LOCK,
)
def postcodes_load_task(path: str) -> dict[str, object]:
    """Load the postcode directory at ``path`` (relative paths are in DEMO_DATA_DIR) if it
    changed; returns whether it did, the row count and the seconds it took."""
    source = Path(path)
    if not source.is_absolute():
        source = Path(settings.DEMO_DATA_DIR) / source
    result = postcodes_load(path=source, actor=None)
    return {"changed": result.changed, "rows": result.rows, "seconds": round(result.seconds, 2)}


# On the ingest queue, after the loads that make the names to index: one worker runs them one at
# a time, and the schedule worker's minute tick is never held up by a build.
@app.periodic(cron="* * * * *", periodic_id="name-indexes")
@app.task(
    name="places.name_indexes", queue="ingest", queueing_lock=NAME_INDEXES_LOCK,
    lock=NAME_INDEXES_LOCK,
)  # fmt: skip
def name_indexes_task(timestamp: int) -> dict[str, list[str]]:
    """Every minute: build the search's names indexes that datasets lack (``name_index``)."""
    return name_indexes_ensure()
