"""The ``planning_data`` connector: a dataset of the national planning data platform
(planning.data.gov.uk), optionally one organisation's part of it.

Its entity search answers GeoJSON (``/entity.geojson?dataset=...&organisation_entity=...
&limit=...&offset=...``) in WGS84, with ``links.next`` while more entities follow. Two quirks of
the real service shape this module: the platform writes every missing value as an empty string
(read back here as missing), and entities without a geometry are left out of a GeoJSON page, so
a page can hold fewer features than asked for while more follow. Paging therefore goes by the
offset asked for, not by the features received, and stops when a page has no ``next`` link.
An entity that comes with no geometry but a ``point`` (WKT) is placed at that point.
Each entity's ``reference`` (the publisher's own) is the natural feature reference; its
``entity`` number is kept as a property.

National publishers (Natural England, Historic England) cover all England: ``geometry`` (WKT in
WGS84) asks the search for the entities that meet it (``geometry_relation``, by default
``intersects``; the service's own default, ``within``, would drop those crossing the edge).
"""

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

import numpy as np
import shapely
import shapely.geometry
from pydantic import Field, field_validator

from ..base import (
    Connector,
    ConnectorConfig,
    ConnectorError,
    FeatureBatch,
    SourceContext,
    http_address,
)
from ..registry import connector_register
from ..remote import WGS84, EndlessPaging, features_batch, remote_json

SERVICE = "https://www.planning.data.gov.uk"


class PlanningDataConfig(ConnectorConfig):
    form_fields: ClassVar[tuple[str, ...]] = (
        "dataset", "organisation_entity", "geometry", "geometry_relation",
    )  # fmt: skip

    dataset: str = Field(
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", title="Dataset",
        description="Its name on planning.data.gov.uk, such as conservation-area.",
    )  # fmt: skip
    organisation_entity: int | None = Field(
        default=None, ge=1, title="Organisation entity number (optional)",
        description="Only this organisation's entities; empty for every organisation's.",
    )  # fmt: skip
    geometry: str | None = Field(
        default=None, max_length=2000, title="Area (optional)",
        description="Only entities meeting this polygon, as WKT in longitude and latitude, "
        "such as POLYGON((0.6 50.9, 1.5 50.9, 1.5 51.5, 0.6 51.5, 0.6 50.9)).",
    )  # fmt: skip
    geometry_relation: Literal["intersects", "within"] = Field(
        default="intersects", title="Entities meeting the area",
        description="Those that cross it or lie in it (intersects), or only those wholly in it "
        "(within).",
    )  # fmt: skip
    limit: int = Field(default=500, ge=1, le=500)
    service: str = SERVICE

    @field_validator("geometry")
    @classmethod
    def _geometry(cls, geometry: str | None) -> str | None:
        if geometry is None:
            return None
        try:
            with warnings.catch_warnings():  # a NaN coordinate, refused below
                warnings.simplefilter("ignore", RuntimeWarning)
                shape = shapely.from_wkt(geometry)
        except shapely.errors.GEOSException:
            raise ValueError(
                "must be a WKT geometry, e.g. POLYGON((0 51, 1 51, 1 52, 0 51))"
            ) from None
        if shape.is_empty or shape.geom_type not in ("Polygon", "MultiPolygon"):
            raise ValueError("must be a WKT polygon or multipolygon")
        coordinates = shapely.get_coordinates(shape)
        if not np.isfinite(coordinates).all():
            raise ValueError("must have numbers for every coordinate (not NaN or infinity)")
        west, south, east, north = shape.bounds
        if west < -180 or east > 180 or south < -90 or north > 90:
            raise ValueError(
                "must be in longitude (-180 to 180) then latitude (-90 to 90), such as "
                "POLYGON((0.6 50.9, 1.5 50.9, 1.5 51.5, 0.6 51.5, 0.6 50.9))"
            )
        if not shape.is_valid:
            raise ValueError(
                f"is not a valid polygon ({shapely.is_valid_reason(shape)}): its edges must "
                "not cross and its rings must be closed"
            )
        return geometry

    @field_validator("service")
    @classmethod
    def _service(cls, service: str) -> str:
        if http_address(service).query:
            raise ValueError("must be the service's http or https address, without a query")
        return service.rstrip("/")


def _blank_as_missing(feature: Any) -> Any:
    """``feature`` with its empty-string values as missing, and, where it has no geometry
    (none, or an empty one) but a ``point`` property (WKT, as entities without a boundary are
    published), that point as its geometry."""
    if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
        return feature
    properties = {
        name: None if value == "" else value for name, value in feature["properties"].items()
    }
    feature = {**feature, "properties": properties}
    geometry = feature.get("geometry")
    point = properties.get("point")
    if isinstance(point, str) and not _has_coordinates(geometry):
        # A point that is not WKT leaves the feature without a geometry, which the load
        # reports for its row.
        with contextlib.suppress(shapely.errors.GEOSException):
            feature["geometry"] = shapely.geometry.mapping(shapely.from_wkt(point))
    return feature


def _has_coordinates(geometry: Any) -> bool:
    return isinstance(geometry, dict) and bool(
        geometry.get("coordinates") or geometry.get("geometries")
    )


@connector_register
class PlanningDataConnector(Connector):
    key = "planning_data"
    title = "planning.data.gov.uk"
    Config = PlanningDataConfig

    def describe(self, config: PlanningDataConfig) -> str:
        organisation = (
            f", organisation {config.organisation_entity}" if config.organisation_entity else ""
        )
        area = " meeting an area" if config.geometry else ""
        return f"planning.data.gov.uk dataset {config.dataset}{organisation}{area}"

    def batches(self, config: PlanningDataConfig, context: SourceContext) -> Iterator[FeatureBatch]:
        offset, read, number, paging = 0, 0, 1, EndlessPaging()
        while True:
            query: dict[str, Any] = {"dataset": config.dataset}
            if config.organisation_entity:
                query["organisation_entity"] = config.organisation_entity
            if config.geometry:
                query.update(geometry=config.geometry, geometry_relation=config.geometry_relation)
            query.update(limit=config.limit, offset=offset)
            page = f"page {number}, entities from {offset + 1:,}"
            document = remote_json(
                f"{config.service}/entity.geojson?{urlencode(query)}", context, page=page
            )
            features = document.get("features")
            if document.get("type") != "FeatureCollection" or not isinstance(features, list):
                raise ConnectorError(
                    f"planning.data.gov.uk did not answer with GeoJSON features ({page})."
                )
            links = document.get("links")
            more = isinstance(links, dict) and bool(links.get("next"))
            if features:
                batch = features_batch(
                    [_blank_as_missing(feature) for feature in features],
                    first_row=read + 1, crs=WGS84, identifier=None,
                )  # fmt: skip
                paging.check(batch, page)
                yield batch
                read += len(features)
            elif more:
                paging.empty(page)
            context.progress(read, "fetching")
            if not more:
                break
            offset += config.limit
            number += 1
        if read == 0:
            organisation = (
                f" for organisation {config.organisation_entity}"
                if config.organisation_entity
                else ""
            )
            if config.geometry:
                organisation += " in the area asked for"
            raise ConnectorError(
                f"planning.data.gov.uk has no entities with a geometry in the dataset "
                f"{config.dataset!r}{organisation}: check the dataset's name and the "
                "organisation's entity number."
            )
