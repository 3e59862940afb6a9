"""The JSON documents of the OGC API: landing page, conformance, collections, features.

Links are absolute (clients such as GDAL follow them as given) and keep every parameter of the
request that made them, so a ``next`` link keeps the filters, the CRS and the date.
"""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, QueryDict
from django.urls import reverse

from infraplan.catalogue.models import Dataset, DatasetVersion
from infraplan.catalogue.publishing import version_extent_record
from infraplan.catalogue.store import StoreFeatureSource
from infraplan.exports.table import property_value
from infraplan.maps.ended import ended_on

from .crs import CRS84, STORAGE, SUPPORTED
from .params import ITEMS
from .selectors import Page, Row

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA = "application/schema+json"
HTML = "text/html"

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
]
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
# The formats of /datasets/<slug>/download.<fmt> (the interface contract), with their types.
DOWNLOADS = {
    "csv": ("text/csv", "CSV"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel"),
    "geojson": (GEOJSON, "GeoJSON"),
    "gpkg": ("application/geopackage+sqlite3", "GeoPackage"),
    "png": ("image/png", "PNG map"),
}
# Licences a dataset's licence text may name, and where each is published.
LICENCES = {
    "Open Government Licence v3.0": (
        "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
    ),
    "CC BY 4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "Open Data Commons Open Database License": "https://opendatacommons.org/licenses/odbl/1-0/",
    "ODbL": "https://opendatacommons.org/licenses/odbl/1-0/",
}
# JSON Schema types of the field schema's types (queryables).
FIELD_TYPES = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
}


def link(href: str, rel: str, media_type: str, title: str = "") -> dict[str, str]:
    entry = {"href": href, "rel": rel, "type": media_type}
    if title:
        entry["title"] = title
    return entry


def absolute(
    request: HttpRequest, path: str, query: dict[str, Any] | QueryDict | None = None
) -> str:
    """``path`` as an absolute address, with ``query`` (as given, repeated values kept)."""
    if query:
        encoded = query.urlencode() if isinstance(query, QueryDict) else _encode(query)
        path = f"{path}?{encoded}" if encoded else path
    return request.build_absolute_uri(path)


def _encode(query: dict[str, Any]) -> str:
    values = QueryDict(mutable=True)
    for name, value in query.items():
        values[name] = str(value)
    return values.urlencode()


def landing(request: HttpRequest) -> dict[str, Any]:
    profile = settings.AUTHORITY_PROFILE
    return {
        "title": profile.authority.service_name,
        "description": f"{profile.authority.name}'s datasets as OGC API - Features: GeoJSON, "
        "in CRS84, EPSG:4326, EPSG:27700 (British National Grid) or EPSG:3857.",
        "links": [
            link(absolute(request, reverse("ogcapi-landing")), "self", JSON, "This document"),
            link(absolute(request, reverse("ogcapi-openapi")), "service-desc", OPENAPI,
                 "The API definition (OpenAPI 3.0)"),
            link(absolute(request, reverse("ogcapi-conformance")), "conformance", JSON,
                 "The standards this API conforms to"),
            link(absolute(request, reverse("ogcapi-collections")), "data", JSON,
                 "The collections of features"),
            link(absolute(request, reverse("dataset-list")), "service-doc", HTML,
                 "The datasets' pages, the human view"),
        ],
    }  # fmt: skip


def conformance() -> dict[str, Any]:
    return {"conformsTo": CONFORMANCE}


def _licence_links(request: HttpRequest, dataset: Dataset) -> list[dict[str, str]]:
    """A link to each licence the dataset's licence text names; else to its page, which
    gives the text."""
    named = [
        link(href, "license", HTML, name)
        for name, href in LICENCES.items()
        if name.lower() in dataset.licence.lower()
    ]
    unique = list({entry["href"]: entry for entry in named}.values())
    page = absolute(request, reverse("dataset-detail", kwargs={"slug": dataset.slug}))
    return unique or [link(page, "license", HTML, dataset.licence)]


def _extent(dataset: Dataset, version: DatasetVersion | None) -> dict[str, Any]:
    """The current version's extent, measured when it was published, in CRS84; the period the
    dataset describes, from its metadata."""
    extent: dict[str, Any] = {}
    if version is not None and dataset.source_key == StoreFeatureSource.key:
        measured = version.extent
        if measured is None:
            measured = version_extent_record(version=version)
        if measured.get("wgs84"):
            extent["spatial"] = {"bbox": [[round(v, 7) for v in measured["wgs84"]]],
                                 "crs": CRS84.uri}  # fmt: skip
    start, end = dataset.temporal_start, dataset.temporal_end
    if start or end:
        extent["temporal"] = {
            "interval": [[f"{start}T00:00:00Z" if start else None,
                          f"{end}T23:59:59Z" if end else None]],
            "trs": TRS,
        }  # fmt: skip
    return extent


def collection(
    request: HttpRequest, dataset: Dataset, version: DatasetVersion | None
) -> dict[str, Any]:
    """A collection's description; ``version`` is the dataset's current one (its extent)."""
    slug = dataset.slug
    here = reverse("ogcapi-collection", kwargs={"slug": slug})
    links = [
        link(absolute(request, here), "self", JSON, "This document"),
        link(absolute(request, reverse("ogcapi-items", kwargs={"slug": slug})), "items",
             GEOJSON, "The features"),
        link(absolute(request, reverse("ogcapi-queryables", kwargs={"slug": slug})),
             QUERYABLES_REL, SCHEMA, "The fields the features may be filtered by"),
        link(absolute(request, reverse("dataset-detail", kwargs={"slug": slug})),
             "describedby", HTML, "The dataset's page: metadata, quality, versions"),
        *_licence_links(request, dataset),
        *(
            link(absolute(request, f"/datasets/{slug}/download.{fmt}"), "enclosure", media,
                 f"Download as {label}")
            for fmt, (media, label) in DOWNLOADS.items()
        ),
    ]  # fmt: skip
    document = {
        "id": slug,
        "title": dataset.title,
        "description": dataset.abstract,
        "keywords": list(dataset.keywords),
        "attribution": dataset.attribution,
        "itemType": "feature",
        "crs": [crs.uri for crs in SUPPORTED],
        "storageCrs": STORAGE.uri,
        "links": links,
    }
    extent = _extent(dataset, version)
    if extent:
        document["extent"] = extent
    return document


def collections(
    request: HttpRequest, datasets: list[Dataset], versions: dict[int, DatasetVersion]
) -> dict[str, Any]:
    return {
        "links": [
            link(absolute(request, reverse("ogcapi-collections")), "self", JSON, "This document")
        ],
        "collections": [
            collection(request, dataset, versions.get(dataset.pk)) for dataset in datasets
        ],
    }


def queryables(request: HttpRequest, dataset: Dataset) -> dict[str, Any]:
    """The fields of the dataset's schema that can be filtered by as query parameters (Part 3
    style JSON Schema); a field named as one of the API's own parameters cannot be."""
    properties = {}
    for field in dataset.field_schema:
        name = field["name"]
        if name in ITEMS:
            continue
        properties[name] = {
            "title": field.get("title") or name,
            **FIELD_TYPES.get(field.get("type", "string"), {}),
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": absolute(request, reverse("ogcapi-queryables", kwargs={"slug": dataset.slug})),
        "type": "object",
        "title": dataset.title,
        "properties": properties,
        "additionalProperties": False,
    }


def feature_properties(dataset: Dataset, row: Row, day: date) -> dict[str, Any]:
    """The feature's reference, for a dataset with several publishers the slug of the
    organisation whose part it is in (``organisation``), its schema's fields in order (null when
    it has none, unknown, or its value is empty text, as in downloads:
    ``exports.table.property_value``), its other properties, then the district and ward it
    lies in, and ``ended`` (the date) when its source says it had ended by ``day`` (shown with
    ``ended=show`` or a ``datetime``). A property of the source's own with one of those names
    keeps it: the source's data is never hidden. The organisation alone is the platform's
    whatever the source has, as in downloads (``exports.table``): it is what tells two councils'
    features apart, and a source's own ``organisation`` (a brownfield register's publisher
    code) is then written as ``property_organisation``."""
    own = row.properties
    schema = [field["name"] for field in dataset.field_schema]
    taken = set(own) | set(schema)
    properties: dict[str, Any] = {}
    if "reference" not in taken:
        properties["reference"] = row.reference
    if row.organisation:
        properties["organisation"] = row.organisation
    for name in [*schema, *sorted(set(own) - set(schema))]:
        written = "property_organisation" if row.organisation and name == "organisation" else name
        properties[written] = property_value(own, name)
    for name, code in (("district", row.district), ("ward", row.ward)):
        if name not in taken:
            properties[name] = code or None
    ended = ended_on(own)
    if ended is not None and ended <= day and "ended" not in taken:
        properties["ended"] = ended.isoformat()
    return properties


def _moment_query(query: QueryDict) -> dict[str, str]:
    """The parameters that decide which feature an id names and how it is written."""
    return {name: query[name] for name in ("as_of", "ended", "crs") if name in query}


def feature_text(request: HttpRequest, dataset: Dataset, row: Row, day: date) -> str:
    """A GeoJSON feature as text, its geometry as PostGIS wrote it (``day``: the day ended
    features are judged on)."""
    slug = dataset.slug
    item = reverse("ogcapi-item", kwargs={"slug": slug, "feature_id": row.id})
    links = [
        link(absolute(request, item, _moment_query(request.GET)), "self", GEOJSON, "This feature"),
        link(absolute(request, reverse("ogcapi-collection", kwargs={"slug": slug})),
             "collection", JSON, dataset.title),
    ]  # fmt: skip
    return (
        f'{{"type": "Feature", "id": {row.id}, "geometry": {row.geometry}, '
        f'"properties": {json.dumps(feature_properties(dataset, row, day))}, '
        f'"links": {json.dumps(links)}}}'
    )


def time_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _page_link(request: HttpRequest, offset: int, rel: str, media_type: str) -> dict[str, str]:
    query = request.GET.copy()
    query["offset"] = str(offset)
    return link(absolute(request, request.path, query), rel, media_type)


def items_stream(request: HttpRequest, dataset: Dataset, page: Page) -> Iterator[str]:
    """The FeatureCollection of ``page`` in pieces: the features as they are read, then the
    counts and links, which are known once the page has been read."""
    yield f'{{"type": "FeatureCollection", "timeStamp": "{time_stamp()}", "features": ['
    for index, row in enumerate(page.rows()):
        yield ("" if index == 0 else ", ") + feature_text(
            request, dataset, row, page.query.moment.day
        )
    matched = page.matched or 0
    links = [
        link(request.build_absolute_uri(), "self", GEOJSON, "This page"),
        link(absolute(request, reverse("ogcapi-collection", kwargs={"slug": dataset.slug})),
             "collection", JSON, dataset.title),
    ]  # fmt: skip
    if page.next_offset is not None:
        links.append(_page_link(request, page.next_offset, "next", GEOJSON))
    if page.prev_offset is not None:
        links.append(_page_link(request, page.prev_offset, "prev", GEOJSON))
    yield (
        f'], "numberMatched": {matched}, "numberReturned": {page.returned}, '
        f'"links": {json.dumps(links)}}}'
    )
