"""What the catalogue's pages, and the sources' pages, look up alike: a dataset through the
gate (404 otherwise), the parts and the source of it the user manages, and the addresses of
a dataset's page and of a load's."""

from typing import Any

from django.http import Http404, HttpRequest
from django.urls import reverse

from infraplan.connectors.models import Source

from ..access import Action
from ..models import Dataset
from ..selectors import dataset_source, dataset_visible, parts_managed


def dataset_or_404(request: HttpRequest, slug: str, action: Action) -> Dataset:
    """The dataset ``slug`` if the user may do ``action`` on it; 404 for unknown and not
    permitted alike."""
    dataset = dataset_visible(request.user, slug, action)
    if dataset is None:
        raise Http404("No such dataset.")
    return dataset


def sources_dataset_or_404(request: HttpRequest, slug: str) -> tuple[Dataset, set[int] | None]:
    """The dataset ``slug`` for working on its sources, with the parts the user manages
    (``parts_managed``: None for the whole dataset); 404 for those who manage no part of it."""
    dataset = dataset_or_404(request, slug, Action.CONTRIBUTE)
    parts = parts_managed(request.user, dataset)
    if parts is not None and not parts:
        raise Http404("No such dataset.")
    return dataset, parts


def source_managed_or_404(dataset: Dataset, source_id: int, parts: set[int] | None) -> Source:
    """Source ``source_id`` of ``dataset`` if it loads a part the user manages."""
    source = dataset_source(dataset, source_id)
    if source is None or (parts is not None and source.organisation_id not in parts):
        raise Http404("No such source.")
    return source


def dataset_url(dataset: Dataset) -> str:
    return reverse("dataset-detail", kwargs={"slug": dataset.slug})


def run_url(run: Any) -> str:
    return reverse("dataset-run", kwargs={"slug": run.dataset.slug, "run_id": run.pk})
