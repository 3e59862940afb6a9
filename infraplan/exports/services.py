"""What a download leaves behind: a download of restricted data is a read the audit log records
(once per person, dataset and hour) and a security event (``export.restricted``), whether it
was asked for on the web or on the command line.

Downloads on the web are counted for the usage figures by the usage log, as every request is:
each format has a route of its own (``dataset-download-<format>``), so they are counted by
format. Downloads on the command line are not requests, and are not counted there.
"""

from typing import Any

from django.http import HttpRequest

from infraplan.audit.security import security_event
from infraplan.audit.services import audit_record_read
from infraplan.catalogue.models import AccessLevel, Dataset


def download_record(
    *, actor: Any, datasets: list[Dataset], key: str, request: HttpRequest | None = None,
    via: str = "web",
) -> None:  # fmt: skip
    """Record a download in format ``key`` by ``actor`` (None: the platform, from the command
    line) that read ``datasets`` (its own, and the boundaries of an area), for those that are
    restricted."""
    restricted = [dataset for dataset in datasets if dataset.access_level != AccessLevel.PUBLIC]
    if not restricted:
        return
    for dataset in restricted:
        audit_record_read(actor=actor, action="dataset.read.download", target=dataset)
    security_event(
        "export.restricted", request=request, user=actor, format=key,
        datasets=[dataset.slug for dataset in restricted], via=via,
    )  # fmt: skip
