"""The ``arcgis`` connector: a layer of an ArcGIS REST FeatureServer or MapServer.

The layer's description (``?f=json``) says which query formats it offers and how many records
one query may return. Features are queried page by page (``resultOffset`` and
``resultRecordCount``) as GeoJSON where the layer offers it, otherwise as Esri JSON, whose
geometries (points, multipoints, paths, rings) and ``spatialReference`` are converted here.
A page with ``exceededTransferLimit`` means more follow. ArcGIS reports errors as a JSON body
``{"error": {...}}`` with HTTP 200, so every answer is checked for one.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

import shapely
from pydantic import Field, field_validator

from ..base import (
    Connector,
    ConnectorConfig,
    ConnectorError,
    FeatureBatch,
    RowProblem,
    SourceContext,
    http_address,
)
from ..registry import connector_register
from ..remote import EndlessPaging, features_batch, remote_json

# Esri's own codes for Web Mercator, from before EPSG registered 3857.
_WEB_MERCATOR = {102100, 102113, 900913}


class ArcGISConfig(ConnectorConfig):
    form_fields: ClassVar[tuple[str, ...]] = ("url", "where", "page_size")

    url: str = Field(
        title="Layer address",
        description="The layer's address, ending in /FeatureServer/<n> or /MapServer/<n>.",
    )
    where: str = Field(
        default="1=1",
        title="Which features (where clause)",
        description="An ArcGIS where clause, such as STATUS = 'Allocated'; 1=1 loads them all.",
        min_length=1,
        max_length=2000,
    )
    page_size: int = Field(
        default=1000, ge=1, le=10_000, title="Features per request",
        description="At most the layer's own maximum record count.",
    )  # fmt: skip
    format: Literal["geojson", "json"] | None = None  # None: what the layer says it offers

    @field_validator("url")
    @classmethod
    def _layer_url(cls, url: str) -> str:
        parts = http_address(url)
        path = parts.path.rstrip("/")
        if parts.query:
            raise ValueError("must be the layer's address without a query (no '?')")
        segments = path.split("/")
        if (
            len(segments) < 2
            or segments[-2] not in ("FeatureServer", "MapServer")
            or not (segments[-1].isdigit())
        ):
            raise ValueError(
                "must be a layer's address ending in /FeatureServer/<number> or "
                "/MapServer/<number>, such as .../FeatureServer/0"
            )
        return f"{parts.scheme}://{parts.netloc}{path}"


def _checked(document: dict[str, Any], page: str) -> dict[str, Any]:
    """``document`` unless it is ArcGIS's error answer (sent with HTTP 200)."""
    error = document.get("error")
    if not isinstance(error, dict):
        return document
    code = error.get("code")
    details = "; ".join(str(detail) for detail in error.get("details") or [] if detail)
    message = f"{error.get('message') or 'no message'}{f' ({details})' if details else ''}"
    if code in (498, 499):
        raise ConnectorError(
            f"The ArcGIS layer needs a token (error {code}: {message}); only public layers "
            f"can be connected ({page})."
        )
    raise ConnectorError(
        f"The ArcGIS server reported error {code}: {message} ({page}).",
        temporary=isinstance(code, int) and (code == 429 or code >= 500),
    )


def esri_crs(reference: dict[str, Any] | None) -> str:
    """``EPSG:n`` for an Esri ``spatialReference`` (``latestWkid`` first; 102100 is 3857)."""
    reference = reference if isinstance(reference, dict) else {}
    wkid = reference.get("latestWkid") or reference.get("wkid")
    if not isinstance(wkid, int):
        raise ConnectorError(
            "The ArcGIS layer gives no well-known id (wkid) for its coordinate system."
        )
    return "EPSG:3857" if wkid in _WEB_MERCATOR else f"EPSG:{wkid}"


def _rings_polygon(rings: list[list[list[float]]]) -> dict[str, Any]:
    """Esri rings as a GeoJSON (Multi)Polygon: clockwise rings are outer boundaries, the
    others holes of the outer ring that contains them."""
    outers: list[list] = []
    holes: list[list] = []
    for ring in rings:
        coordinates = [point[:2] for point in ring]
        if shapely.LinearRing(coordinates).is_ccw:
            holes.append(coordinates)
        else:
            outers.append([coordinates])
    if not outers:  # rings written the other way round: take them as outer boundaries
        outers, holes = [[hole] for hole in holes], []
    for hole in holes:
        inside = shapely.Point(hole[0])
        owner = next((o for o in outers if shapely.Polygon(o[0]).covers(inside)), outers[-1])
        owner.append(hole)
    if len(outers) == 1:
        return {"type": "Polygon", "coordinates": outers[0]}
    return {"type": "MultiPolygon", "coordinates": outers}


def esri_geometry(geometry: dict[str, Any] | None) -> dict[str, Any] | None:
    """An Esri JSON geometry as GeoJSON; None for none or an empty one."""
    if not geometry:
        return None
    if "x" in geometry:
        if geometry["x"] is None or geometry.get("y") is None:
            return None
        return {"type": "Point", "coordinates": [geometry["x"], geometry["y"]]}
    if "points" in geometry:
        points = [point[:2] for point in geometry["points"]]
        return {"type": "MultiPoint", "coordinates": points} if points else None
    if "paths" in geometry:
        paths = [[point[:2] for point in path] for path in geometry["paths"]]
        if not paths:
            return None
        if len(paths) == 1:
            return {"type": "LineString", "coordinates": paths[0]}
        return {"type": "MultiLineString", "coordinates": paths}
    if "rings" in geometry:
        return _rings_polygon(geometry["rings"]) if geometry["rings"] else None
    raise ValueError("not an Esri point, multipoint, polyline or polygon")


def _date_fields(*documents: dict[str, Any]) -> set[str]:
    """The date fields a layer description or an Esri JSON page declares."""
    return {
        field["name"]
        for document in documents
        for field in (document.get("fields") if isinstance(document.get("fields"), list) else [])
        if isinstance(field, dict)
        and field.get("type") == "esriFieldTypeDate"
        and isinstance(field.get("name"), str)
    }


def _dates(dates: set[str], properties: list[dict[str, Any]], first_row: int) -> list[RowProblem]:
    """Date fields (milliseconds since 1970 in both formats) as ISO 8601 text, in place. A NaN
    is unknown (null); a number no calendar date can have is a problem of its row."""
    problems = []
    names = sorted(dates)  # problems of a row in field order
    for index, values in enumerate(properties):
        if not isinstance(values, dict):
            continue  # not an object: a problem of its row (features_batch)
        for name in names:
            value = values.get(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if value != value:  # NaN
                values[name] = None
                continue
            try:
                moment = datetime.fromtimestamp(value / 1000, tz=UTC)
            except (ValueError, OverflowError, OSError):
                values[name] = None
                problems.append(
                    RowProblem(first_row + index, name, str(value),
                               "is not a date (milliseconds since 1970 out of range)")
                )  # fmt: skip
                continue
            values[name] = moment.isoformat().replace("+00:00", "Z")
    return problems


def _esri_features(document: dict[str, Any], first_row: int, dates: set[str]) -> FeatureBatch:
    crs = esri_crs(document.get("spatialReference"))
    features, bad = [], []
    for index, feature in enumerate(document.get("features") or []):
        feature = feature if isinstance(feature, dict) else {}
        try:
            geometry = esri_geometry(feature.get("geometry"))
        except (ValueError, TypeError, KeyError, IndexError, shapely.errors.ShapelyError):
            geometry = None
            bad.append((first_row + index, str(feature.get("geometry"))[:200]))
        features.append({"properties": feature.get("attributes") or {}, "geometry": geometry})
    date_problems = _dates(
        dates | _date_fields(document), [feature["properties"] for feature in features], first_row
    )
    batch = features_batch(features, first_row=first_row, crs=crs, identifier=None)
    batch.problems.extend(date_problems)
    batch.problems.extend(
        RowProblem(row, "geometry", value, "is not an Esri geometry") for row, value in bad
    )
    return batch


def _more_follow(document: dict) -> bool:
    """Whether a page says more features follow: ``exceededTransferLimit`` is a boolean, but
    some servers and proxies write it as text, where ``"false"`` must not read as true."""
    flag = document.get("exceededTransferLimit")
    if isinstance(flag, str):
        return flag.strip().lower() == "true"
    return flag is True


@connector_register
class ArcGISConnector(Connector):
    key = "arcgis"
    title = "ArcGIS REST layer"
    Config = ArcGISConfig

    def describe(self, config: ArcGISConfig) -> str:
        return f"ArcGIS layer {config.url}" + (
            f" where {config.where}" if config.where != "1=1" else ""
        )

    def _layer(self, config: ArcGISConfig, context: SourceContext) -> tuple[str, int, set[str]]:
        """The query format to use, the page size the layer allows and its date fields."""
        layer = _checked(
            remote_json(f"{config.url}?f=json", context, page="the layer's description"),
            "the layer's description",
        )
        if layer.get("type") not in (None, "Feature Layer", "Table"):
            raise ConnectorError(
                f"{config.url} is a {layer.get('type')}, not a feature layer: choose one of the "
                "service's feature layers."
            )
        offered = {
            name.strip().lower() for name in str(layer.get("supportedQueryFormats", "")).split(",")
        }
        page_size = config.page_size
        if isinstance(layer.get("maxRecordCount"), int) and layer["maxRecordCount"] > 0:
            page_size = min(page_size, layer["maxRecordCount"])
        answer_format = config.format or ("geojson" if "geojson" in offered else "json")
        return answer_format, page_size, _date_fields(layer)

    def batches(self, config: ArcGISConfig, context: SourceContext) -> Iterator[FeatureBatch]:
        answer_format, page_size, dates = self._layer(config, context)
        offset, number, paging = 0, 1, EndlessPaging()
        while True:
            query = {
                "where": config.where, "outFields": "*", "returnGeometry": "true",
                "resultOffset": offset, "resultRecordCount": page_size, "f": answer_format,
            }  # fmt: skip
            if answer_format == "geojson":
                query["outSR"] = 4326
            page = f"page {number}, from feature {offset + 1:,}"
            document = _checked(
                remote_json(f"{config.url}/query?{urlencode(query)}", context, page=page), page
            )
            if not isinstance(document.get("features"), list):
                raise ConnectorError(
                    f"The ArcGIS server's answer has no list of features ({page})."
                )
            if answer_format == "geojson":
                date_problems = _dates(
                    dates, [f.get("properties") or {} for f in document["features"]], offset + 1
                )
                batch = features_batch(
                    document["features"], first_row=offset + 1, crs="EPSG:4326", identifier=None
                )
                batch.problems.extend(date_problems)
                properties = document.get("properties")
                more = _more_follow(document) or (
                    isinstance(properties, dict) and _more_follow(properties)
                )
            else:
                batch = _esri_features(document, offset + 1, dates)
                more = _more_follow(document)
            if len(batch):
                paging.check(batch, page)
                yield batch
            offset += len(batch)
            context.progress(offset, "fetching")
            if not more or not len(batch):
                break
            number += 1
