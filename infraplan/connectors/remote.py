"""What the remote connectors (OGC API, WFS, ArcGIS REST, planning.data.gov.uk, a URL) share.

Every page is fetched with ``fetch`` under the context's policy, so the allow-list, private
address refusal, timeouts and size limits hold for all of them, and so do the rules of the
source's credentials (``fetch.Credentials``: sent to its own address's origin alone, and taken
out of any message a failed fetch makes). A failure becomes a ``ConnectorError`` that says
which page failed and whether trying again later can help; a web page where data was expected (a sign-in page, a portal's "not found" page served with HTTP 200)
is named as such rather than reported as a parse error.

GeoJSON features become ``FeatureBatch``es here too, one column per property, so every
connector that receives GeoJSON turns it into rows the same way.
"""

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, BinaryIO

import numpy as np
import shapely
from django.conf import settings
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.errors import ShapelyError
from shapely.geometry import shape

from .base import ConnectorError, FeatureBatch, RowProblem, SourceContext
from .fetch import Credentials, FetchError, FetchResult, address_shown, fetch

WGS84 = "EPSG:4326"
HTML_PAGE = "The server answered with a web page, not data: check the address"
_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body)", re.IGNORECASE)
# An EPSG code in the forms OGC services write: the http URI, the URN, and the short form.
_EPSG = re.compile(
    r"^(?:https?://www\.opengis\.net/def/crs/EPSG/[^/]+/(?P<uri>\d{1,9})"
    r"|urn:ogc:def:crs:EPSG:[^:]*:(?P<urn>\d{1,9})"
    r"|EPSG:(?P<short>\d{1,9}))$",
    re.IGNORECASE,
)
_CRS84 = re.compile(r"(OGC/1\.3/CRS84|OGC:1\.3:CRS84|^CRS84$|^OGC:CRS84$)", re.IGNORECASE)


class EndlessPaging:
    """Stops a load whose service pages without end: a page holding features already sent (a
    service that ignores the paging parameter, or whose next link only changes something
    meaningless), or page after page without features that still says there are more. Either
    would otherwise hold a worker for ever."""

    EMPTY_PAGES_ALLOWED = 3

    def __init__(self) -> None:
        self._sent: set[bytes] = set()
        self._empty_in_a_row = 0

    def empty(self, page: str) -> None:
        self._empty_in_a_row += 1
        if self._empty_in_a_row > self.EMPTY_PAGES_ALLOWED:
            raise ConnectorError(
                f"The service sent {self._empty_in_a_row} pages in a row without features while "
                f"saying there were more ({page}): loading stopped, as it would never end."
            )

    def check(self, batch: FeatureBatch, page: str) -> None:
        self._empty_in_a_row = 0
        signature = _batch_signature(batch)
        if signature in self._sent:
            raise ConnectorError(
                f"The service sent the same features again ({page}): it is not moving on "
                "through its pages (it may ignore the paging parameter), so loading stopped "
                "rather than repeat them for ever."
            )
        self._sent.add(signature)

    def repeats(self, batch: FeatureBatch) -> bool:
        """Whether ``batch`` holds exactly the features of a page already sent."""
        return _batch_signature(batch) in self._sent


def _batch_signature(batch: FeatureBatch) -> bytes:
    digest = hashlib.sha256()
    for wkb in batch.geometry if batch.geometry is not None else ():
        digest.update(wkb if wkb is not None else b"-")
    for name in sorted(batch.fields):
        digest.update(name.encode())
        digest.update(repr(batch.fields[name].tolist()).encode())
    return digest.digest()


def remote_get(
    url: str, context: SourceContext, *, page: str = "", headers: dict[str, str] | None = None,
    into: BinaryIO | None = None, oversize_advice: str = "",
) -> FetchResult:  # fmt: skip
    """``url`` fetched under the context's policy (written to ``into`` as it arrives, when
    given: see ``fetch``); ConnectorError naming ``page`` on failure, with ``oversize_advice``
    when the answer was over the size limit."""
    where = f" ({page})" if page else ""
    credentials = context.credentials
    try:
        result = fetch(
            url, policy=context.fetch_policy, headers=headers, into=into, credentials=credentials
        )
    except FetchError as error:
        advice = f" {oversize_advice}" if error.oversize and oversize_advice else ""
        message = f"{error}{where}{advice}"
        if credentials is not None and error.status in (401, 403):
            message = f"{message} {credentials_advice(credentials, sent=error.credentials_sent)}"
        if credentials is not None:
            message = credentials.scrubbed(message)
        raise ConnectorError(message, temporary=error.temporary) from None
    if result.content_type in ("text/html", "application/xhtml+xml") or _HTML_START.match(
        result.body[:512]
    ):
        raise ConnectorError(f"{HTML_PAGE} ({address_shown(result.url)}){where}.")
    return result


def credentials_advice(credentials: Credentials, *, sent: bool) -> str:
    """What to do about a service that refused a request made with the source's
    ``credentials`` (HTTP 401 or 403, an ArcGIS token error), or without them, ``sent`` False,
    because it went to another server. Not a failure that passes: trying again with the same
    credentials is refused again."""
    if sent:
        return (
            f"The service refused the credentials saved on {credentials.source}: they may be "
            "wrong or have expired. Enter them again on the source's settings."
        )
    return (
        "The request went to another server than the source's address (after a redirect), "
        "which the source's credentials are never sent to."
    )


def remote_json(
    url: str, context: SourceContext, *, page: str = "", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The JSON object at ``url``; ConnectorError when it is not one."""
    return remote_json_with_headers(url, context, page=page, headers=headers)[0]


def remote_json_with_headers(
    url: str, context: SourceContext, *, page: str = "", headers: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Like ``remote_json``, with the answer's headers (lower-case names). A page is parsed
    whole, so it may be no larger than ``OUTBOUND_JSON_MAX_BYTES``."""
    limit = min(context.fetch_policy.max_bytes, settings.OUTBOUND_JSON_MAX_BYTES)
    result = remote_get(
        url, replace(context, fetch_policy=replace(context.fetch_policy, max_bytes=limit)),
        page=page, headers=headers,
        oversize_advice=f"A page of JSON is read whole, so it may be at most {limit:,} bytes: "
        "ask for fewer features per request (the source's page size).",
    )  # fmt: skip
    where = f" ({page})" if page else ""
    try:
        document = json.loads(result.body)
    except ValueError as error:  # not JSON, not UTF-8, or a number of thousands of digits
        raise ConnectorError(
            f"The server's answer is not valid JSON{where}: {str(error)[:200]}. Check the "
            "address points at the service's data, not a page about it."
        ) from None
    except RecursionError:
        raise ConnectorError(
            f"The server's answer is JSON nested too deeply to read{where}."
        ) from None
    if not isinstance(document, dict):
        raise ConnectorError(f"The server answered JSON that is not an object{where}.")
    return document, result.headers


def crs_parse(name: str) -> tuple[str, bool]:
    """(``EPSG:n``, whether coordinates come latitude first) for a CRS name an OGC service wrote.

    CRS84 is longitude first. The URI and URN forms (``http://www.opengis.net/def/crs/EPSG/0/4326``,
    ``urn:ogc:def:crs:EPSG::4326``) mean the axis order the EPSG registry defines, which for
    latitude/longitude systems is latitude first; ``EPSG:4326`` by itself is the traditional
    longitude-first form that most servers write. ConnectorError for anything unknown.
    """
    name = name.strip().strip("<>")
    if _CRS84.search(name):
        return WGS84, False
    match = _EPSG.match(name)
    if match is None:
        raise ConnectorError(f"The coordinate system {name[:120]!r} is not one the platform knows.")
    code = int(match["uri"] or match["urn"] or match["short"])
    try:
        crs = CRS.from_epsg(code)
    except CRSError:
        raise ConnectorError(
            f"The coordinate system EPSG:{code} is not one the platform knows."
        ) from None
    north_first = bool(crs.axis_info) and crs.axis_info[0].direction.lower() == "north"
    return f"EPSG:{code}", north_first and not match["short"]


def crs_checked(name: str | None, *, uri: bool = False) -> str | None:
    """A coordinate system a source asks its service for, checked when the source is saved
    rather than at its first load: None for none, else the name as given; ValueError, saying
    why, for one the platform does not know (or, with ``uri``, not written as a URI)."""
    if name is None or not name.strip():
        return None
    try:
        crs_parse(name)
    except ConnectorError as error:
        raise ValueError(str(error)) from None
    if uri and not name.strip().startswith(("http://", "https://")):
        raise ValueError(
            "Write the coordinate system as a URI, such as "
            "http://www.opengis.net/def/crs/EPSG/0/27700"
        )
    return name.strip()


def axes_swap(wkb: np.ndarray) -> np.ndarray:
    """WKB geometries with their first two coordinates exchanged (latitude first to x first)."""
    present = np.array([value is not None for value in wkb], dtype=bool)
    swapped = wkb.copy()
    if present.any():
        shapes = shapely.from_wkb(wkb[present])
        swapped[present] = shapely.to_wkb(shapely.transform(shapes, lambda xy: xy[:, ::-1]))
    return swapped


def _column_value(value: Any) -> Any:
    # Nested objects and lists are kept as their JSON text rather than Python's repr.
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def features_batch(
    features: Iterable[Any], *, first_row: int, crs: str, lat_first: bool = False,
    identifier: str | None = "id",
) -> FeatureBatch:  # fmt: skip
    """GeoJSON-shaped features (``properties`` and ``geometry``) as one batch.

    ``identifier``: the name of a column for each feature's top-level ``id`` where its
    properties have none of that name (OGC API items carry their identifier there).
    """
    features = list(features)
    names: dict[str, None] = {}
    for feature in features:
        if isinstance(feature, dict) and isinstance(feature.get("properties"), dict):
            names.update(dict.fromkeys(feature["properties"]))
    with_id = (
        identifier is not None
        and identifier not in names
        and any(isinstance(f, dict) and f.get("id") is not None for f in features)
    )
    columns = {name: np.full(len(features), None, dtype=object) for name in names}
    if with_id:
        columns = {identifier: np.full(len(features), None, dtype=object), **columns}
    geometry = np.full(len(features), None, dtype=object)
    problems: list[RowProblem] = []
    for index, feature in enumerate(features):
        row = first_row + index
        if not isinstance(feature, dict):
            problems.append(RowProblem(row, "feature", str(feature)[:200], "is not a feature"))
            continue
        properties = feature.get("properties")
        if properties is not None and not isinstance(properties, dict):
            problems.append(
                RowProblem(row, "properties", str(properties)[:200], "are not a JSON object")
            )
            continue
        for name, value in (properties or {}).items():
            columns[name][index] = _column_value(value)
        if with_id:
            columns[identifier][index] = _column_value(feature.get("id"))
        raw = feature.get("geometry")
        if raw is None:
            continue
        try:
            geometry[index] = shape(raw).wkb
        except (
            ShapelyError,
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            AttributeError,
            OverflowError,
        ):
            problems.append(
                RowProblem(row, "geometry", json.dumps(raw)[:200], "is not a GeoJSON geometry")
            )
    if lat_first:
        geometry = axes_swap(geometry)
    return FeatureBatch(first_row, columns, geometry, crs, problems)
