"""OGC API - Features under /ogcapi/: adapters that parse, ask the selectors, and answer JSON.

Every collection is found through the one gate (``selectors.collection_get``); a collection
someone may not see is the same 404 as one that does not exist. Errors are OGC exceptions.
Public data is cacheable by anyone and readable by web pages of any origin (CORS); anything
restricted is private to the person (session or API token) and not shared across origins.
"""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import Resolver404, resolve
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt

from infraplan.audit.services import audit_record_read
from infraplan.catalogue.caching import PUBLIC_CACHE_CONTROL
from infraplan.catalogue.models import Dataset
from infraplan.core.heavy import RETRY_AFTER_SECONDS, Busy, Held, slot_take

from . import documents
from .errors import METHOD_NOT_ALLOWED, OGCError, error_response, not_found
from .openapi import openapi_document
from .params import COMMON, ItemQuery, ItemsQuery, known_only
from .selectors import (
    Page,
    collection_get,
    collections_visible,
    current_versions,
    item_get,
    item_successor,
    source_then,
)

# The largest id PostgreSQL's bigint holds: any larger names no feature (and is no SQL value).
MAX_FEATURE_ID = 2**63 - 1
SAFE_METHODS = ("GET", "HEAD")
LIGHT_PAGE = 1_000  # features: a page of at most this many takes no heavy-request slot


def ogc_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """GET and HEAD only; an OGCError raised anywhere becomes its OGC exception answer.

    Exempt from the CSRF check, which guards writes: these views write nothing and refuse every
    other method themselves, so a POST gets the API's own 405 exception, not a web page."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in SAFE_METHODS:
            response = error_response(
                OGCError(405, METHOD_NOT_ALLOWED, f"{request.method} is not allowed: this API "
                         "only reads (GET)."),
            )  # fmt: skip
            response["Allow"] = ", ".join(SAFE_METHODS)
            return response
        try:
            return view(request, *args, **kwargs)
        except OGCError as error:
            return error_response(error)

    return wrapped


def _cache(response: HttpResponse, *, public: bool, varies: bool = False) -> HttpResponse:
    """``public``: the same for everyone who may see it, so any cache may keep it and any web
    page may read it (``Access-Control-Allow-Origin: *``, which browsers never combine with
    cookies or credentials, so a page elsewhere reads only what an anonymous visitor would).
    ``varies``: the same address answers someone signed in with more."""
    if public:
        response["Cache-Control"] = PUBLIC_CACHE_CONTROL
        response["Access-Control-Allow-Origin"] = "*"
        response["Access-Control-Expose-Headers"] = "Content-Crs"
    else:
        response["Cache-Control"] = "private, max-age=300"
    if varies or not public:
        patch_vary_headers(response, ["Cookie", "Authorization"])
    return response


def _json(document: dict[str, Any], content_type: str = documents.JSON) -> HttpResponse:
    return HttpResponse(json.dumps(document), content_type=content_type)


def _is_public(dataset: Dataset) -> bool:
    return dataset.is_public  # a withdrawn dataset is read only by those who manage it


def _features_type(request: HttpRequest) -> str:
    """GeoJSON's own type, unless the client asks for plain JSON and not GeoJSON."""
    accept = request.headers.get("Accept", "")
    if documents.GEOJSON not in accept and documents.JSON in accept:
        return documents.JSON
    return documents.GEOJSON


def _features_response(
    request: HttpRequest, response: HttpResponse, dataset: Dataset, crs_uri: str
) -> HttpResponse:
    response["Content-Crs"] = f"<{crs_uri}>"
    patch_vary_headers(response, ["Accept"])
    if not _is_public(dataset):
        # Restricted data read: recorded once per person, dataset and hour, as tiles are.
        audit_record_read(actor=request.user, action="dataset.read.ogcapi", target=dataset)
    return _cache(response, public=_is_public(dataset))


@ogc_view
def landing_view(request: HttpRequest) -> HttpResponse:
    known_only(request.GET, COMMON)
    return _cache(_json(documents.landing(request)), public=True)


@ogc_view
def openapi_view(request: HttpRequest) -> HttpResponse:
    known_only(request.GET, COMMON)
    return _cache(_json(openapi_document(request), documents.OPENAPI), public=True)


@ogc_view
def conformance_view(request: HttpRequest) -> HttpResponse:
    known_only(request.GET, COMMON)
    return _cache(_json(documents.conformance()), public=True)


@ogc_view
def collections_view(request: HttpRequest) -> HttpResponse:
    """The collections the person may see: an anonymous visitor's list is everyone's."""
    known_only(request.GET, COMMON)
    datasets = list(collections_visible(request.user))
    document = documents.collections(request, datasets, current_versions(datasets))
    public = not request.user.is_authenticated
    return _cache(_json(document), public=public, varies=True)


@ogc_view
def collection_view(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = collection_get(request.user, slug)
    known_only(request.GET, COMMON)
    version = current_versions([dataset]).get(dataset.pk)
    document = documents.collection(request, dataset, version)
    return _cache(_json(document), public=_is_public(dataset))


@ogc_view
def queryables_view(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = collection_get(request.user, slug)
    known_only(request.GET, COMMON)
    document = documents.queryables(request, dataset)
    return _cache(_json(document, documents.SCHEMA), public=_is_public(dataset))


@ogc_view
def items_view(request: HttpRequest, slug: str) -> HttpResponse:
    """A page of features, streamed as it is read (up to 10,000 features)."""
    dataset = collection_get(request.user, slug)
    query = ItemsQuery.parse(request.GET, dataset)
    page = Page(dataset, source_then(dataset, query.moment), query)
    body = documents.items_stream(request, dataset, page)
    # A large page holds a slot for heavy requests; the pages GIS software pages through a
    # layer with are light, and are never refused for downloads being made elsewhere.
    if query.limit > LIGHT_PAGE:
        try:
            body = Held(body, slot_take())
        except Busy:
            raise OGCError(
                503, "ServiceUnavailable", "The service is busy answering other large requests; "
                f"try again in {RETRY_AFTER_SECONDS} seconds, or ask for at most {LIGHT_PAGE:,} "
                "features a page.",
            ) from None  # fmt: skip
    response = StreamingHttpResponse(body, content_type=_features_type(request))
    return _features_response(request, response, dataset, query.crs.uri)


@ogc_view
def item_view(request: HttpRequest, slug: str, feature_id: int) -> HttpResponse:
    dataset = collection_get(request.user, slug)
    query = ItemQuery.parse(request.GET)
    source = source_then(dataset, query.moment)
    if feature_id > MAX_FEATURE_ID:
        raise not_found(f"{dataset.title} has no feature {feature_id}.")
    try:
        row = item_get(dataset, source, feature_id, query)
    except OGCError as missing:
        # A link kept from before the feature changed: sent on to it as it is at this moment
        # (the same organisation's feature of the same reference), not left a dead end.
        successor = item_successor(dataset, source, feature_id, query)
        if successor is None:
            raise missing from None
        address = request.path.rsplit("/", 1)[0] + f"/{successor}"
        query_string = request.META.get("QUERY_STRING", "")
        return HttpResponseRedirect(address + (f"?{query_string}" if query_string else ""))
    response = HttpResponse(
        documents.feature_text(request, dataset, row, query.moment.day),
        content_type=_features_type(request),
    )
    return _features_response(request, response, dataset, query.crs.uri)


@ogc_view
def not_found_view(request: HttpRequest, rest: str) -> HttpResponse:
    """Any other address under /ogcapi/: an OGC exception rather than a web page; an API
    address with a final '/' is sent to the one without (``/ogcapi/collections/``)."""
    if rest.endswith("/"):
        path = request.path.rstrip("/")
        try:
            name = resolve(path).url_name or ""
        except Resolver404:
            name = ""
        if name.startswith("ogcapi-") and name != "ogcapi-not-found":
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(f"{path}?{query}" if query else path)
    raise not_found(f"There is nothing at /ogcapi/{rest}: start from the landing page, /ogcapi/.")
