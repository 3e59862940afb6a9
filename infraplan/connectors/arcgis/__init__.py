"""The ``arcgis`` connector: a layer of an ArcGIS REST FeatureServer or MapServer.

The layer's description (``?f=json``) says which query formats it offers and how many records
one query may return. Features are queried page by page (``resultOffset`` and
``resultRecordCount``) as GeoJSON where the layer offers it, otherwise as Esri JSON, whose
geometries (points, multipoints, paths, rings) and ``spatialReference`` are converted here.
A page with ``exceededTransferLimit`` means more follow, from the offset after the features it
held. A layer that cannot page by offset (``supportsPagination`` false, or a server before
10.3) is read by its object ids instead, each answer checked for the ids it was asked for.
Coded-value domains are loaded as their names, as ArcGIS shows them. Date fields (UTC
milliseconds since 1970) are loaded as ISO 8601 dates and times in UTC, which a new dataset's
first load makes a date field where every one is a whole day, in UTC or in the platform's time
zone (``_dates``). A layer whose description says ``datesInUnknownTimeZone`` holds wall-clock
times in no known zone: ArcGIS answers an error to a query of it without
``timeReferenceUnknownClient=true``, so every query says it, and its dates are loaded as
written, without a zone. ArcGIS reports errors as a JSON body ``{"error": {...}}`` with HTTP
200, so every answer is checked for one.
"""

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

import shapely
from pydantic import Field, field_validator
from pyproj import CRS
from pyproj.exceptions import CRSError

from ..base import (
    Connector,
    ConnectorConfig,
    ConnectorError,
    FeatureBatch,
    RowProblem,
    SourceContext,
    http_address,
    names_listed,
)
from ..credentials import CredentialKind
from ..registry import connector_register
from ..remote import EndlessPaging, credentials_advice, features_batch, remote_json

NOT_ESRI = "is not an Esri geometry"


class EsriGeometryError(ValueError):
    """A geometry that cannot be converted; its message is the reason shown for its row."""


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


def _checked(document: dict[str, Any], page: str, context: SourceContext) -> dict[str, Any]:
    """``document`` unless it is ArcGIS's error answer (sent with HTTP 200). A token refused
    or missing (498 invalid, 499 required; 401 and 403 for permissions) fails the load for
    good: the same request is refused again until the source's credentials change."""
    error = document.get("error")
    if not isinstance(error, dict):
        return document
    code = error.get("code")
    details = "; ".join(str(detail) for detail in error.get("details") or [] if detail)
    message = f"{error.get('message') or 'no message'}{f' ({details})' if details else ''}"
    if context.credentials is not None:  # a server may echo what it was sent
        message = context.credentials.scrubbed(message)
    if code in (401, 403, 498, 499) and context.credentials is not None:
        raise ConnectorError(
            f"The ArcGIS server refused the request (error {code}: {message}) ({page}). "
            + credentials_advice(context.credentials, sent=True)
        )
    if code in (401, 403, 498, 499):
        raise ConnectorError(
            f"The ArcGIS layer is secured (error {code}: {message}) ({page}): add an ArcGIS "
            "token on the source's settings (Credentials), and the platform sends it with "
            "every request."
        )
    raise ConnectorError(
        f"The ArcGIS server reported error {code}: {message} ({page}).",
        temporary=isinstance(code, int) and (code == 429 or code >= 500),
    )


def esri_crs(reference: dict[str, Any] | None) -> str:
    """``EPSG:n`` for an Esri ``spatialReference``: ``latestWkid`` first (102100 is 3857), or
    the EPSG code its ``wkt`` matches, as a server writes a coordinate system it has no id for."""
    reference = reference if isinstance(reference, dict) else {}
    wkid = reference.get("latestWkid") or reference.get("wkid")
    if isinstance(wkid, int):
        return "EPSG:3857" if wkid in _WEB_MERCATOR else f"EPSG:{wkid}"
    wkt = reference.get("wkt")
    if not isinstance(wkt, str):
        raise ConnectorError(
            "The ArcGIS layer gives no well-known id (wkid) or WKT for its coordinate system."
        )
    try:
        code = CRS.from_wkt(wkt).to_epsg(min_confidence=70)
    except CRSError:
        code = None
    if code is None:
        raise ConnectorError(
            "The ArcGIS layer's coordinate system, given only as WKT, matches no EPSG "
            f"coordinate system the platform knows ({wkt[:120]}...): ask its publisher to "
            "serve it with a well-known id (wkid)."
        )
    return f"EPSG:{code}"


def _rings_polygon(rings: list[list[list[float]]]) -> dict[str, Any] | None:
    """Esri rings as a GeoJSON (Multi)Polygon: clockwise rings are outer boundaries, the
    others holes of the smallest outer ring that contains them (an island in a lake has its own
    holes, which also lie inside the outer ring around the lake). Empty rings are left out."""
    outers: list[list] = []
    holes: list[list] = []
    for ring in rings:
        coordinates = [point[:2] for point in ring]
        if not coordinates:
            continue
        if shapely.LinearRing(coordinates).is_ccw:
            holes.append(coordinates)
        else:
            outers.append([coordinates])
    if not outers:  # rings written the other way round: take them as outer boundaries
        outers, holes = [[hole] for hole in holes], []
    if not outers:
        return None
    areas = [shapely.Polygon(outer[0]).area for outer in outers]
    for hole in holes:
        inside = shapely.Point(hole[0])
        around = [n for n, o in enumerate(outers) if shapely.Polygon(o[0]).covers(inside)]
        owner = min(around, key=areas.__getitem__) if around else len(outers) - 1
        outers[owner].append(hole)
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
        paths = [[point[:2] for point in path] for path in geometry["paths"] if path]
        if not paths:
            return None
        if len(paths) == 1:
            return {"type": "LineString", "coordinates": paths[0]}
        return {"type": "MultiLineString", "coordinates": paths}
    if "rings" in geometry:
        return _rings_polygon(geometry["rings"])
    if "curveRings" in geometry or "curvePaths" in geometry:
        raise EsriGeometryError(
            "has true curves (Esri curveRings or curvePaths), which the server was asked to "
            "draw as straight segments (returnTrueCurves=false) but did not"
        )
    raise EsriGeometryError(NOT_ESRI)


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


def _dates(
    dates: set[str], properties: list[dict[str, Any]], first_row: int, *, zone_known: bool
) -> list[RowProblem]:
    """Date fields (milliseconds since 1970 in both formats) as ISO 8601 text, in place. A NaN
    is unknown (null); a number no calendar date can have is a problem of its row.

    An Esri date field holds a moment, not a day: each value is written whole, in UTC as
    stored (2024-01-01T00:00:00Z; 2024-01-01T14:30:00.250Z), never moved into a local time
    zone here. A day picked in the UK is stored as its local midnight in UTC (1 July in summer
    time is 2024-06-30T23:00:00Z); one published from a file without a time zone as a UTC
    midnight. A date field takes either as its day (``catalogue.loading.typed_value``), and a
    new dataset's first load decides what the field is from every value
    (``catalogue.first_schema``): all whole days, a date field of those days; with times of
    day, text keeping each moment, as a date field holds no time. A page cannot decide it: the
    times may come only in a later one.

    A layer with dates in an unknown time zone (``datesInUnknownTimeZone``) answers each value
    as the database holds it, a wall-clock time counted as if it were UTC: it is written
    without a zone (2024-07-01T23:30:00), so that it is read as the day and time written, not
    as a UTC moment whose day in the platform's time zone may be the next one."""
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
                if not zone_known:
                    moment = moment.replace(tzinfo=None)
            except (ValueError, OverflowError, OSError):
                values[name] = None
                problems.append(
                    RowProblem(first_row + index, name, str(value),
                               "is not a date (milliseconds since 1970 out of range)")
                )  # fmt: skip
                continue
            # To the millisecond, as Esri stores it (not .250000), where it is not whole seconds.
            timespec = "milliseconds" if moment.microsecond else "seconds"
            values[name] = moment.isoformat(timespec=timespec).replace("+00:00", "Z")
    return problems


def _coded_values(domain: Any) -> dict[Any, Any] | None:
    """Code to name for a coded-value domain; None for any other (a range, none at all)."""
    if not isinstance(domain, dict) or domain.get("type") != "codedValue":
        return None
    return {
        coded["code"]: coded["name"]
        for coded in (
            domain.get("codedValues") if isinstance(domain.get("codedValues"), list) else []
        )
        if isinstance(coded, dict)
        and isinstance(coded.get("code"), (str, int, float))
        and not isinstance(coded.get("code"), bool)
        and isinstance(coded.get("name"), str)
    }


@dataclass(frozen=True)
class Domains:
    """A layer's coded-value domains: a field's own, and those a subtype (``typeIdField`` and
    ``types``, or ``subtypeField`` and ``subtypes``) sets for its features, where None means
    the subtype's domain for that field is not coded (a range) and the code is kept."""

    fields: dict[str, dict[Any, Any]] = field(default_factory=dict)
    subtype_field: str | None = None
    subtypes: dict[Any, dict[str, dict[Any, Any] | None]] = field(default_factory=dict)


def layer_domains(layer: dict[str, Any]) -> Domains:
    fields = layer.get("fields") if isinstance(layer.get("fields"), list) else []
    own = {
        entry["name"]: values
        for entry in fields
        if isinstance(entry, dict)
        and isinstance(entry.get("name"), str)
        and (values := _coded_values(entry.get("domain")))
    }
    subtype_field = layer.get("typeIdField") or layer.get("subtypeField")
    subtypes: dict[Any, dict[str, dict[Any, Any] | None]] = {}
    for kinds, key in ((layer.get("types"), "id"), (layer.get("subtypes"), "code")):
        for kind in kinds if isinstance(kinds, list) else []:
            if not isinstance(kind, dict) or not isinstance(kind.get(key), (str, int)):
                continue
            domains = kind.get("domains") if isinstance(kind.get("domains"), dict) else {}
            subtypes[kind[key]] = {
                name: _coded_values(domain)
                for name, domain in domains.items()
                if not (isinstance(domain, dict) and domain.get("type") == "inherited")
            }
    return Domains(own, subtype_field if isinstance(subtype_field, str) else None, subtypes)


def _names(domains: Domains, properties: list[Any]) -> None:
    """Coded values replaced by their names, in place, as ArcGIS shows them (the query answers
    the codes: 3 where an officer reads "Allocated"). A code outside its domain is kept."""
    if not domains.fields and not domains.subtypes:
        return
    for values in properties:
        if not isinstance(values, dict):
            continue  # not an object: a problem of its row (features_batch)
        subtype = values.get(domains.subtype_field) if domains.subtype_field else None
        own = domains.subtypes.get(subtype, {}) if isinstance(subtype, (str, int)) else {}
        for name, value in values.items():
            coded = own[name] if name in own else domains.fields.get(name)
            if (
                coded
                and isinstance(value, (str, int, float))
                and not isinstance(value, bool)
                and value in coded
            ):
                values[name] = coded[value]


@dataclass(frozen=True)
class Layer:
    """What a layer's description says about querying it."""

    answer_format: str  # "geojson" or "json"
    page_size: int
    dates: set[str]
    # False where its dates are wall-clock times in an unknown time zone
    # (datesInUnknownTimeZone): every query must then say timeReferenceUnknownClient=true.
    zone_known: bool
    domains: Domains
    # Whether its query pages by resultOffset; without (before ArcGIS Server 10.3, or
    # supportsPagination false) the features are asked for by their object ids.
    paging: bool
    object_id_field: str | None


def _time_reference(layer: Layer) -> dict[str, str]:
    """What every query of ``layer`` must say of its dates: ArcGIS answers an error to one of a
    layer with dates in an unknown time zone unless it says it takes them as stored."""
    return {} if layer.zone_known else {"timeReferenceUnknownClient": "true"}


def _esri_features(document: dict[str, Any], first_row: int, layer: Layer) -> FeatureBatch:
    crs = esri_crs(document.get("spatialReference"))
    features, bad = [], []
    for index, feature in enumerate(document.get("features") or []):
        feature = feature if isinstance(feature, dict) else {}
        try:
            geometry = esri_geometry(feature.get("geometry"))
        except EsriGeometryError as error:
            geometry = None
            bad.append((first_row + index, str(feature.get("geometry"))[:200], str(error)))
        except (ValueError, TypeError, KeyError, IndexError, shapely.errors.ShapelyError):
            geometry = None
            bad.append((first_row + index, str(feature.get("geometry"))[:200], NOT_ESRI))
        features.append({"properties": feature.get("attributes") or {}, "geometry": geometry})
    properties = [feature["properties"] for feature in features]
    dates = layer.dates | _date_fields(document)
    date_problems = _dates(dates, properties, first_row, zone_known=layer.zone_known)
    _names(layer.domains, properties)
    batch = features_batch(features, first_row=first_row, crs=crs, identifier=None)
    batch.problems.extend(date_problems)
    batch.problems.extend(RowProblem(row, "geometry", value, reason) for row, value, reason in bad)
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
    credential_kinds = (CredentialKind.ARCGIS_TOKEN, CredentialKind.HEADER)

    def describe(self, config: ArcGISConfig) -> str:
        return f"ArcGIS layer {config.url}" + (
            f" where {config.where}" if config.where != "1=1" else ""
        )

    def _layer(self, config: ArcGISConfig, context: SourceContext) -> Layer:
        layer = _checked(
            remote_json(f"{config.url}?f=json", context, page="the layer's description"),
            "the layer's description",
            context,
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
        advanced = layer.get("advancedQueryCapabilities")
        version = layer.get("currentVersion")
        if isinstance(advanced, dict) and "supportsPagination" in advanced:
            paging = advanced["supportsPagination"] not in (False, "false")
        else:  # resultOffset came with ArcGIS Server 10.3
            paging = not (isinstance(version, (int, float)) and version < 10.3)
        object_id_field = layer.get("objectIdField")
        return Layer(
            answer_format=config.format or ("geojson" if "geojson" in offered else "json"),
            page_size=page_size,
            dates=_date_fields(layer),
            zone_known=layer.get("datesInUnknownTimeZone") is not True,
            domains=layer_domains(layer),
            paging=paging,
            object_id_field=object_id_field if isinstance(object_id_field, str) else None,
        )

    def _page(
        self, config: ArcGISConfig, layer: Layer, context: SourceContext, *,
        query: dict[str, Any], first_row: int, page: str,
    ) -> tuple[FeatureBatch, bool]:  # fmt: skip
        """One query's features, and whether the answer says more follow."""
        query = {
            "where": config.where, "outFields": "*", "returnGeometry": "true",
            "returnTrueCurves": "false", **_time_reference(layer), **query,
            "f": layer.answer_format,
        }  # fmt: skip
        if layer.answer_format == "geojson":
            query["outSR"] = 4326
        document = _checked(
            remote_json(f"{config.url}/query?{urlencode(query)}", context, page=page), page, context
        )
        if not isinstance(document.get("features"), list):
            raise ConnectorError(f"The ArcGIS server's answer has no list of features ({page}).")
        if layer.answer_format != "geojson":
            return _esri_features(document, first_row, layer), _more_follow(document)
        features = document["features"]
        properties = [f.get("properties") if isinstance(f, dict) else None for f in features]
        date_problems = _dates(layer.dates, properties, first_row, zone_known=layer.zone_known)
        _names(layer.domains, properties)
        batch = features_batch(features, first_row=first_row, crs="EPSG:4326", identifier=None)
        batch.problems.extend(date_problems)
        collection = document.get("properties")
        more = _more_follow(document) or (isinstance(collection, dict) and _more_follow(collection))
        return batch, more

    def batches(self, config: ArcGISConfig, context: SourceContext) -> Iterator[FeatureBatch]:
        layer = self._layer(config, context)
        if not layer.paging:
            yield from self._by_object_ids(config, layer, context)
            return
        offset, number, paging = 0, 1, EndlessPaging()
        while True:
            page = f"page {number}, from feature {offset + 1:,}"
            batch, more = self._page(
                config, layer, context, first_row=offset + 1, page=page,
                query={"resultOffset": offset, "resultRecordCount": layer.page_size},
            )  # fmt: skip
            if len(batch):
                paging.check(batch, page)
                yield batch
            offset += len(batch)
            context.progress(offset, "fetching")
            if not more or not len(batch):
                break
            number += 1

    def _by_object_ids(
        self, config: ArcGISConfig, layer: Layer, context: SourceContext
    ) -> Iterator[FeatureBatch]:
        """The features of a layer that cannot page by offset, asked for by their object ids
        (which a query answers all at once, whatever the layer's maximum record count), a
        page's worth at a time. A server may send fewer features than it was asked
        for (its maximum is lower than the layer's description says), so the ids it did not
        send are asked for again, first in the next query; ids a query sends none of are
        not coming, and fail the load once every other feature has been read."""
        page = "the list of object ids (the layer does not page by offset)"
        query = {
            "where": config.where, "returnIdsOnly": "true", **_time_reference(layer), "f": "json",
        }  # fmt: skip
        document = _checked(
            remote_json(f"{config.url}/query?{urlencode(query)}", context, page=page), page, context
        )
        found = document.get("objectIds")
        if found is None:  # no feature matches: ArcGIS writes null rather than []
            found = []
        if not isinstance(found, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in found
        ):
            raise ConnectorError(
                f"The ArcGIS server's answer has no list of whole-number object ids ({page})."
            )
        field_name = document.get("objectIdFieldName") or layer.object_id_field
        if not isinstance(field_name, str):
            raise ConnectorError(
                f"The ArcGIS layer does not page by offset and names no object id field, so "
                f"its features cannot be asked for a page at a time ({page})."
            )
        identifiers = sorted(set(found))
        pending = deque(identifiers)
        lost: list[int] = []  # asked for by id and never answered
        read, number = 0, 1
        while pending:
            chunk = _id_chunk(pending, layer.page_size)
            page = f"page {number}, from feature {read + 1:,}, by object id"
            batch, _ = self._page(
                config, layer, context, first_row=read + 1, page=page,
                query={"objectIds": ",".join(map(str, chunk))},
            )  # fmt: skip
            returned = _returned_ids(batch, field_name, page)
            missing = [identifier for identifier in chunk if identifier not in returned]
            if len(missing) == len(chunk):
                # None of them: these are not coming, whereas a server that sends at most so
                # many a query (fewer than the layer's maxRecordCount says) sends some.
                lost += missing
            else:
                pending.extendleft(reversed(missing))  # asked for again, first
            if len(batch):
                yield batch
            read += len(batch)
            number += 1
            context.progress(read, "fetching")
        if lost:
            shown = names_listed([str(identifier) for identifier in sorted(lost)], limit=5)
            # Temporary: features deleted between the list of ids and the query are the
            # likeliest cause, and a later load reads the layer as it then is.
            raise ConnectorError(
                f"The ArcGIS server listed {len(identifiers):,} features but did not return "
                f"{len(lost):,} of them when asked for them by object id (object ids {shown}): "
                "loading stopped rather than publish the layer without them. They may have "
                "been deleted while it was being read.",
                temporary=True,
            )


def _returned_ids(batch: FeatureBatch, field_name: str, page: str) -> set[Any]:
    """The object ids of the features in ``batch``, from its object id field."""
    if not len(batch):
        return set()
    if field_name not in batch.fields:
        raise ConnectorError(
            f"The ArcGIS server's answer does not give its features' object ids ({field_name}), "
            f"so it cannot be told which of those asked for it sent ({page})."
        )
    return set(batch.fields[field_name].tolist())


# The objectIds a GET query carries: web servers in front of ArcGIS refuse long query strings
# (IIS by default beyond 2,048 characters), so a page asked for by id is kept under that.
_ID_QUERY_CHARACTERS = 1500


def _id_chunk(pending: deque[int], size: int) -> list[int]:
    """The next ids to ask for, taken from ``pending``: at most ``size`` of them, written in
    fewer than _ID_QUERY_CHARACTERS."""
    chunk = [pending.popleft()]
    length = len(str(chunk[0]))
    while pending and len(chunk) < size:
        width = len(str(pending[0])) + 3  # with its comma, written %2C
        if length + width > _ID_QUERY_CHARACTERS:
            break
        chunk.append(pending.popleft())
        length += width
    return chunk
