"""The ``wfs`` connector: a feature type of a WFS 2.0 service.

The service's capabilities say which feature types it has, which output formats GetFeature
offers (GeoJSON is used where one is offered, GML 3.2 otherwise) and, as ``CountDefault``, the
most features it sends a request (GeoServer's and MapServer's maximum features). Pages are asked
for with ``STARTINDEX`` and ``COUNT``, each from where the last one ended, ``COUNT`` being the
page size or that maximum where it is lower. A server may still send fewer than ``COUNT`` (a
maximum it does not advertise), so ``numberMatched`` says when the last page has been read, or
else a ``next`` link that more follow. Where the server says neither, a short page may still
be cut by such a maximum: the page after it is asked for too, and the reading ends when that
one is empty (or repeats the short page: a server that ignores ``STARTINDEX`` sent all it has).
A page without features before ``numberMatched`` is reached fails the load rather than publish
part of the data.

GML is parsed from the bytes in memory by pyogrio, with the remote schema download switched
off, so GDAL never opens an address itself. GDAL honours the axis order of the ``srsName``:
``urn:ogc:def:crs:EPSG::4326`` is latitude first and comes out longitude first. GeoJSON is
longitude first whatever its ``crs`` member names (as servers write it); a projected ``crs``
(``urn:ogc:def:crs:EPSG::27700``) is taken as the coordinate system.
"""

import io
import json
import math
import re
from collections.abc import Iterator
from typing import ClassVar, NamedTuple
from urllib.parse import urlencode
from xml.etree.ElementTree import Element

import pyogrio
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from pydantic import Field, field_validator

from ..base import (
    Connector,
    ConnectorConfig,
    ConnectorError,
    FeatureBatch,
    RowProblem,
    SourceContext,
    http_address,
    lon_lat_box,
)
from ..credentials import CredentialKind
from ..fetch import address_shown
from ..registry import connector_register
from ..remote import (
    WGS84,
    EndlessPaging,
    crs_checked,
    crs_parse,
    features_batch,
    remote_get,
)

# Fields GDAL makes of a GML feature's own bounding box: not data.
_ENVELOPE_FIELDS = {"lowerCorner", "upperCorner"}
_URN_WGS84 = "urn:ogc:def:crs:EPSG::4326"
# GML elements holding coordinates as text: GML 3's and GML 2's (``coordinates``, whose pairs are
# separated by spaces and their numbers by commas).
_COORDINATE_ELEMENTS = {"pos", "posList", "coordinates", "lowerCorner", "upperCorner"}
_MEMBER_ELEMENTS = {"member", "featureMember", "featureMembers"}


class WFSConfig(ConnectorConfig):
    form_fields: ClassVar[tuple[str, ...]] = ("url", "type_names", "srs_name", "bbox", "page_size")

    url: str = Field(
        title="Service address",
        description="The WFS's address without its request parameters (it may carry a query, "
        "such as ?map=).",
    )
    type_names: str = Field(
        pattern=r"^[A-Za-z_][\w.\-]*(:[A-Za-z_][\w.\-]*)?$", title="Feature type",
        description="As the service's capabilities name it, such as planning:sites.",
    )  # fmt: skip
    page_size: int = Field(default=1000, ge=1, le=100_000, title="Features per request")
    output_format: str | None = None  # None: GeoJSON if GetFeature offers it, else GML
    srs_name: str | None = Field(
        default=None, title="Coordinate system to ask for (optional)",
        description="Such as EPSG:27700; empty for the feature type's default.",
    )  # fmt: skip
    bbox: list[float] | None = Field(
        default=None, min_length=4, max_length=4, title="Area (optional)",
        description="West, south, east, north in longitude and latitude, such as "
        "0.6, 50.9, 1.5, 51.5; empty for every feature.",
    )  # fmt: skip

    @field_validator("bbox")
    @classmethod
    def _lon_lat_box(cls, bbox: list[float] | None) -> list[float] | None:
        return lon_lat_box(bbox)

    @field_validator("srs_name")
    @classmethod
    def _known_crs(cls, name: str | None) -> str | None:
        return crs_checked(name)

    @field_validator("url")
    @classmethod
    def _service_url(cls, url: str) -> str:
        parts = http_address(url)
        asked = {pair.split("=")[0].lower() for pair in parts.query.split("&") if pair}
        if asked & {"service", "request", "version", "typename", "typenames"}:
            raise ValueError(
                "must be the service's address without WFS request parameters "
                "(SERVICE, REQUEST, VERSION, TYPENAMES): the connector adds them"
            )
        return url


def _with_query(url: str, query: dict[str, str | int]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"


def _xml(body: bytes, page: str) -> Element:
    try:
        root = fromstring(body)
    except ParseError as error:
        raise ConnectorError(f"The WFS answer is not valid XML ({page}): {error}.") from None
    except DefusedXmlException:
        raise ConnectorError(
            f"The WFS answer declares XML entities, which are refused ({page})."
        ) from None
    _raise_exception_report(root, page)
    return root


def _raise_exception_report(root: Element, page: str) -> None:
    if root.tag.rsplit("}", 1)[-1] != "ExceptionReport":
        return
    exception = root.find("{*}Exception")
    code = exception.get("exceptionCode", "") if exception is not None else ""
    texts = [text.text.strip() for text in root.iter() if text.tag.endswith("ExceptionText")]
    message = "; ".join(text for text in texts if text) or "no message"
    raise ConnectorError(
        f"The WFS reported an error{f' ({code})' if code else ''}: {message} ({page})."
    )


class _Capabilities(NamedTuple):
    names: list[str]  # of the feature types
    formats: list[str]  # GetFeature's output formats
    count_default: int | None  # the most features a GetFeature answers, where the service says


def _capabilities(config: WFSConfig, context: SourceContext) -> _Capabilities:
    page = "the service's capabilities"
    query = {"SERVICE": "WFS", "REQUEST": "GetCapabilities", "ACCEPTVERSIONS": "2.0.0"}
    root = _xml(remote_get(_with_query(config.url, query), context, page=page).body, page)
    names = [
        name.text.strip()
        for name in root.iterfind(".//{*}FeatureTypeList/{*}FeatureType/{*}Name")
        if name.text
    ]
    formats = []
    for operation in root.iterfind(".//{*}OperationsMetadata/{*}Operation"):
        if operation.get("name") == "GetFeature":
            for parameter in operation.iterfind("{*}Parameter"):
                if parameter.get("name", "").lower() == "outputformat":
                    formats = [value.text.strip() for value in parameter.iter() if (
                        value.tag.endswith("}Value") and value.text
                    )]  # fmt: skip
    return _Capabilities(names, formats, _count_default(root))


def _count_default(root: Element) -> int | None:
    """The ``CountDefault`` of a WFS 2.0's capabilities: the number of features a GetFeature
    without ``COUNT`` answers, which MapServer (its ``wfs_maxfeatures``) and GeoServer (its
    maximum features) also send at most whatever ``COUNT`` asks. OWS Common lets it be said for
    the whole service or for GetFeature alone (as GeoServer does); the smaller holds. None where
    neither says it as a whole number above 0."""
    found = [
        *root.iterfind(".//{*}OperationsMetadata/{*}Constraint[@name='CountDefault']"),
        *root.iterfind(
            ".//{*}OperationsMetadata/{*}Operation[@name='GetFeature']"
            "/{*}Constraint[@name='CountDefault']"
        ),
    ]
    texts = [constraint.findtext("{*}DefaultValue", "").strip() for constraint in found]
    values = [int(text) for text in texts if re.fullmatch(r"[0-9]{1,18}", text)]
    return min((value for value in values if value > 0), default=None)


def _coordinate_problems(root: Element, first_row: int) -> list[RowProblem]:
    """A problem for each feature whose GML holds a coordinate that is not a finite number.

    GDAL reads such a coordinate as 0 without a word, which would put the feature at the grid's
    origin, so the text is checked here first. Features are numbered in document order, as GDAL
    reads them.
    """
    features = [
        feature
        for member in root
        if member.tag.rsplit("}", 1)[-1] in _MEMBER_ELEMENTS
        for feature in member
    ]
    problems = []
    for number, feature in enumerate(features, start=first_row):
        for element in feature.iter():
            if element.tag.rsplit("}", 1)[-1] not in _COORDINATE_ELEMENTS or not element.text:
                continue
            bad = next(
                (
                    token
                    for token in re.split(r"[\s,]+", element.text.strip())
                    if not _finite(token)
                ),
                None,
            )
            if bad is not None:
                problems.append(
                    RowProblem(
                        number, "geometry", bad[:80], f"the coordinate {bad[:80]!r} is not a number"
                    )
                )
                break
    return problems


def _finite(token: str) -> bool:
    try:
        return math.isfinite(float(token))
    except ValueError:
        return False


def _gml_batch(body: bytes, root: Element, first_row: int, page: str) -> FeatureBatch:
    try:
        meta, _, wkb, values = pyogrio.raw.read(io.BytesIO(body), DOWNLOAD_SCHEMA="NO")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, IndexError) as error:
        # pyogrio raises IndexError for a document in which GDAL finds no layer.
        raise ConnectorError(
            f"The WFS answer is not GML the platform can read ({page}): {error or 'no features'}."
        ) from None
    fields = {
        name: column
        for name, column in zip(meta["fields"], values, strict=True)
        if name not in _ENVELOPE_FIELDS
    }
    return FeatureBatch(first_row, fields, wkb, meta["crs"], _coordinate_problems(root, first_row))


def _geojson_batch(body: bytes, first_row: int, page: str) -> tuple[FeatureBatch, dict]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConnectorError(f"The WFS answer is not valid JSON ({page}): {error}.") from None
    if not isinstance(document, dict) or not isinstance(document.get("features"), list):
        raise ConnectorError(f"The WFS did not answer with GeoJSON features ({page}).")
    declared = document.get("crs")
    properties = declared.get("properties") if isinstance(declared, dict) else None
    named = properties.get("name") if isinstance(properties, dict) else None
    if named is not None and not isinstance(named, str):
        raise ConnectorError(
            f"The WFS names its coordinate system as {named!r}, not a name ({page})."
        )
    crs = crs_parse(named)[0] if named else WGS84
    batch = features_batch(document["features"], first_row=first_row, crs=crs)
    return batch, document


@connector_register
class WFSConnector(Connector):
    key = "wfs"
    title = "WFS 2.0"
    Config = WFSConfig
    credential_kinds = (CredentialKind.BASIC, CredentialKind.HEADER)

    def describe(self, config: WFSConfig) -> str:
        return f"WFS {address_shown(config.url)} feature type {config.type_names}"

    def batches(self, config: WFSConfig, context: SourceContext) -> Iterator[FeatureBatch]:
        names, formats, count_default = _capabilities(config, context)
        if (
            names
            and config.type_names not in names
            and config.type_names not in {name.split(":")[-1] for name in names}
        ):
            raise ConnectorError(
                f"The WFS has no feature type {config.type_names!r}; it has: {', '.join(names)}."
            )
        output_format = config.output_format or next(
            (name for name in formats if "json" in name.lower()), None
        )
        # Asked for more than its maximum, a server that counts no matches and links no next
        # page sends a short page that cannot be told from the last.
        page_size = min(config.page_size, count_default or config.page_size)
        if page_size < config.page_size:
            context.notes.append(
                f"The service answers at most {page_size:,} features a request (CountDefault): "
                f"read {page_size:,} at a time."
            )
        start, number, paging = 0, 1, EndlessPaging()
        matched: int | None = None  # the latest numberMatched a page gave as a number
        most = 0  # the most features one page held
        confirming = False  # whether this page is asked for only to tell if the last was short
        while True:
            query: dict[str, str | int] = {
                "SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature",
                "TYPENAMES": config.type_names, "STARTINDEX": start, "COUNT": page_size,
            }  # fmt: skip
            if output_format:
                query["OUTPUTFORMAT"] = output_format
            if config.srs_name:
                query["SRSNAME"] = config.srs_name
            if config.bbox:
                west, south, east, north = config.bbox
                query["BBOX"] = f"{south},{west},{north},{east},{_URN_WGS84}"
            page = f"page {number}, from feature {start + 1:,}"
            body = remote_get(_with_query(config.url, query), context, page=page).body
            batch: FeatureBatch | None = None
            linked = False  # whether the page links to a next one (GML's next attribute)
            if body.lstrip()[:1] == b"<":
                root = _xml(body, page)  # well-formed, and not an exception report
                matched = _number_matched(root.get("numberMatched"), matched)
                linked = bool(root.get("next"))
                returned = root.get("numberReturned", "unknown")
                if returned != "0":  # GDAL finds no layer in a collection without members
                    batch = _gml_batch(body, root, start + 1, page)
                    if returned.isdigit() and int(returned) != len(batch):
                        raise ConnectorError(
                            f"The WFS page was cut short: it announces {int(returned):,} features "
                            f"but holds {len(batch):,} ({page})."
                        )
            else:
                batch, document = _geojson_batch(body, start + 1, page)
                matched = _number_matched(document.get("numberMatched"), matched)
            if batch is None or not len(batch):
                if matched is not None and start < matched:
                    # The same question would get the same answer: asking again cannot help.
                    raise ConnectorError(
                        f"The WFS says {matched:,} features match but sent none from feature "
                        f"{start + 1:,} on ({page}): loading stopped rather than publish only "
                        f"{start:,} of them."
                    )
                break
            if confirming and paging.repeats(batch):
                break
            paging.check(batch, page)
            yield batch
            start += len(batch)
            most = max(most, len(batch))
            context.progress(start, "fetching")
            # A server may send fewer than COUNT a request (its own maximum, such as GeoServer's
            # and MapServer's max features), so a short page is not taken for the last: with
            # numberMatched, the reading ends when that many have come; without it (MapServer
            # by default) but with a next link, it goes on; with neither, the next page is asked
            # for, and an empty one ends the reading.
            if matched is not None and start >= matched:
                break
            confirming = matched is None and len(batch) < page_size and not linked
            number += 1
        if start > most and most < page_size:  # more than one page, each cut short
            context.notes.append(
                f"The service returned at most {most:,} features a request (asked for "
                f"{page_size:,}); read in {number:,} requests."
            )


def _number_matched(value: object, before: int | None) -> int | None:
    """A page's ``numberMatched`` as a number; ``before`` where it says "unknown" or none."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,18}", value.strip()):
        return int(value)
    return before
