"""A new dataset's fields, taken from its first load.

A dataset added on its page has no fields of its own. Its first load gives it one for each
column, typed by every value the load holds (not a sample): a column whose values are all whole
numbers becomes a whole-number field, and so on (true or false: true, false, yes or no, in any
letters). Values a CSV or a workbook holds as text ("120", "Yes", "20/06/2016") are stored as
what the field now says they are, as a later load would type them. A type is chosen only when
every value reads as it, so nothing fails: a column with one value that is not a number stays
text. Codes written with leading zeros (01227…) stay text, as their zeros are part of them.
Amounts written as councils write money (£2,500,000, 1,350,000.50, (£1,200)) make a number
field, stored as their exact numbers.

A date and time that is a whole day is that day (``loading.date_and_time_of_day``): one
written at midnight (2024-01-01T00:00:00Z, 20/06/2016 00:00, as a GeoPackage's date-time or a
spreadsheet's export comes) is the day as written; one with a zone that is midnight in the platform's time
zone is that local day. ArcGIS stores a day picked in the UK as its midnight in UTC, so 1 July
in summer time comes from the ArcGIS connector as 2024-06-30T23:00:00Z: a date field of 1 July.
A column of such days makes a date field. So does a column named for dates (decision_date,
DateReceived) whose every value is eight figures naming a day (20240331), as some back-office
systems export dates; elsewhere eight figures are a number (a UPRN's, say). A column of dates
and times with real times of day (an edit's time, say) stays text, each value the moment as
written (ISO 8601): a date field holds a day and no time, so typing it as one would lose the
times. The report's note says so.

A column the source's mapping reads as a type (a cast: the data manager saying what the
column is) takes that type, whatever its values look like: 4500000.0 read as a number stays
a number field, where inferred it would be whole numbers. Only the other columns are inferred.

Runs on the staging table, in the load's transaction: a load that is rejected leaves the dataset
without fields, as it was.
"""

import json
import re
from collections.abc import Mapping
from typing import Any

from .loading import MONEY, date_and_time_of_day
from .selectors import dataset_ever_published

# Whole numbers a map reads exactly (2^53 - 1 has 16 digits; 15 are always within it).
_WHOLE = r"^[+-]?(0|[1-9][0-9]{0,14})$"
_DECIMAL = r"^[+-]?(0|[1-9][0-9]{0,14})\.[0-9]{1,15}$"
_ISO_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_DAY_FIRST = r"[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4}"
_TIME = r"[T ][0-9]{1,2}(:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?)?"
_MIDNIGHT = r"[T ]0?0(:00(:00([.,]0+)?)?)?"
_ZONE = r" ?(Z|UTC|GMT|[+-][0-9]{2}(:?[0-9]{2})?)"  # as loading.py reads one
# What may be a day (ISO or day first): alone, at midnight as written, or a moment with a zone
# (a day where it is midnight in the platform's time zone: ``date_and_time_of_day`` decides).
_DATE_LIKE = rf"^({_ISO_DAY}|{_DAY_FIRST})({_MIDNIGHT}({_ZONE})?|{_TIME}{_ZONE})?$"
# A date with a time of day (ISO 8601): text in a new field, unless every one is a whole day.
_DATE_TIME = rf"^{_ISO_DAY}{_TIME}({_ZONE})?$"
_EXACT = 2**53 - 1
# Distinct date texts read in Python to check each is a real day: dates repeat (a few thousand
# days in a decade), so more than this is not a column of dates.
_DISTINCT_DATES_READ = 20_000
# One scan: for each property, whether every value (not null, not "") reads as each type. CASE
# keeps the casts from values they do not fit.
_CLASSES = f"""
    SELECT p.key,
      bool_and(CASE jsonb_typeof(p.value)
          WHEN 'number' THEN mod(p.value::numeric, 1) = 0 AND abs(p.value::numeric) <= {_EXACT}
          WHEN 'string' THEN p.value #>> '{{}}' ~ %(whole)s ELSE false END),
      bool_and(CASE jsonb_typeof(p.value)
          WHEN 'number' THEN true
          WHEN 'string' THEN p.value #>> '{{}}' ~ %(whole)s OR p.value #>> '{{}}' ~ %(decimal)s
            OR p.value #>> '{{}}' ~ %(money)s
          ELSE false END),
      bool_and(CASE jsonb_typeof(p.value)
          WHEN 'boolean' THEN true
          WHEN 'string' THEN lower(p.value #>> '{{}}') IN ('true', 'false', 'yes', 'no')
          ELSE false END),
      bool_and(jsonb_typeof(p.value) = 'string' AND p.value #>> '{{}}' ~ %(date)s),
      bool_and(jsonb_typeof(p.value) = 'string' AND p.value #>> '{{}}' ~ %(date_time)s),
      bool_or(jsonb_typeof(p.value) = 'string'),
      bool_or(jsonb_typeof(p.value) = 'number' AND p.value::text ~ '[.eE]')
    FROM ingest_stage s CROSS JOIN LATERAL jsonb_each(s.properties) p
    WHERE s.row <> ALL(%(rejected)s::integer[])
      AND jsonb_typeof(p.value) <> 'null' AND p.value <> '""'::jsonb
    GROUP BY p.key
"""  # noqa: S608 (a constant; every value is bound)
_DISTINCT_TEXTS = """
    SELECT DISTINCT s.properties ->> %(key)s FROM ingest_stage s
    WHERE s.row <> ALL(%(rejected)s::integer[])
      AND jsonb_typeof(s.properties -> %(key)s) = ANY(%(kinds)s::text[])
      AND s.properties ->> %(key)s <> ''
    LIMIT %(limit)s
"""
# A whole number of eight figures that is a day (YYYYMMDD, as some back-office systems export
# dates), in a column whose name says it holds dates: decision_date, DateReceived, start_dt.
_EIGHT_FIGURES = re.compile(r"[12][0-9]{7}")
_DATE_WORDS = {"date", "dt", "day"}
# How a value held as text becomes its field's type; "" becomes null (unknown).
_CONVERSIONS = {
    "integer": "to_jsonb((s.properties ->> %({key})s)::bigint)",
    # Plain or an amount (MONEY: a currency sign, thousands separators, a minus or brackets),
    # its scale trimmed: 1350000.50 is stored as 1350000.5, as a later load types it.
    "number": "to_jsonb(trim_scale(CASE WHEN s.properties ->> %({key})s ~ '[-(]' THEN -1 ELSE 1 "
    "END * regexp_replace(s.properties ->> %({key})s, '[^0-9.]', '', 'g')::numeric))",
    "boolean": "to_jsonb(lower(s.properties ->> %({key})s)::boolean)",
    "date": "%({dates})s::jsonb -> (s.properties ->> %({key})s)",
}
NUMERIC = ("integer", "number")
TYPE_NAMES = {
    "string": "text", "integer": "whole numbers", "number": "numbers",
    "boolean": "true or false", "date": "dates",
}  # fmt: skip


def takes_fields_from_load(dataset: Any) -> bool:
    """Whether ``dataset``'s next load gives it its fields: it has none, and no version has
    been published (one published without fields keeps its features' values as they came)."""
    return not dataset.field_schema and not dataset_ever_published(dataset)


def name_field(schema: list[dict[str, str]]) -> str:
    """The text field that names each feature, for the map's labels and its search: the first
    called name, or ending in it (site_name, Site Name, SchoolName); "" when none is."""
    for entry in schema:
        letters = "".join(character for character in entry["name"].lower() if character.isalnum())
        if entry["type"] == "string" and letters.endswith("name"):
            return entry["name"]
    return ""


def _title(name: str) -> str:
    """A field's title from its column's name: site_name is "Site name"; a name written with
    capitals (SiteName, UPRN) is kept as it is."""
    if name != name.lower():
        return name
    words = name.replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() if words else name


def _named_for_dates(name: str) -> bool:
    """Whether a column's name has a word saying it holds dates (split at capitals, figures and
    anything not a letter): decision_date and DateReceived do, update_count does not."""
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", name)
    return any(word.lower() in _DATE_WORDS for word in words)


def _eight_figure_dates(cursor: Any, key: str, rejected: list[int]) -> dict[str, str] | None:
    """Each distinct value of ``key`` (text or a number) and the ISO date it is, when every one
    is eight figures naming a day the calendar has (20240331); else None."""
    cursor.execute(
        _DISTINCT_TEXTS,
        {"key": key, "rejected": rejected, "kinds": ["string", "number"],
         "limit": _DISTINCT_DATES_READ + 1},
    )  # fmt: skip
    texts = [text for (text,) in cursor.fetchall()]
    if len(texts) > _DISTINCT_DATES_READ or not all(map(_EIGHT_FIGURES.fullmatch, texts)):
        return None
    try:
        return {text: date_and_time_of_day(text)[0] for text in texts}
    except ValueError:
        return None


def _dates(cursor: Any, key: str, rejected: list[int]) -> tuple[dict[str, str] | None, bool]:
    """Each distinct text of ``key`` and the ISO date it is, or None unless every one is a whole
    day the calendar has (20/06/2016 is, 31/06/2016 is not; 2024-06-19T23:00:00Z, midnight in
    London, is 20 June) and a month is never guessed; and whether the texts hold a time of day."""
    cursor.execute(
        _DISTINCT_TEXTS,
        {"key": key, "rejected": rejected, "kinds": ["string"], "limit": _DISTINCT_DATES_READ + 1},
    )
    texts = [text for (text,) in cursor.fetchall()]
    dates = {}
    for text in texts:
        try:
            day, timed = date_and_time_of_day(text)
        except ValueError:
            return None, False
        if timed:
            return None, True
        dates[text] = day
    return (dates if len(texts) <= _DISTINCT_DATES_READ else None), False


def schema_from_staged(
    cursor: Any, *, columns: list[str], rejected: set[int], casts: Mapping[str, str] | None = None
) -> tuple[list[dict[str, str]], str]:
    """The fields of the rows staged for a first load (those not rejected), in the source's
    column order, and the report's note saying so; converts the values held as text to their
    fields' types in the staging table.

    ``casts`` (field name -> type, the load's mapping's): a field the load read as a type has
    that type. Its values were typed as they were staged, so they need no conversion."""
    rejected_rows = sorted(rejected)
    casts = casts or {}
    cursor.execute(
        _CLASSES,
        {"whole": _WHOLE, "decimal": _DECIMAL, "money": MONEY, "date": _DATE_LIKE,
         "date_time": _DATE_TIME, "rejected": rejected_rows},
    )  # fmt: skip
    kinds: dict[str, str] = {}
    conversions: dict[str, dict[str, str] | None] = {}  # typed fields held as text somewhere
    timed = []  # text fields of dates and times of day
    for (
        key,
        whole,
        numeric,
        boolean,
        date_like,
        date_time,
        has_text,
        written_with_fraction,
    ) in cursor.fetchall():
        kind, dates, has_times = "string", None, False
        if key in casts:
            kinds[key] = casts[key]
            continue
        if boolean:
            kind = "boolean"
        elif (
            whole
            and _named_for_dates(key)
            and (eight := _eight_figure_dates(cursor, key, rejected_rows))
        ):
            kinds[key], conversions[key] = "date", eight
            continue
        elif whole:
            kind = "integer"
        elif numeric:
            kind = "number"
        elif date_like:
            dates, has_times = _dates(cursor, key, rejected_rows)
            kind = "date" if dates is not None else "string"
        kinds[key] = kind
        # Times of day, not a day the calendar lacks.
        if kind == "string" and date_time and (has_times or not date_like):
            timed.append(key)
        # A source's numbers written with a fraction (GDAL reads a column of 4000000.0 and 2.5
        # as reals) are stored as a later load types them: 4000000, not 4000000.0.
        if (kind != "string" and has_text) or (kind in NUMERIC and written_with_fraction):
            conversions[key] = dates
    names = [name for name in columns if name in kinds] + [
        name for name in kinds if name not in columns
    ]
    names += [name for name in columns if name not in kinds]  # empty in every row
    if conversions:
        _convert(cursor, kinds, conversions, rejected_rows)
    schema = [{"name": name, "title": _title(name), "type": kinds.get(name, casts.get(name, "string"))}
              for name in names]  # fmt: skip
    described = ", ".join(f"{entry['name']} ({TYPE_NAMES[entry['type']]})" for entry in schema)
    read_as = [name for name in names if name in casts]
    note = (
        "The dataset had no fields of its own, so this first load gave it one for each column, "
        + (
            f"typed as the column mapping reads {', '.join(read_as)} and the others "
            if read_as
            else ""
        )
        + f"by the values they hold: {described or 'none'}. "
        + _timed_note([name for name in names if name in timed])
        + "Later loads are checked against them; a data manager can change a field's type on "
        "the dataset's details page."
    )
    return schema, note


def _timed_note(names: list[str]) -> str:
    """Why text fields of dates and times are not dates (the module's docstring)."""
    if not names:
        return ""
    several = len(names) > 1
    return (
        f"{', '.join(names)} {'hold' if several else 'holds'} times of day, which a date field "
        f"cannot: {'they are' if several else 'it is'} kept as text, each value its date and "
        "time as the source gives it (ISO 8601), so that no time is lost. "
    )


def _convert(
    cursor: Any, kinds: dict[str, str], conversions: dict[str, dict[str, str] | None],
    rejected: list[int],
) -> None:  # fmt: skip
    """One update of the staging table: each typed field's text values as its type, and a
    numeric field's numbers in their shortest form (trailing zeros of a fraction trimmed)."""
    parts, params = [], {"rejected": rejected}
    for index, (key, dates) in enumerate(conversions.items()):
        params[f"key{index}"] = key
        if dates is not None:
            params[f"dates{index}"] = json.dumps({**dates, "": None})
        conversion = _CONVERSIONS[kinds[key]].format(key=f"key{index}", dates=f"dates{index}")
        # Values the conversion reads: text, and for dates eight-figure numbers too (20240331).
        read = "('string', 'number')" if kinds[key] == "date" else "('string')"
        parts.append(
            f"jsonb_build_object(%(key{index})s, CASE "
            + (
                f"WHEN jsonb_typeof(s.properties -> %(key{index})s) = 'number' THEN "
                f"to_jsonb(trim_scale((s.properties ->> %(key{index})s)::numeric)) "
                if kinds[key] in NUMERIC
                else ""
            )
            + f"WHEN jsonb_typeof(s.properties -> %(key{index})s) NOT IN {read} THEN "
            f"s.properties -> %(key{index})s "
            f"WHEN s.properties ->> %(key{index})s = '' THEN 'null'::jsonb "
            f"ELSE {conversion} END)"
        )
    cursor.execute(
        "UPDATE ingest_stage s SET properties = s.properties || "  # noqa: S608 (built of constants; every value is bound)
        + " || ".join(parts)
        + " WHERE s.row <> ALL(%(rejected)s::integer[])",
        params,
    )
