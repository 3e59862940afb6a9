"""Background tasks of the places app: thin wrappers around services."""

from pathlib import Path

from django.conf import settings
from procrastinate.contrib.django import app

from .services import postcodes_load

POSTCODES_LOAD_LOCK = "places.postcodes_load"


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
