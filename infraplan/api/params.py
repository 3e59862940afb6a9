"""The query parameters of the OGC API, read strictly: a parameter this address does not take, a
value it cannot use, or one given twice, is a 400 that names it and says why."""

import re
from collections.abc import Collection
from dataclasses import dataclass

from django.contrib.gis.geos import GEOSGeometry
from django.http import QueryDict

from infraplan.catalogue.filters import FilterError, all_of, property_filters
from infraplan.catalogue.history import FUTURE_DATE, as_of_in_future, as_of_parse
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.sources import PropertyFilter
from infraplan.maps.ended import LiveOn
from infraplan.maps.selectors import MapMoment

from .crs import CRS84, EPSG_27700, Crs, bbox_parse, crs_parse, grid_bbox_check
from .errors import bad_parameter
from .validity import datetime_parse

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
MAX_OFFSET = 2**53  # any larger is no page of any dataset, and beyond what clients count in
FORMATS = ("json",)
# Parameters of every address; each endpoint adds its own.
COMMON = frozenset({"f"})
ITEM = COMMON | {"crs", "as_of", "ended"}
ITEMS = ITEM | {"limit", "offset", "bbox", "bbox-crs", "datetime"}
# A sign is read, so that -1 is told the range it is outside of, not that it is no number.
_WHOLE = re.compile(r"[+-]?\d+", re.ASCII)


def single(query: QueryDict, name: str) -> str | None:
    """The one value of ``name``; None when absent."""
    values = query.getlist(name)
    if len(values) > 1:
        raise bad_parameter(f"{name}: given {len(values)} times; give it once")
    return values[0] if values else None


def known_only(query: QueryDict, allowed: Collection[str]) -> None:
    """400 for a parameter outside ``allowed``, and for an ``f`` other than json."""
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        raise bad_parameter(
            f"{unknown[0]!r} is not a parameter of this address (it takes "
            f"{', '.join(sorted(allowed))})"
        )
    for name in allowed:
        single(query, name)
    format_check(query)


def format_check(query: QueryDict) -> None:
    """400 for an ``f`` other than json: this API answers in JSON only."""
    output = single(query, "f")
    if output is not None and output not in FORMATS:
        raise bad_parameter(
            f"f: {output!r} is not a format this service answers in; give f=json (the "
            "dataset pages are the human view)"
        )


def _whole(name: str, value: str, least: int, most: int) -> int:
    text = value.strip()
    if not _WHOLE.fullmatch(text):
        raise bad_parameter(f"{name}: {value!r} is not a whole number")
    number = int(text)
    if not least <= number <= most:
        raise bad_parameter(f"{name}: {number} is out of range; give {least} to {most:,}")
    return number


def _box(bbox: str | None, bbox_crs: str | None) -> GEOSGeometry | None:
    """The box ``bbox`` names in ``bbox-crs`` (CRS84 when not named), in EPSG:27700; None for
    no box. ``bbox-crs`` says how to read ``bbox``: given alone it is a mistake (a box left
    out of an address), refused as downloads refuse it, not a request for everything."""
    if bbox is None:
        if bbox_crs:
            raise bad_parameter(
                "bbox-crs: it names the coordinate system of bbox, which is not given; "
                "give bbox too, or leave bbox-crs out"
            )
        return None
    crs = crs_parse("bbox-crs", bbox_crs or CRS84.uri)
    box = bbox_parse(bbox, crs)
    if crs == EPSG_27700:
        grid_bbox_check(bbox, box)
    return box


def _moment(query: QueryDict, *, show_ended: bool) -> MapMoment:
    text = single(query, "as_of") or ""
    try:
        as_of = as_of_parse(text)
    except ValueError as problem:
        raise bad_parameter(f"as_of: {problem}") from None
    # as_of_parse reads a date to come as now, as the map's tiles do; a client that asks for
    # one is told, as the map and the dataset page tell a person, rather than sent today's data.
    if as_of_in_future(text):
        raise bad_parameter(f"as_of: {FUTURE_DATE}")
    return MapMoment(as_of=as_of, show_ended=show_ended)


def _show_ended(query: QueryDict) -> bool:
    ended = single(query, "ended")
    if ended not in (None, "show", "hide"):
        raise bad_parameter(
            f"ended: {ended!r} is not an option; give ended=show to include features their "
            "source says have ended, or ended=hide (the default)"
        )
    return ended == "show"


@dataclass(frozen=True)
class ItemQuery:
    """What the address of one feature asks for."""

    crs: Crs
    moment: MapMoment

    @property
    def keep(self) -> PropertyFilter | None:
        """Ended features only when asked for, as on the map."""
        return None if self.moment.show_ended else LiveOn(self.moment.day)

    @classmethod
    def parse(cls, query: QueryDict) -> "ItemQuery":
        known_only(query, ITEM)
        crs = crs_parse("crs", single(query, "crs") or CRS84.uri)
        return cls(crs=crs, moment=_moment(query, show_ended=_show_ended(query)))


@dataclass(frozen=True)
class ItemsQuery:
    """What an ``items`` address asks for: a page of the features meeting every condition."""

    crs: Crs
    moment: MapMoment
    limit: int
    offset: int
    box: GEOSGeometry | None  # EPSG:27700
    keep: PropertyFilter | None  # attribute filters, and the features' own validity

    @classmethod
    def parse(cls, query: QueryDict, dataset: Dataset) -> "ItemsQuery":
        # Any other parameter is an attribute filter, or a 400 (property_filters).
        for name in ITEMS:
            single(query, name)
        format_check(query)
        crs = crs_parse("crs", single(query, "crs") or CRS84.uri)
        box = _box(single(query, "bbox"), single(query, "bbox-crs"))
        limit = single(query, "limit")
        offset = single(query, "offset")
        show_ended = _show_ended(query)
        moment = _moment(query, show_ended=show_ended)
        when = single(query, "datetime")
        if when is not None:
            # The features valid then, whether or not they have ended since.
            validity: PropertyFilter | None = datetime_parse(when)
        else:
            validity = None if show_ended else LiveOn(moment.day)
        try:
            attributes = property_filters(dataset, query, reserved=ITEMS)
        except FilterError as problem:
            raise bad_parameter(str(problem)) from None
        return cls(
            crs=crs,
            moment=moment,
            limit=DEFAULT_LIMIT if limit is None else _whole("limit", limit, 1, MAX_LIMIT),
            offset=0 if offset is None else _whole("offset", offset, 0, MAX_OFFSET),
            box=box,
            keep=all_of(attributes, validity),
        )
