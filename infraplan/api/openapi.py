"""The OpenAPI 3.0 definition of the OGC API, linked from the landing page as ``service-desc``.

One document for everyone: the collections are a path parameter, so the definition never names
a dataset someone may not see. Clients read the limits from it (GDAL takes ``limit``'s maximum
as its page size).
"""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from .crs import CRS84, SUPPORTED
from .params import DEFAULT_LIMIT, MAX_LIMIT


def _parameter(name: str, where: str, description: str, schema: dict, **extra: Any) -> dict:
    return {"name": name, "in": where, "description": description, "schema": schema, **extra}


def _json(description: str, media_type: str = "application/json") -> dict:
    return {"description": description, "content": {media_type: {"schema": {"type": "object"}}}}


CRS_URIS = [crs.uri for crs in SUPPORTED]
PARAMETERS = {
    "collectionId": _parameter(
        "collectionId", "path", "The collection's identifier (the dataset's slug).",
        {"type": "string"}, required=True,
    ),
    "featureId": _parameter(
        "featureId", "path", "The feature's identifier (the one its map tiles carry).",
        {"type": "integer"}, required=True,
    ),
    "f": _parameter("f", "query", "The format of the answer: JSON only.",
                    {"type": "string", "enum": ["json"], "default": "json"}),
    "limit": _parameter(
        "limit", "query", "How many features a page holds at most.",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    ),
    "offset": _parameter(
        "offset", "query", "How many matching features to skip (in the order of their ids).",
        {"type": "integer", "minimum": 0, "default": 0},
    ),
    "bbox": _parameter(
        "bbox", "query", "Only features meeting this box: lower left and upper right corner, "
        "in bbox-crs and its axis order (EPSG:4326 is latitude first). Two dimensions only. "
        "In EPSG:27700, metres on the grid: a box off it, or of numbers that look like "
        "degrees, is refused.",
        {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
        style="form", explode=False,
    ),
    "bbox-crs": _parameter("bbox-crs", "query", "The coordinate system of bbox; only with "
                           "bbox (alone, it is refused).",
                           {"type": "string", "format": "uri", "enum": CRS_URIS,
                            "default": CRS84.uri}),
    "crs": _parameter("crs", "query", "The coordinate system of the geometries in the answer "
                      "(the Content-Crs header names it).",
                      {"type": "string", "format": "uri", "enum": CRS_URIS,
                       "default": CRS84.uri}),
    "datetime": _parameter(
        "datetime", "query", "Only features whose own validity (their start and end date "
        "properties, as the source gives them) meets this date or period: 2024-03-27, "
        "2024-01-01/2024-12-31, 2024-01-01/.. or ../2024-12-31. Ended features are "
        "included when they were live then.", {"type": "string"},
    ),
    "as_of": _parameter(
        "as_of", "query", "The dataset as the platform had published it at the end of this "
        "day (YYYY-MM-DD); today is now, a date to come is a 400. Before the first publish: 404.",
        {"type": "string", "format": "date"},
    ),
    "ended": _parameter(
        "ended", "query", "Without datetime, features their source says have ended (by today, "
        "or as_of) are left out; show includes them.",
        {"type": "string", "enum": ["hide", "show"], "default": "hide"},
    ),
}  # fmt: skip
ITEMS_PARAMETERS = [
    "collectionId", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "as_of", "ended",
    "f",
]  # fmt: skip
ITEM_PARAMETERS = ["collectionId", "featureId", "crs", "as_of", "ended", "f"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _get(summary: str, operation: str, parameters: list[str], ok: dict, tag: str) -> dict:
    responses = {"200": ok, "400": {"$ref": "#/components/responses/BadRequest"}}
    if "collectionId" in parameters:
        responses["404"] = {"$ref": "#/components/responses/NotFound"}
    return {"get": {
        "summary": summary, "operationId": operation, "tags": [tag],
        "parameters": [_ref(name) for name in parameters], "responses": responses,
    }}  # fmt: skip


def openapi_document(request: HttpRequest) -> dict[str, Any]:
    profile = settings.AUTHORITY_PROFILE
    base = request.build_absolute_uri(reverse("ogcapi-landing")).rstrip("/")
    geojson = "application/geo+json"
    exception = {
        "description": "An OGC exception: what was wrong, for the client's user.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/exception"}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"{profile.authority.service_name}: OGC API - Features",
            "description": "The platform's spatial datasets as OGC API - Features (Part 1 Core, "
            "GeoJSON, OpenAPI 3.0; Part 2 CRS by reference; Part 3 queryables as query "
            "parameters). Public datasets need no sign-in; others need an API token "
            "(Authorization: Bearer, or as the password of HTTP Basic) or a session.",
            "version": "1.0.0",
            "contact": {"name": profile.authority.name, "email": profile.authority.contact_email},
        },
        "servers": [{"url": base}],
        "tags": [{"name": "Capabilities"}, {"name": "Data"}],
        "components": {
            "parameters": PARAMETERS,
            "schemas": {
                "exception": {
                    "type": "object",
                    "required": ["code"],
                    "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
                }
            },
            "responses": {"BadRequest": exception, "NotFound": exception},
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token made at /accounts/tokens/.",
                },
            },
        },
        "security": [{}, {"token": []}],
        "paths": {
            "/": _get(
                "The landing page",
                "getLandingPage",
                ["f"],
                _json("Links to the API's parts."),
                "Capabilities",
            ),
            "/openapi": _get(
                "This API definition",
                "getOpenAPI",
                ["f"],
                _json("OpenAPI 3.0", "application/vnd.oai.openapi+json;version=3.0"),
                "Capabilities",
            ),
            "/conformance": _get(
                "The standards this API conforms to",
                "getConformance",
                ["f"],
                _json("The conformance classes."),
                "Capabilities",
            ),
            "/collections": _get(
                "The collections the caller may see",
                "getCollections",
                ["f"],
                _json("The collections."),
                "Capabilities",
            ),
            "/collections/{collectionId}": _get(
                "A collection's description",
                "describeCollection",
                ["collectionId", "f"],
                _json("Extent, coordinate systems and links."),
                "Capabilities",
            ),
            "/collections/{collectionId}/queryables": _get(
                "The fields features may be filtered by (?field=value)",
                "getQueryables",
                ["collectionId", "f"],
                _json("A JSON Schema.", "application/schema+json"),
                "Capabilities",
            ),
            "/collections/{collectionId}/items": _get(
                "A page of the collection's features; any field of its queryables is a filter "
                "too: ?status=pending&status=permitted keeps either, ?status= those whose "
                "status is unknown",
                "getFeatures",
                ITEMS_PARAMETERS,
                _json(
                    "A GeoJSON FeatureCollection with numberMatched, numberReturned and "
                    "next/prev links.",
                    geojson,
                ),
                "Data",
            ),
            "/collections/{collectionId}/items/{featureId}": _get(
                "One feature",
                "getFeature",
                ITEM_PARAMETERS,
                _json("A GeoJSON Feature.", geojson),
                "Data",
            ),
        },
    }
