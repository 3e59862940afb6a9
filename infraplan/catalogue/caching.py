"""Who may keep a copy of an answer made from datasets: the one rule for every view that serves
their data (tiles, pop-ups, the map's table and picture, downloads)."""

from collections.abc import Iterable

from django.http import HttpResponseBase
from django.utils.cache import patch_vary_headers

from .models import Dataset

# What a shared cache may keep of public data: five minutes, so a publish is seen soon after.
PUBLIC_CACHE_CONTROL = "public, max-age=300"


def dataset_cache_headers(
    response: HttpResponseBase, datasets: Iterable[Dataset], *, left_out: bool = False
) -> HttpResponseBase:
    """Public data may be cached by anyone; anything restricted (or withdrawn: its managers
    still read it) only by the browser, per user.

    ``left_out``: a dataset asked for is not among ``datasets`` (the gate may have dropped it),
    so the same URL may answer someone else, or the same person signed in, with more.
    """
    if not left_out and all(dataset.is_public for dataset in datasets):
        response["Cache-Control"] = PUBLIC_CACHE_CONTROL
    else:
        response["Cache-Control"] = "private, max-age=300"
        patch_vary_headers(response, ["Cookie", "Authorization"])  # a session or an API token
    return response
