"""Loading a vector file into a dataset as a new version.

The file is read and checked in full before anything is published: every problem is reported
with its row number, field and reason, and a file with problems never replaces the current
version (the failed draft and its report are kept for the dataset's history).
"""

import calendar
import csv
import hashlib
import json
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from string import Formatter
from typing import Any

import numpy as np
import pyogrio
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from django.utils.timezone import get_default_timezone, get_default_timezone_name
from pyproj import CRS, Transformer

from infraplan.accounts.models import Organisation

from .models import Dataset, DatasetVersion, GeometryType
from .placement import features_place
from .publishing import (
    FeatureRow,
    version_add_features,
    version_fail,
    version_publish,
    version_start,
)

BNG = CRS.from_epsg(27700)
_SHAPELY_TYPES = {
    GeometryType.POINT: {"Point", "MultiPoint"},
    GeometryType.LINE: {"LineString", "MultiLineString"},
    GeometryType.POLYGON: {"Polygon", "MultiPolygon"},
}


@dataclass
class RowProblem:
    row: int  # 1-based, in file order
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "reason": self.reason}


@dataclass
class LoadError(Exception):
    """A file that cannot become a version; ``problems`` says exactly why."""

    dataset: str
    problems: list[RowProblem] = field(default_factory=list)
    message: str = ""

    def __str__(self) -> str:
        head = self.message or f"{len(self.problems)} problem(s) in the file for {self.dataset}"
        detail = "; ".join(f"row {p.row}, {p.field}: {p.reason}" for p in self.problems[:10])
        more = f" (and {len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
        return f"{head}: {detail}{more}" if detail else head


@dataclass(frozen=True)
class PointColumns:
    """Point geometry built from two columns of a table (CSV), in the named CRS."""

    x: str
    y: str
    crs: str = "EPSG:4326"


@dataclass(frozen=True)
class Join:
    """Columns of a second table (CSV) added to each feature, matched by a key.

    Every feature must find its row: a feature without one is a problem naming the feature.
    """

    path: Path
    key: str  # the column of the joined table
    on: str  # the feature's property it must equal
    fields: dict[str, str]  # joined column -> property name


@dataclass(frozen=True)
class Placement:
    """Where to place features: the boundary datasets (by slug) and the source's own code
    (``district_field``), through ``district_codes`` where the source has codes of its own;
    ``by_geometry`` false places by that code alone (a boundary dataset itself, say)."""

    districts: str
    wards: str
    district_field: str = ""
    district_codes: dict[str, str] = field(default_factory=dict)
    by_geometry: bool = True


MISSING_GEOMETRY = ("fail", "report")


@dataclass(frozen=True)
class LoadOptions:
    """How to read a file into a dataset.

    The reference is ``reference_field``'s value, or ``reference_template`` formatted with the
    row's properties (``{row}`` is the 1-based row number); ``reference_fallback`` is used where
    a field the template names is empty. ``missing_geometry = "report"`` skips rows without
    geometry and lists them in the version's report instead of failing the load.
    ``field_types`` converts values to their declared types (integer, number, boolean, date).
    """

    reference_field: str = ""
    value_fixes: dict[str, dict[str, str]] = field(default_factory=dict)
    reference_template: str = ""
    reference_fallback: str = ""
    missing_geometry: str = "fail"
    points: PointColumns | None = None
    field_types: dict[str, str] = field(default_factory=dict)
    join: Join | None = None
    placement: Placement | None = None
    # A dataset several organisations publish (a brownfield register is one per council): each
    # row's organisation is the one ``parts`` names (by slug) for the row's ``parts_field``
    # value; other rows are the load's own organisation's.
    parts_field: str = ""
    parts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if bool(self.reference_field) == bool(self.reference_template):
            raise ValueError("give exactly one of reference_field and reference_template")
        if self.missing_geometry not in MISSING_GEOMETRY:
            raise ValueError(f"missing_geometry must be one of {', '.join(MISSING_GEOMETRY)}")

    def fingerprint(self) -> str:
        """The options in effect, for the checksum (defaults left out, so adding an option
        does not change the checksum of loads that do not use it)."""
        defaults = LoadOptions(reference_field="-")
        options = {
            name: value
            for name, value in asdict(self).items()
            if name in ("reference_field", "value_fixes") or value != getattr(defaults, name)
        }
        return json.dumps(options, sort_keys=True, default=str)


def file_checksum(path: Path, options: LoadOptions) -> str:
    digest = hashlib.sha256()
    for source in [path] + ([options.join.path] if options.join else []):
        with source.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    digest.update(options.fingerprint().encode())
    return digest.hexdigest()


def _to_bng(geometries: np.ndarray, source_crs: CRS) -> np.ndarray:
    if source_crs.equals(BNG):
        return geometries
    transformer = Transformer.from_crs(source_crs, BNG, always_xy=True)

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometries, project)


def _json_value(value: Any) -> Any:
    """A value as JSON keeps it: unknown (a missing date, NaN) as null, dates and times in ISO
    8601 (a spreadsheet's date cells), anything else unusual as its text."""
    if isinstance(value, np.datetime64):
        # A date stays a date; a time is taken to whole seconds (.item() of a finer unit is a
        # bare integer).
        unit = "D" if np.datetime_data(value.dtype)[0] in ("Y", "M", "W", "D") else "s"
        value = None if np.isnat(value) else value.astype(f"datetime64[{unit}]").item()
    elif isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, np.ndarray):  # a GeoJSON property holding a list
        return [_json_value(item) for item in value.tolist()]
    if value is None:
        return None
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, date):  # a datetime is a date too
        return value.isoformat()
    return str(value)


# Whole numbers beyond this lose digits as doubles, which is how the map (JavaScript) reads them.
MAX_EXACT_INTEGER = 2**53 - 1
_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}
# Year, month and day; GDAL writes a spreadsheet's date as text with slashes (2024/01/02).
_ISO_DATE = re.compile(r"^([0-9]{4})[-/]([0-9]{2})[-/]([0-9]{2})")
# A British date, day first (31/08/2007, 31-08-2007, 1.9.2015), as council spreadsheets and
# Get Information About Schools write them, perhaps followed by a time; never read month first.
_UK_DATE = re.compile(r"^([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4})(?![0-9])")
# Eight digits, year first (20160630), as the NHS Organisation Data Service writes dates.
_COMPACT_DATE = re.compile(r"^([0-9]{4})([0-9]{2})([0-9]{2})$")
DATE_FORMATS = "YYYY-MM-DD, DD/MM/YYYY or YYYYMMDD"
# A time after a date (2024-06-19T23:00:00Z, 20/06/2016 00:00, 2024-06-20T14): hours, then
# perhaps minutes, seconds and their fraction; then perhaps its zone (``_ZONE``).
_TIME = re.compile(r"[T ]([0-9]{1,2})(?::([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?)?")
_ZONE = re.compile(r" ?(?:(Z|UTC|GMT)|([+-])([0-9]{2})(?::?([0-9]{2}))?)$")


# An amount as UK councils write one: a currency sign, commas between groups of three digits
# (the decimal sign is a point), a minus before or after it or brackets for a negative, spaces
# around. "2,5" and "1,00" are no such amount: a comma there could be a decimal one; nor is a
# code with leading zeros (01227). The same pattern reads in Python and in PostgreSQL
# (first_schema.py finds number columns with it).
_AMOUNT = r"([£$€] ?)?(0|[1-9][0-9]{0,2}(,[0-9]{3})+|[1-9][0-9]*)(\.[0-9]+)?"
MONEY = rf"^ *([-+]? *{_AMOUNT}|{_AMOUNT} *-|\( *{_AMOUNT} *\)) *$"
_MONEY = re.compile(MONEY)


def money_amount(text: str) -> Decimal | None:
    """``text`` as an exact amount when it is one as ``MONEY`` reads it (£2,500,000, (£1,200),
    1,350,000.50-); None when it is not."""
    if not _MONEY.match(text):
        return None
    digits = re.sub(r"[^0-9.]", "", text)
    amount = Decimal(digits)
    return -amount if "-" in text or "(" in text else amount


# What spreadsheets write where a value is not known; a typed field's unknown is an empty cell.
_UNKNOWN_WRITTEN = {
    "n/a",
    "na",
    "n.a.",
    "-",
    "--",
    "\u2013",  # an en dash
    "\u2014",  # an em dash
    "?",
    "tbc",
    "tbd",
    "unknown",
    "not known",
    "none",
    "nil",
    "null",
}
UNKNOWN_HINT = ": leave the cell empty where the value is not known"


def _not_a(value: Any, what: str) -> ValueError:
    """The error for ``value``, which is not ``what`` (a whole number, a number, a date); where
    it is a spreadsheet's way of saying "not known", what to write instead."""
    hint = UNKNOWN_HINT if str(value).strip().lower() in _UNKNOWN_WRITTEN else ""
    return ValueError(f"{value!r} is not {what}{hint}")


def typed_value(value: Any, kind: str) -> Any:
    """``value`` as ``kind``; raises ValueError saying why it cannot be.

    A number is stored as a double, whose shortest form (what JSON is written with) gives back
    any text of up to 15 significant digits exactly: "1350000.50" is 1350000.5, never
    1350000.4999…; a whole one is written without a fraction (300000, not 300000.0), as JSON
    and every other load write it; amounts with a currency sign and thousands separators are
    read too (``MONEY``)."""
    if kind == "string" or value is None:
        return value
    if value == "":
        return None
    if kind == "integer":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"{value!r} is not a whole number")
        try:
            whole = int(value)
        except (TypeError, ValueError):
            whole = _whole_number_text(value)
        if abs(whole) > MAX_EXACT_INTEGER:
            raise ValueError(
                f"{value!r} is too large to store exactly: whole numbers must be between "
                f"-{MAX_EXACT_INTEGER:,} and {MAX_EXACT_INTEGER:,}"
            )
        return whole
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            amount = money_amount(value) if isinstance(value, str) else None
            if amount is None:
                raise _not_a(value, "a number") from None
            number = float(amount)
        if not np.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        if number.is_integer() and abs(number) <= MAX_EXACT_INTEGER:
            return int(number)  # 300000, as another load's whole-number field has it: not 300000.0
        return number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise _not_a(value, "true or false")
    if kind == "date":
        return date_and_time_of_day(value)[0]
    raise ValueError(f"unknown field type {kind!r}")


def date_and_time_of_day(value: Any) -> tuple[str, bool]:
    """The YYYY-MM-DD day ``value`` names (``DATE_FORMATS``, perhaps with a time), and whether
    it holds a time of day, which a date field does not keep; ValueError when it names no day.

    A time at midnight as written is that day, in whatever zone it is written (the day its
    writer meant: 2024-01-01T00:00:00Z, 20/06/2016 00:00). Any other time with a zone (Z or an
    offset) is a moment, whose day is its day in the platform's time zone (``TIME_ZONE``): a
    whole day where that is midnight, as ArcGIS stores a day picked in the UK (1 July in summer
    time is 2024-06-30T23:00:00Z). The two never name different days: a moment at midnight
    both as written and in the platform's zone is written in the platform's offset. A time
    without a zone is the day as written. Anything else after the day is no date: a day read
    from "2024-06-20 (approx)" would drop what its writer added."""
    text = str(value).strip()
    match = _ISO_DATE.match(text) or _COMPACT_DATE.match(text)
    if match:
        day = "-".join(match.groups())
    elif match := _UK_DATE.match(text):
        days, month, year = match.groups()
        day = f"{year}-{int(month):02d}-{int(days):02d}"
    else:
        raise _not_a(value, f"a date ({DATE_FORMATS})")
    try:
        calendar_day = date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"{value!r} is no such date: {why_no_date(day)}") from None
    if match.end() == len(text):
        return day, False
    time = _TIME.match(text, match.end())
    if time is None:
        raise ValueError(
            f"{value!r} is not a date ({DATE_FORMATS}): {text[match.end() :]!r} follows the day"
        )
    zone = _ZONE.match(text, time.end())
    if zone is None and time.end() < len(text):
        raise ValueError(
            f"{value!r} is not a date and time: {text[time.end() :]!r} follows the time, "
            "which is no time zone (Z, UTC, GMT or an offset such as +01:00)"
        )
    hours, minutes, seconds, fraction = time.groups()
    if int(hours) > 23 or int(minutes or 0) > 59 or int(seconds or 0) > 59:
        raise ValueError(f"{value!r} is no such date and time")
    if (
        int(hours) == 0 and minutes in (None, "00") and seconds in (None, "00")
        and (fraction is None or not fraction.strip("0"))
    ):  # fmt: skip
        return day, False
    if zone is None:  # no zone: the day as written, at a time that is not midnight
        return day, True
    return _moment_day(value, calendar_day, time, zone)


def _moment_day(
    value: Any, day: date, time: re.Match[str], zone: re.Match[str]
) -> tuple[str, bool]:
    """The day in the platform's time zone of a date and time with a zone that is not midnight
    as written, and whether it is a time of day there (``date_and_time_of_day``)."""
    hours, minutes, seconds, fraction = time.groups()
    utc, sign, offset_hours, offset_minutes = zone.groups()
    offset = (
        timedelta(0)
        if utc
        else timedelta(hours=int(offset_hours), minutes=int(offset_minutes or 0))
    )
    try:
        local = datetime(
            day.year, day.month, day.day, int(hours), int(minutes or 0), int(seconds or 0),
            int(((fraction or "") + "00000")[:6]),
            tzinfo=timezone(-offset if sign == "-" else offset),
        ).astimezone(get_default_timezone())  # fmt: skip
    except ValueError:  # 25:00, an offset of a day or more
        raise ValueError(f"{value!r} is no such date and time") from None
    except OverflowError:
        raise ValueError(f"{value!r} falls outside the years 1 to 9999") from None
    return local.date().isoformat(), bool(
        local.hour or local.minute or local.second or local.microsecond
    )


def times_of_day_note(name: str, count: int) -> str:
    """The report's note that ``count`` values of the date field ``name`` held a time of day,
    which the field does not keep."""
    values = "1 value" if count == 1 else f"{count:,} values"
    return (
        f"{values} of {name} held a time of day, which a date field does not keep: each is kept "
        f"as its day (one with a time zone, its day in the platform's, "
        f"{get_default_timezone_name()})."
    )


def _whole_number_text(value: Any) -> int:
    """A whole number written with a decimal point or an exponent ("10.0", "1e3"), as a
    spreadsheet saved as CSV may write one, or as an amount (£2,500,000); ValueError for any
    other text."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        amount = money_amount(value) if isinstance(value, str) else None
        if amount is None or amount != amount.to_integral_value():
            raise _not_a(value, "a whole number") from None
        return int(amount)
    if not (np.isfinite(number) and number.is_integer()):
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def why_no_date(text: str) -> str:
    """Why ``text`` (YYYY-MM-DD) is not on the calendar, in words an officer can act on."""
    year, month, day = (int(part) for part in text.split("-"))
    if year == 0:
        return "there is no year 0"
    if not 1 <= month <= 12:
        return f"there is no month {month}"
    days = calendar.monthrange(year, month)[1]
    if day == 0:
        return "there is no day 0"
    return f"{calendar.month_name[month]} {year} has {days} days"


def _template_fields(template: str) -> list[str]:
    return [name for _, name, _, _ in Formatter().parse(template) if name]


def _reference(properties: dict[str, Any], number: int, options: LoadOptions) -> Any:
    if options.reference_field:
        return properties.get(options.reference_field)
    values = {name: "" if value is None else str(value) for name, value in properties.items()}
    values["row"] = str(number)
    template = options.reference_template
    if options.reference_fallback and any(
        not values.get(name) for name in _template_fields(template)
    ):
        template = options.reference_fallback
    return template.format_map(values)


def _join_table(options: LoadOptions, dataset: str) -> dict[str, dict[str, str]]:
    join = options.join
    if join is None:
        return {}
    with join.path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        missing = [
            name for name in [join.key, *join.fields] if name not in (reader.fieldnames or [])
        ]
        if missing:
            raise LoadError(
                dataset,
                message=f"{join.path.name} has no column {', '.join(map(repr, missing))} to join",
            )
        return {row[join.key]: row for row in reader}


def _geometries(
    meta: dict[str, Any], wkb: Any, field_data: Any, names: list[str], options: LoadOptions,
    path: Path, dataset: str, problems: list[RowProblem],
) -> tuple[np.ndarray, set[int]]:  # fmt: skip
    """The rows' geometries in EPSG:27700 (None where missing), and the indexes of rows whose
    coordinates cannot be read (each already a problem)."""
    if options.points is None:
        if wkb is None or meta.get("crs") is None:
            raise LoadError(dataset, message=f"{path.name} has no geometry or no coordinate system")
        return _to_bng(shapely.from_wkb(wkb), CRS.from_user_input(meta["crs"])), set()
    columns = options.points
    absent = [name for name in (columns.x, columns.y) if name not in names]
    if absent:
        raise LoadError(
            dataset, message=f"{path.name} has no coordinate column {', '.join(map(repr, absent))}"
        )
    xs, ys = field_data[names.index(columns.x)], field_data[names.index(columns.y)]
    points = np.full(len(xs), None, dtype=object)
    unreadable = set()
    for index, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if x in (None, "") or y in (None, ""):
            continue
        try:
            points[index] = shapely.Point(float(x), float(y))
        except ValueError:
            unreadable.add(index)
            problems.append(
                RowProblem(index + 1, f"{columns.x}/{columns.y}", f"({x!r}, {y!r}) is not a coordinate pair")
            )  # fmt: skip
    return _to_bng(points, CRS.from_user_input(columns.crs)), unreadable


@dataclass
class FileRows:
    """What a file holds: the features, and the rows skipped (with reference and reason)."""

    rows: list[FeatureRow]
    skipped: list[dict[str, Any]]
    # Date fields' values that held a time of day, which a date field does not keep, by field.
    times_of_day: Counter[str] = field(default_factory=Counter)


def read_rows(
    path: Path, *, dataset: Dataset, organisation: Organisation, options: LoadOptions
) -> FileRows:
    """Read and check the whole file; raise LoadError listing every problem."""
    try:
        meta, _fids, wkb, field_data = pyogrio.raw.read(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        raise LoadError(
            dataset.slug, message=f"{path.name} cannot be read as a vector file: {error}"
        ) from None
    names = list(meta["fields"])
    needed = (
        [options.reference_field]
        if options.reference_field
        else _template_fields(options.reference_template + options.reference_fallback)
    )
    absent = [name for name in needed if name != "row" and name not in names]
    if absent:
        raise LoadError(
            dataset.slug,
            message=f"{path.name} has no field {', '.join(map(repr, absent))} to use as the "
            f"reference (its fields are: {', '.join(names)})",
        )
    joined = _join_table(options, dataset.slug)
    by_slug = Organisation.objects.in_bulk(set(options.parts.values()), field_name="slug")
    part_owners = {value: by_slug[slug] for value, slug in options.parts.items() if slug in by_slug}
    problems: list[RowProblem] = []
    spatial = dataset.geometry_type != GeometryType.NONE
    geometries, unreadable = (
        _geometries(meta, wkb, field_data, names, options, path, dataset.slug, problems)
        if spatial
        else (None, set())
    )
    rows: list[FeatureRow] = []
    skipped: list[dict[str, Any]] = []
    times_of_day: Counter[str] = Counter()
    seen: dict[str, int] = {}
    for index in range(len(field_data[0]) if field_data else 0):
        number = index + 1
        properties = {name: _json_value(field_data[i][index]) for i, name in enumerate(names)}
        for name, fixes in options.value_fixes.items():
            if properties.get(name) in fixes:
                properties[name] = fixes[properties[name]]
        if options.join is not None:
            key = properties.get(options.join.on)
            match = joined.get("" if key is None else str(key))
            if match is None:
                problems.append(
                    RowProblem(number, options.join.on,
                               f"{key!r} has no row in {options.join.path.name}")
                )  # fmt: skip
                continue
            for column, name in options.join.fields.items():
                properties[name] = match[column]
        for name, kind in options.field_types.items():
            try:
                value = properties.get(name)
                if kind == "date" and value not in (None, ""):
                    properties[name], timed = date_and_time_of_day(value)
                    times_of_day[name] += timed
                else:
                    properties[name] = typed_value(value, kind)
            except ValueError as error:
                problems.append(RowProblem(number, name, str(error)))
        reference = _reference(properties, number, options)
        # Spaces around a reference are not part of it (as a load through the pipeline reads it).
        reference = reference.strip() if isinstance(reference, str) else reference
        if reference in (None, ""):
            field_name = options.reference_field or "reference"
            problems.append(RowProblem(number, field_name, "the reference is empty"))
            continue
        reference = str(reference)
        # Compared as publishing stores references, in Unicode normal form C.
        key = unicodedata.normalize("NFC", reference)
        if key in seen:
            problems.append(
                RowProblem(number, options.reference_field or "reference",
                           f"reference {reference!r} is also on row {seen[key]}")
            )  # fmt: skip
            continue
        seen[key] = number
        geometry = None
        if index in unreadable:
            continue
        if spatial:
            shape = geometries[index]
            if shape is None or shape.is_empty:
                if options.missing_geometry == "report":
                    skipped.append({"row": number, "reference": reference, "reason": "no geometry"})
                else:
                    problems.append(
                        RowProblem(number, "geometry", "the geometry is missing or empty")
                    )
                continue
            if shape.geom_type not in _SHAPELY_TYPES[GeometryType(dataset.geometry_type)]:
                problems.append(
                    RowProblem(number, "geometry",
                               f"a {shape.geom_type} in a dataset of {dataset.geometry_type}s")
                )  # fmt: skip
                continue
            if not shape.is_valid:
                problems.append(
                    RowProblem(number, "geometry", f"invalid: {shapely.is_valid_reason(shape)}")
                )
                continue
            geometry = GEOSGeometry(memoryview(shapely.to_wkb(shape)), srid=27700)
        owner = part_owners.get(properties.get(options.parts_field), organisation)
        rows.append(FeatureRow(owner, reference, properties, geometry))
    if problems:
        raise LoadError(dataset.slug, problems=sorted(problems, key=lambda p: p.row))
    if not rows:
        raise LoadError(dataset.slug, message=f"{path.name} holds no features")
    return FileRows(rows, skipped, times_of_day)


def dataset_load_file(
    *,
    actor: Any,
    dataset: Dataset,
    path: Path,
    options: LoadOptions,
    organisation: Organisation | None = None,
) -> DatasetVersion:
    """Load ``path`` as the dataset's new current version.

    With ``organisation``, the features are that organisation's and the load replaces only its
    part of the dataset; without, they are the owner's and the load replaces the whole dataset.

    A file that is the last one published into the same part of the dataset (same bytes, same
    options) changes nothing and returns the current version, even when loads of another kind
    changed the dataset since: loading it again would undo them (an organisation's upload of its
    own part, say). A bad file raises LoadError after recording a failed version; the current
    version is untouched.
    """
    checksum = file_checksum(path, options)
    current = dataset.current_version
    last_file = (
        dataset.versions.filter(organisation=organisation, published_at__isnull=False)
        .exclude(source_checksum="")
        .order_by("-number")
        .first()
    )
    if current is not None and last_file is not None and last_file.source_checksum == checksum:
        return current
    version = version_start(
        actor=actor, dataset=dataset, source=path.name, source_checksum=checksum,
        organisation=organisation,
    )  # fmt: skip
    try:
        read = read_rows(path, dataset=dataset, organisation=organisation or dataset.owner,
                         options=options)  # fmt: skip
        with transaction.atomic():
            version_add_features(version=version, rows=read.rows)
            report: dict[str, Any] = {
                "rows_read": len(read.rows) + len(read.skipped),
                "rows_rejected": len(read.skipped),
            }
            if read.skipped:
                report["skipped"] = read.skipped
            notes = [times_of_day_note(name, n) for name, n in read.times_of_day.items() if n]
            if notes:
                report["notes"] = notes
            if options.placement is not None:
                report["placement"] = features_place(
                    version=version,
                    districts=options.placement.districts,
                    wards=options.placement.wards,
                    district_field=options.placement.district_field,
                    district_codes=options.placement.district_codes,
                    by_geometry=options.placement.by_geometry,
                )
            version.report = {**version.report, **report}
            version.save(update_fields=["report"])
            return version_publish(actor=actor, version=version)
    except LoadError as error:
        version_fail(
            actor=actor,
            version=version,
            report={"error": str(error), "problems": [p.as_dict() for p in error.problems]},
        )
        raise
    except Exception as error:
        # Anything unexpected (a database error, say) still closes the draft, then propagates.
        version_fail(actor=actor, version=version, report={"error": f"internal error: {error}"})
        raise
