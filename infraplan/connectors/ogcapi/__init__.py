"""The ``ogcapi`` connector: a collection of an OGC API - Features service.

The collection's items are read page by page, following each page's ``rel="next"`` link until
a page has none. Items are GeoJSON, in CRS84 (longitude, latitude) unless the answer's
``Content-Crs`` header names another coordinate system (OGC API - Features Part 2), whose own
axis order is then honoured: ``http://www.opengis.net/def/crs/EPSG/0/4326`` is latitude first.
"""

from collections.abc import Iterator
from typing import ClassVar
from urllib.parse import urlencode, urljoin

from pydantic import Field, field_validator

from ..base import (
    Connector,
    ConnectorConfig,
    ConnectorError,
    FeatureBatch,
    SourceContext,
    http_address,
    lon_lat_box,
)
from ..credentials import CredentialKind
from ..registry import connector_register
from ..remote import (
    EndlessPaging,
    crs_checked,
    crs_parse,
    features_batch,
    remote_json_with_headers,
)

ACCEPT = {"Accept": "application/geo+json, application/json;q=0.9"}
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_JSON_TYPES = ("application/geo+json", "application/json", "")


class OGCAPIConfig(ConnectorConfig):
    form_fields: ClassVar[tuple[str, ...]] = ("url", "bbox", "crs", "limit")

    url: str = Field(
        title="Collection address",
        description="The collection's address, or its /items address, such as "
        "https://example.org/collections/sites.",
    )
    limit: int = Field(default=1000, ge=1, le=10_000, title="Features per request")
    bbox: list[float] | None = Field(
        default=None, min_length=4, max_length=4, title="Area (optional)",
        description="West, south, east, north in longitude and latitude (CRS84), such as "
        "0.6, 50.9, 1.5, 51.5; empty for the whole collection.",
    )  # fmt: skip
    crs: str | None = Field(
        default=None, title="Coordinate system to ask for (optional)",
        description="As a URI (OGC API Part 2), such as "
        "http://www.opengis.net/def/crs/EPSG/0/27700; empty for the service's default.",
    )  # fmt: skip

    @field_validator("bbox")
    @classmethod
    def _lon_lat_box(cls, bbox: list[float] | None) -> list[float] | None:
        return lon_lat_box(bbox)

    @field_validator("crs")
    @classmethod
    def _known_crs(cls, name: str | None) -> str | None:
        return crs_checked(name, uri=True)

    @field_validator("url")
    @classmethod
    def _collection_url(cls, url: str) -> str:
        parts = http_address(url)
        if parts.query:
            raise ValueError("must be the collection's address without a query (no '?')")
        path = parts.path.rstrip("/")
        if "/collections/" not in path + "/":
            raise ValueError(
                "must be a collection's address, such as https://example.org/collections/sites"
            )
        return f"{parts.scheme}://{parts.netloc}{path}"

    @property
    def items_url(self) -> str:
        return self.url if self.url.endswith("/items") else f"{self.url}/items"


def _next_link(document: dict, base: str) -> str | None:
    """The ``next`` link for GeoJSON (or a link without a type), made absolute."""
    given = document.get("links")
    links = [
        link
        for link in (given if isinstance(given, list) else [])
        if isinstance(link, dict)
        and link.get("rel") == "next"
        and isinstance(link.get("href"), str)
    ]
    for wanted in _JSON_TYPES:
        for link in links:
            if str(link.get("type", "")).split(";")[0].strip().lower() == wanted:
                try:
                    return urljoin(base, link["href"])
                except ValueError:  # "Invalid IPv6 URL"
                    raise ConnectorError(
                        f"The service's next link is not a valid address: {link['href'][:200]!r}."
                    ) from None
    return None


@connector_register
class OGCAPIConnector(Connector):
    key = "ogcapi"
    title = "OGC API - Features"
    Config = OGCAPIConfig
    credential_kinds = (CredentialKind.BASIC, CredentialKind.HEADER)

    def describe(self, config: OGCAPIConfig) -> str:
        return f"OGC API Features {config.items_url}"

    def batches(self, config: OGCAPIConfig, context: SourceContext) -> Iterator[FeatureBatch]:
        query: dict[str, str | int] = {"limit": config.limit}
        if config.bbox:
            query["bbox"] = ",".join(f"{value:g}" for value in config.bbox)
        if config.crs:
            query["crs"] = config.crs
        url: str | None = f"{config.items_url}?{urlencode(query)}"
        read, number, visited, paging = 0, 1, set(), EndlessPaging()
        while url:
            page = f"page {number}, from feature {read + 1:,}"
            if url in visited:
                raise ConnectorError(
                    f"The service's next link goes back to a page read before ({page})."
                )
            visited.add(url)
            document, headers = remote_json_with_headers(url, context, page=page, headers=ACCEPT)
            features = document.get("features")
            if document.get("type") != "FeatureCollection" or not isinstance(features, list):
                raise ConnectorError(
                    f"The service did not answer with GeoJSON features ({page}): check the "
                    "address is a collection of features."
                )
            crs, lat_first = crs_parse(headers.get("content-crs", CRS84))
            if not features:
                break
            batch = features_batch(features, first_row=read + 1, crs=crs, lat_first=lat_first)
            paging.check(batch, page)
            yield batch
            read += len(features)
            context.progress(read, "fetching")
            url = _next_link(document, url)
            number += 1
