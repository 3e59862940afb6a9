"""Reads of sources and ingest runs, always through the dataset gate."""

from typing import Any

from django.db.models import QuerySet

from infraplan.accounts.models import Organisation
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.selectors import parts_managed, upload_organisation_choices

from .models import IngestRun, Source


def source_organisation_choices(
    user: Any, dataset: Dataset, source: Source | None
) -> list[tuple[str, str]]:
    """Whose data a source may hold (slug, name): what an upload offers ``user``, and, when
    changing ``source``, the organisation whose part it loads already. A data manager of the
    dataset who changes another organisation's source keeps it that organisation's: offered
    only their own part and the whole dataset, saving would move the source onto one of them."""
    choices = upload_organisation_choices(user, dataset)
    parts = parts_managed(user, dataset)
    if parts is not None:  # a data manager of a contributing council: its own parts only
        slugs = set(Organisation.objects.filter(pk__in=parts).values_list("slug", flat=True))
        choices = [(slug, name) for slug, name in choices if slug in slugs]
    held = source.organisation if source is not None else None
    if held is not None and held.slug not in {slug for slug, _ in choices}:
        choices.insert(0, (held.slug, held.name))
    return choices


def ingest_runs_visible(user: Any, action: str = "view") -> QuerySet[IngestRun]:
    """Runs of the datasets ``user`` may ``action``: the one gate decides, not this module."""
    return IngestRun.objects.filter(
        dataset__in=Dataset.objects.permitting(user, action)
    ).select_related("dataset", "organisation", "version", "requested_by")


def ingest_run_status(run: IngestRun) -> dict[str, Any]:
    """What a progress display needs, as plain data (a JSON status endpoint returns it)."""
    return {
        "id": run.pk,
        "state": run.state,
        "stage": run.stage,
        "rows_read": run.rows_read,
        "attempts": run.attempts,
        "retry_at": run.retry_at.isoformat() if run.retry_at else None,
        "error": run.error,
        "version": run.version.number if run.version_id else None,
        "finished": not run.is_active,
    }
