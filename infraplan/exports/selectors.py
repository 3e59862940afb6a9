"""What a download holds: its parameters read and checked, the features they choose, and the
metadata it carries. The web view and ``infraplan export`` both start here.

The dataset must already have passed the one gate (``Dataset.objects.permitted_get``); the
boundary of an ``area`` is read through the gate too (the command line, which runs as the
platform, reads every dataset).
"""

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from pyproj import Transformer

from infraplan.api.crs import Crs, bbox_parse, crs_parse, grid_bbox_check
from infraplan.api.errors import OGCError
from infraplan.catalogue.filters import FilterError, all_of, property_filters
from infraplan.catalogue.history import (
    FUTURE_DATE,
    as_of_in_future,
    as_of_parse,
    first_published_at,
    version_as_of,
)
from infraplan.catalogue.models import Dataset, DatasetVersion, GeometryType, VersionState
from infraplan.catalogue.sources import FeatureRecord, FeatureSource
from infraplan.catalogue.store import StoreFeatureSource, several_publishers
from infraplan.maps.ended import LiveOn, ended_on
from infraplan.maps.selectors import (
    BadRequest,
    MapMoment,
    bbox_polygon,
    on_grid,
    parse_bbox,
    source_at,
)

from .areas import Chosen, Outline, area_choose
from .base import Exporter, ExportError
from .selection import Selection, Summary, selection_records, selection_summary

# The parameters of a download; every other one is an attribute filter on a field.
RESERVED = ("area", "as_of", "bbox", "bbox-crs", "ended", "version")


# What a file holding the current version says of being superseded.
_CURRENT = "No: it was the current version when this file was generated"

# What a download of a dataset with several publishers says of its organisation column.
PUBLISHERS = (
    "Several organisations publish this dataset, each its own part, and two may use the same "
    "reference: the column 'organisation' is the slug of the organisation whose part each "
    "feature is in"
)


def day_text(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


@dataclass(frozen=True)
class Superseded:
    """Of a download's version that was no longer current when the file was made: the version
    published after it (which ended its time as the current one), when, and the dataset's
    current version then."""

    by: int
    at: datetime | None
    current: int

    def text(self) -> str:
        published = f", published {_minute(self.at)}" if self.at else ""
        if self.by == self.current:
            return f"Yes: by version {self.by} (the current version){published}"
        return f"Yes: by version {self.by}{published}; the current version is {self.current}"


def _minute(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class About:
    """What every download says of itself: where its data came from, under which licence, as
    published when, and how it was chosen."""

    title: str
    slug: str
    attribution: str
    licence: str
    version: int | None  # None: a source whose history the platform does not keep
    published_at: datetime | None
    as_of: date | None  # None: as now
    day: date  # the day ended features are judged on
    area: str  # "<name> (<ONS code>)", or "" for no area
    bbox: str  # as given, or ""
    filters: tuple[str, ...]  # "status: permissioned or pending"
    ended_shown: bool
    generated_at: datetime
    url: str  # the dataset page, at SITE_URL
    several_publishers: bool = False  # each feature's organisation is a column
    bbox_crs: Crs | None = None  # bbox's coordinate system when named; None: WGS84 degrees
    features: int | None = None  # how many features the file holds (None: not yet counted)
    # The version's successor, when the file holds a version other than the current one
    # (``version=N``, or ``as_of`` a date since which another has been published).
    superseded: Superseded | None = None

    def _as_published_on(self) -> str:
        if self.as_of:
            return day_text(self.as_of)
        if self.superseded:
            return (
                f"Version {self.version} (not the current version; the current version is "
                f"{self.superseded.current})"
            )
        return "Now (current version)"

    def rows(self) -> list[tuple[str, str]]:
        """The metadata as labelled lines of text (the XLSX "About" sheet, GeoPackage metadata),
        the labels alike in each: none holds a ":" or "=", which GDAL would cut it at."""
        if self.version is None:
            version = "Not versioned: the platform keeps no history of this source"
        else:
            when = f", published {_minute(self.published_at)}" if self.published_at else ""
            version = f"{self.version}{when}"
        if self.ended_shown:
            ended = "Included, each with the date it ended (column 'ended')"
        else:
            ended = f"Left out: features their source says had ended by {day_text(self.day)}"
        box_crs = self.bbox_crs.label if self.bbox_crs else "WGS84 longitude, latitude"
        # No label names the box's coordinate system ("Box (EPSG:27700)"): GDAL ends a key at
        # its first ":" or "=", and a GeoPackage layer's would read "Box (EPSG".
        box = f"{self.bbox} in {box_crs}" if self.bbox else "None"
        return [
            ("Dataset", self.title),
            ("Attribution", self.attribution),
            ("Licence", self.licence),
            ("Version", version),
            ("As published on", self._as_published_on()),
            # Said of every versioned file, so that a reader later can tell "not superseded"
            # from "not said".
            *(
                [("Superseded", self.superseded.text() if self.superseded else _CURRENT)]
                if self.version is not None
                else []
            ),
            ("Area", self.area or "All of the dataset"),
            ("Box", box),
            ("Filters", "; ".join(self.filters) or "None"),
            ("Features that have ended", ended),
            *([("Features", str(self.features))] if self.features is not None else []),
            *([("Publishers", PUBLISHERS)] if self.several_publishers else []),
            ("Generated", f"{timezone.localtime(self.generated_at):%Y-%m-%d %H:%M:%S %Z}"),
            ("Dataset page", self.url),
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "dataset": self.slug,
            "attribution": self.attribution,
            "licence": self.licence,
            "version": self.version,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            **(self._superseded_json() if self.version is not None else {}),
            "area": self.area or None,
            "bbox": self.bbox or None,
            **({"bbox_crs": self.bbox_crs.uri} if self.bbox_crs else {}),
            "filters": list(self.filters),
            "ended_features": "included" if self.ended_shown else "left out",
            **({"features": self.features} if self.features is not None else {}),
            **({"publishers": PUBLISHERS} if self.several_publishers else {}),
            "generated_at": self.generated_at.isoformat(),
            "url": self.url,
        }

    def _superseded_json(self) -> dict[str, Any]:
        """Which version was current when the file was made, and what followed the file's."""
        superseded = self.superseded
        if superseded is None:
            return {"current_version": self.version, "superseded_by": None, "superseded_at": None}
        return {
            "current_version": superseded.current,
            "superseded_by": superseded.by,
            "superseded_at": superseded.at.isoformat() if superseded.at else None,
        }


@dataclass
class Export:
    """A download ready to be written: the dataset (already permitted), where its features come
    from and which are chosen, the moment it shows and what it says of itself."""

    dataset: Dataset
    source: FeatureSource
    selection: Selection
    moment: MapMoment
    about: About
    area_code: str = ""
    frame: tuple[float, float, float, float] | None = None  # WGS84: the box chosen
    # The box chosen, by its lower-left and upper-right corners on the grid (whole metres).
    box_corners: tuple[int, int, int, int] | None = None
    outline: Outline | None = None  # the area's boundary, which a map of the features shows
    # The datasets whose boundaries chose the features (an area's, its districts'): read too.
    boundaries: tuple[Dataset, ...] = ()
    # Whether the dataset, as shown, has several publishers (``store.several_publishers``):
    # the table then says whose part each feature is in (``exports.table``).
    several_publishers: bool = False
    # The published version asked for by number (``version=N``), rather than the one current now
    # or on the moment's date.
    version_asked: int | None = None
    # The attribute filters as asked: each field (in order of name) with its values, stripped.
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def datasets_read(self) -> list[Dataset]:
        """Every dataset the download reads: its own, and the boundaries that chose its
        features. A restricted one makes the download private, and its read is recorded."""
        return [self.dataset, *(d for d in self.boundaries if d.pk != self.dataset.pk)]

    def records(self) -> Iterator[FeatureRecord]:
        """The chosen features, with their geometry (EPSG:27700), in reference order; for a
        dataset with several publishers, each with its organisation's slug."""
        return selection_records(
            self.dataset, self.source, self.selection, organisations=self.several_publishers
        )

    @cached_property
    def summary(self) -> Summary:
        return selection_summary(self.dataset, self.source, self.selection)

    def ended(self, record: FeatureRecord) -> date | None:
        """When the feature ended, if it had by the day shown (only such features are shown
        as ended; a date to come is not an end yet)."""
        day = ended_on(record.properties)
        return day if day is not None and day <= self.moment.day else None

    def filename(self, extension: str) -> str:
        """``<slug>[-<area>][-box-<x>-<y>-<x>-<y>][-where-<filters>][-with-ended]
        [-version-<n>|-as-of-<date>].<extension>``: every choice of which features the file
        holds, so that two downloads of different features are not given the same name. A box
        by its corners on the grid in whole metres, whatever coordinates it was given in;
        filters as ``filters_name`` says. Lowercase ASCII letters, digits and hyphens (the
        dataset's slug and the area's code as they are), at most about 250 characters: safe on
        every system, and in a Content-Disposition header as it is."""
        parts = [self.dataset.slug]
        if self.area_code:
            parts.append(self.area_code)
        if self.box_corners is not None:
            parts.append("box-" + "-".join(str(number) for number in self.box_corners))
        if self.filters:
            parts.append(f"where-{filters_name(self.filters)}")
        if self.moment.show_ended:
            parts.append("with-ended")
        if self.version_asked is not None:
            parts.append(f"version-{self.version_asked}")
        if self.moment.as_of:
            parts.append(f"as-of-{self.moment.as_of.isoformat()}")
        return f"{'-'.join(parts)}.{extension}"


# The most characters the filters take in a file name (``filters_name``).
FILTERS_NAME_MAX = 60
_FILTERS_NAME_CUT = FILTERS_NAME_MAX - 9  # room for "-" and the hash's 8 hex digits


def _name_text(text: str) -> str:
    """``text`` in lowercase ASCII letters and digits, accents dropped, any other run of
    characters a hyphen: "Open Date" is "open-date", "Café" "cafe", "東京" ""."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def filters_name(filters: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    """The attribute filters as a file name says them: each field and its values, in order of
    field name, several values joined by ``-or-`` and an empty one as ``unknown`` (as the
    metadata says it): ``open-date-2018-04-01``, ``homes-10-status-open-or-closed``.

    Filters that would take more than ``FILTERS_NAME_MAX`` characters are cut and followed by
    8 hex digits of a hash of the filters as given, so that two long filters are told apart;
    so are filters with a field or value that has no ASCII letter or digit to name it by
    (nothing is left of it but the hash, if nothing else is readable)."""
    readable, lost = [], False
    for name, values in filters:
        said = [_name_text(value) if value else "unknown" for value in values]
        lost = lost or not _name_text(name) or not all(said)
        readable.append("-".join([_name_text(name), "-or-".join(said)]))
    named = re.sub("-+", "-", "-".join(readable)).strip("-")
    if not lost and len(named) <= FILTERS_NAME_MAX:
        return named
    digest = hashlib.sha256(json.dumps(filters, ensure_ascii=False).encode()).hexdigest()[:8]
    cut = named[:_FILTERS_NAME_CUT].rstrip("-")
    return f"{cut}-{digest}" if cut else digest


def _single(query: QueryDict, name: str) -> str:
    """The one value of ``name`` (stripped; "" when absent); given twice is an error."""
    values = query.getlist(name)
    if len(values) > 1:
        raise ExportError(f"{name}: given {len(values)} times; give it once")
    return (values[0] if values else "").strip()


def _bbox_crs(query: QueryDict, bbox_text: str) -> Crs | None:
    """The coordinate system ``bbox-crs`` names (the OGC API's URIs), or None for the default:
    WGS84 longitude and latitude, as the map's links write a box."""
    text = _single(query, "bbox-crs")
    if not text:
        return None
    if not bbox_text:
        raise ExportError(
            "bbox-crs: it names the coordinate system of bbox, which is not given; "
            "give bbox too, or leave bbox-crs out"
        )
    try:
        return crs_parse("bbox-crs", text)
    except OGCError as problem:
        raise ExportError(problem.description) from None


@dataclass(frozen=True)
class Box:
    """The box ``bbox`` names: its WGS84 frame (what a picture of it shows), the polygon in
    EPSG:27700 that features must meet, and its lower-left and upper-right corners on the grid
    in whole metres (of the part of it on the grid), which name it in a filename."""

    frame: tuple[float, float, float, float]
    polygon: GEOSGeometry
    corners: tuple[int, int, int, int]


# A box's corners in degrees to the grid, for its name (``Box.corners``).
_DEGREES_TO_GRID = Transformer.from_crs(4326, 27700, always_xy=True)


def _box(bbox_text: str, crs: Crs | None) -> Box:
    if crs is None:
        try:
            frame = parse_bbox(bbox_text)
        except BadRequest as problem:
            raise ExportError(str(problem)) from None
        box = bbox_polygon(frame)
    else:
        try:
            box = bbox_parse(bbox_text, crs)
            if crs.srid == 27700:
                grid_bbox_check(bbox_text, box)  # degrees sent as metres, as the OGC API says
        except OGCError as problem:
            raise ExportError(problem.description) from None
    within = on_grid(box) if not box.empty else box
    if within.empty or within.area == 0:
        label = crs.label if crs else "WGS84 longitude, latitude"
        raise ExportError(
            f"bbox: {bbox_text!r} in {label} lies outside Great Britain and its waters, "
            "where every feature is"
        )
    degrees = within.transform(4326, clone=True).extent
    if crs is not None and crs.srid == 27700:
        corners = within.extent
    else:  # a box in degrees (or Web Mercator's, a box in degrees too) is curved on the grid
        west, south, east, north = degrees
        corners = (
            *_DEGREES_TO_GRID.transform(west, south),
            *_DEGREES_TO_GRID.transform(east, north),
        )
    named = tuple(max(0, round(number)) for number in corners)
    return Box(frame if crs is None else degrees, box, named)


def _as_of_read(text: str) -> date | None:
    try:
        as_of = as_of_parse(text)
    except ValueError as problem:
        raise ExportError(f"as_of: {problem}") from None
    # Read as now by as_of_parse, which the map's tiles share; a download is asked for on
    # purpose, and a file said to be as of a date to come would hold today's data unsaid.
    if as_of_in_future(text):
        raise ExportError(f"as_of: {FUTURE_DATE}")
    return as_of


def _as_of_kept(dataset: Dataset, as_of: date | None) -> None:
    """Refuse a date for a source whose history the platform does not keep."""
    if as_of is not None and dataset.source_key != StoreFeatureSource.key:
        raise ExportError(
            f"as_of: the platform keeps no history of {dataset.title}, so it can be downloaded "
            "only as it is now; leave out as_of"
        )


def download_as_of(dataset: Dataset, text: str) -> date | None:
    """The date ``as_of`` names (None: now), checked as a download of ``dataset`` checks it
    (``export_prepare``): a real date, not to come, of a source whose history is kept, by the
    end of which something had been published. Raises ExportError saying what is wrong, for the
    download form to say before it sends the browser on to a download that would refuse it."""
    as_of = _as_of_read(text)
    _as_of_kept(dataset, as_of)
    if as_of is not None and version_as_of(dataset, as_of) is None:
        raise _not_published(dataset, as_of)
    return as_of


def _moment(query: QueryDict) -> MapMoment:
    ended = _single(query, "ended")
    if ended not in ("", "show", "hide"):
        raise ExportError(
            f"ended: {ended!r} is not a choice; ended=show includes the features whose source "
            "says they have ended, ended=hide (the default) leaves them out"
        )
    return MapMoment(as_of=_as_of_read(_single(query, "as_of")), show_ended=ended == "show")


_VERSION_NUMBER = re.compile(r"[0-9]{1,9}")


def _version_asked(dataset: Dataset, query: QueryDict) -> DatasetVersion | None:
    """The published version ``version=N`` names; None without one. A version is named by its
    number, as the dataset's versions table and its diffs number them, so that any of a day's
    several versions can be downloaded (``as_of`` names the last of a day)."""
    text = _single(query, "version")
    if not text:
        return None
    if not _VERSION_NUMBER.fullmatch(text):
        raise ExportError(f"version: {text!r} is not a version number; give one such as version=2")
    # as_of of today reads as now (None), but was given all the same: refused alike.
    if _single(query, "as_of"):
        raise ExportError(
            "version: give version or as_of, not both: version names one published version, "
            "as_of the version that was current at the end of a day"
        )
    if dataset.source_key != StoreFeatureSource.key:
        raise ExportError(
            f"version: the platform keeps no history of {dataset.title}, so it can be downloaded "
            "only as it is now; leave out version"
        )
    published = dataset.versions.filter(state=VersionState.PUBLISHED).defer("report")
    version = published.filter(number=int(text)).first()
    if version is None:
        numbers = sorted(published.values_list("number", flat=True))
        listed = ", ".join(str(number) for number in numbers) or "none yet"
        raise ExportError(
            f"version: {dataset.title} has no published version {int(text)}; its published "
            f"versions are: {listed}",
            404,
        )
    return version


def _filters(query: QueryDict) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The attribute filters asked for: each field, in order of name, with its values."""
    return tuple(
        (name, tuple(value.strip() for value in query.getlist(name)))
        for name in sorted(set(query) - set(RESERVED))
    )


def _filters_text(filters: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[str, ...]:
    """The attribute filters as the download's metadata says them."""
    return tuple(
        f"{name}: {' or '.join(value or 'unknown' for value in values)}" for name, values in filters
    )


def _version(dataset: Dataset, moment: MapMoment) -> DatasetVersion | None:
    if moment.as_of is not None:
        return version_as_of(dataset, moment.as_of)
    return dataset.versions.filter(is_current=True).defer("report").first()


def _superseded(dataset: Dataset, version: DatasetVersion) -> Superseded | None:
    """What followed ``version`` if it is no longer the current version (None if it is).
    Versions are published in the order of their numbers (``version_publish`` renumbers a
    draft overtaken by another), so the next number published is the one that followed it."""
    if version.is_current:
        return None
    following = (
        dataset.versions.filter(state=VersionState.PUBLISHED, number__gt=version.number)
        .order_by("number")
        .values_list("number", "published_at")
        .first()
    )
    current = dataset.current_version_number()
    if following is None or current is None:
        return None
    by, at = following
    return Superseded(by=by, at=at, current=current)


def _not_published(dataset: Dataset, as_of: date | None) -> ExportError:
    first = first_published_at(dataset)
    if as_of is None or first is None:
        return ExportError(
            f"the dataset {dataset.title} has not been published yet: there is nothing to download",
            404,
        )
    return ExportError(
        f"as_of: nothing of {dataset.title} had been published by the end of "
        f"{day_text(as_of)}; its first version was published on "
        f"{day_text(timezone.localdate(first))}",
        404,
    )


def export_prepare(
    *, user: Any, dataset: Dataset, exporter: Exporter, query: QueryDict, platform: bool = False
) -> Export:
    """The download of ``dataset`` (which ``user`` may view) in ``exporter``'s format that
    ``query`` asks for: ``area``, ``bbox``, ``as_of``, ``ended`` and attribute filters. Raises
    ExportError saying which parameter cannot be used and why.

    ``platform``: asked for by the platform itself (the command line), which may read every
    dataset, the boundaries of areas included.
    """
    spatial = dataset.geometry_type != GeometryType.NONE
    if exporter.spatial_only and not spatial:
        raise ExportError(
            f"the dataset {dataset.title} has no geometry, so it cannot be downloaded as "
            f"{exporter.title}: "
            "download it as CSV or XLSX"
        )
    moment = _moment(query)
    bbox_text = _single(query, "bbox")
    bbox_crs = _bbox_crs(query, bbox_text)
    area_code = _single(query, "area")
    area: Chosen | None = None
    if area_code:
        area = area_choose(area_code, user, spatial=spatial, platform=platform)
    box = None
    if bbox_text:
        if not spatial:
            raise ExportError(
                f"bbox: {dataset.title} has no geometry, so its features cannot be chosen by a "
                "box; choose them by area (the district each was placed in) instead"
            )
        box = _box(bbox_text, bbox_crs)
    try:
        attributes = property_filters(dataset, query, reserved=RESERVED)
    except FilterError as problem:
        raise ExportError(str(problem)) from None
    filters = _filters(query)
    _as_of_kept(dataset, moment.as_of)
    asked = _version_asked(dataset, query)
    if asked is not None:
        source, version = StoreFeatureSource.at_version(asked.number), asked
    else:
        source = source_at(dataset, moment)
        version = (
            _version(dataset, moment) if dataset.source_key == StoreFeatureSource.key else None
        )
    if source is None or (dataset.source_key == StoreFeatureSource.key and version is None):
        raise _not_published(dataset, moment.as_of)
    several = several_publishers(
        dataset, version=source.version if isinstance(source, StoreFeatureSource) else None
    )
    about = About(
        title=dataset.title,
        slug=dataset.slug,
        attribution=dataset.attribution,
        licence=dataset.licence,
        version=version.number if version else None,
        published_at=version.published_at if version else None,
        as_of=moment.as_of,
        day=moment.day,
        area=area.described if area else "",
        bbox=bbox_text,
        bbox_crs=bbox_crs,
        filters=_filters_text(filters),
        ended_shown=moment.show_ended,
        generated_at=timezone.now(),
        url=settings.SITE_URL.rstrip("/")
        + reverse("dataset-detail", kwargs={"slug": dataset.slug}),
        several_publishers=several,
        superseded=_superseded(dataset, version) if version else None,
    )
    keep = all_of(attributes, None if moment.show_ended else LiveOn(moment.day))
    outline = area.outline if area else None
    export = Export(
        dataset=dataset,
        source=source,
        selection=Selection(
            meets=(box.polygon,) if box else (),
            keep=keep,
            districts=area.districts if area else None,
            wards=area.wards if area else None,
            unplaced_within=outline.record.geometry if outline else None,
        ),
        moment=moment,
        about=about,
        area_code=area.code if area else "",
        frame=box.frame if box else None,
        box_corners=box.corners if box else None,
        outline=outline,
        boundaries=area.boundaries if area else (),
        several_publishers=several,
        version_asked=asked.number if asked else None,
        filters=filters,
    )
    # Every file says how many features it holds (a CSV file in its answer's header): an empty
    # download is then plainly empty, and a count can be checked against the file.
    export.about = replace(about, features=export.summary.count)
    return export


def export_size_check(exporter: Exporter, export: Export, *, command: str) -> None:
    """Refuse a download of more features than ``exporter`` may write at once (413), saying
    how many and how to get them: ``command`` is the command line that would."""
    limit = exporter.max_features
    if limit is None:
        return
    count = export.summary.count
    if count > limit:
        raise ExportError(
            f"it would hold {count:,} features, more than the {limit:,} a download as "
            f"{exporter.title} may hold; narrow it with area, bbox or attribute filters, "
            "download it as CSV or GeoJSON (which have no limit), or ask for it on the command "
            f"line ({command})",
            413,
        )
