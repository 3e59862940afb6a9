"""The search page and its JSON, for the map's search box."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_safe

from infraplan.audit.services import audit_record_read

from .search_examples import search_formats, search_hint_examples
from .search_results import MapChoice
from .selectors import MAX_QUERY_LENGTH, search


def _wants_json(request: HttpRequest) -> bool:
    if request.GET.get("format") == "json":
        return True
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


@require_safe
def search_view(request: HttpRequest) -> HttpResponse:
    """``/search/?q=``: places, postcodes, coordinates and features the user may see. The
    map's ``layers``, ``as_of`` and ``ended`` that come with a search (from the map's form)
    are kept in the links of its results; names are searched among the features that map
    shows."""
    choice = MapChoice.from_query(request.GET)
    outcome = search(request.user, request.GET.get("q", ""), choice=choice)
    for dataset in outcome.datasets:
        if not dataset.is_public:
            audit_record_read(actor=request.user, action="dataset.read.search", target=dataset)
    if _wants_json(request):
        response = JsonResponse(outcome.as_json())
    else:
        response = render(
            request,
            "places/search.html",
            {
                "outcome": outcome,
                "formats": search_formats(),
                "hint_examples": search_hint_examples(),
                "max_length": MAX_QUERY_LENGTH,
                "map_choice": choice.query(),
            },
        )
    # What a search finds depends on who asks (the gate) and on the format asked for.
    patch_cache_control(response, private=True, max_age=0)
    patch_vary_headers(response, ["Cookie", "Accept"])
    return response
