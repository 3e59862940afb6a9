"""Historic features: a feature whose source says it has ended is hidden unless asked for.

A feature has ended when the first of ``END_DATE_PROPERTIES`` that holds a real date in ISO form
(``YYYY-MM-DD``, anything after it ignored) gives a date on or before the day the map shows
(today, or the date it is viewed as of). planning.data.gov.uk publishes ``end-date``,
brownfield registers ``EndDate``, and other sources often ``end_date``; the national registers
of services name the day an establishment closed: Get Information About Schools ``CloseDate``
(``close_date`` in some extracts), the NHS Organisation Data Service ``Close Date``. Those two
write dates day first or as eight digits, so a dataset keeping them types the field as a date,
which a load stores in ISO form. A value that is not a real date (an empty string, "unknown",
2020-02-30) is not an end date: it never hides a feature, whose pop-up still lists the value as
the source gave it.

The rule is written twice, once in Python (``ended_on``: the table, the pop-up, the PNG) and
once in SQL (``live_on_sql``: tiles, search, the table's counts and pages); the tests hold both
to the same cases.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

END_DATE_PROPERTIES = ("end-date", "end_date", "EndDate", "CloseDate", "close_date", "Close Date")
# Where a feature's start is read from, by the same rule: the OGC API's ``datetime`` compares a
# feature's validity (start to end) with the period asked for.
START_DATE_PROPERTIES = (
    "start-date",
    "start_date",
    "StartDate",
    "OpenDate",
    "open_date",
    "Open Date",
)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)  # fromisoformat reads ASCII digits only


def first_date(properties: Mapping[str, Any], names: tuple[str, ...]) -> date | None:
    """The date in the first of ``names`` that holds a real ISO date; None when none does."""
    for name in names:
        value = properties.get(name)
        if isinstance(value, str) and ISO_DATE.match(value):
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                continue
    return None


def ended_on(properties: Mapping[str, Any]) -> date | None:
    """The date the source says a feature ended, from the first ``END_DATE_PROPERTIES`` that
    holds a real ISO date; None when it has none (values that are not dates are not end dates)."""
    return first_date(properties, END_DATE_PROPERTIES)


def started_on(properties: Mapping[str, Any]) -> date | None:
    """The date the source says a feature started, read as ``ended_on`` reads its end."""
    return first_date(properties, START_DATE_PROPERTIES)


def _iso_date_sql(value: str) -> str:
    """SQL giving the first ten characters of the text ``value`` when they are a real date in ISO
    form, as ``date.fromisoformat`` takes it (year 1 to 9999), else NULL.

    PostgreSQL 15 has no ``pg_input_is_valid`` and a cast would fail the whole query, so the
    calendar is checked by hand; the outer CASE makes sure the numbers are read only from digits.
    """
    year, month, day = (f"substr({value}, {start}, {length})::int" for start, length in (
        (1, 4), (6, 2), (9, 2)))  # fmt: skip
    # mod(), not %: the SQL is run with bound parameters, where % starts a placeholder.
    leap = f"(mod({year}, 4) = 0 AND (mod({year}, 100) <> 0 OR mod({year}, 400) = 0))"
    days_in_month = (
        f"CASE WHEN {month} = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END"
        f" WHEN {month} IN (4, 6, 9, 11) THEN 30 ELSE 31 END"
    )
    return (
        f"CASE WHEN {value} ~ '^[0-9]{{4}}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])'"
        f" THEN CASE WHEN {year} > 0 AND {day} <= {days_in_month} THEN left({value}, 10) END END"
    )


def first_date_sql(
    properties: str, names: tuple[str, ...], prefix: str
) -> tuple[str, dict[str, str]]:
    """SQL giving, as ``YYYY-MM-DD`` text, the date ``first_date`` reads from ``properties`` (a
    jsonb expression) and ``names`` (NULL when none holds one), and its parameters, named
    ``<prefix>_<i>``."""
    dates = ", ".join(
        _iso_date_sql(f"({properties} ->> %({prefix}_{i})s)") for i in range(len(names))
    )
    return f"COALESCE({dates})", {f"{prefix}_{i}": name for i, name in enumerate(names)}


def live_on_sql(properties: str, day: date) -> tuple[str, dict[str, str]]:
    """SQL that is true for a row whose ``properties`` (a jsonb expression) say it had not
    ended by ``day``, as ``ended_on`` reads them, and its parameters (named ``end_<i>`` and
    ``ended_by``): everything that hides ended features in SQL (tiles, search, the table)
    asks here."""
    ended, parameters = first_date_sql(properties, END_DATE_PROPERTIES, "end")
    return (
        f"COALESCE({ended} > %(ended_by)s, TRUE)",
        {"ended_by": day.isoformat(), **parameters},
    )


@dataclass(frozen=True)
class LiveOn:
    """Keeps the features that had not ended by ``day``: a ``catalogue.sources.PropertyFilter``,
    so a source applies the one rule where it reads (in SQL, or in Python)."""

    day: date

    def sql(self, properties: str) -> tuple[str, dict[str, str]]:
        return live_on_sql(properties, self.day)

    def __call__(self, properties: Mapping[str, Any]) -> bool:
        ended = ended_on(properties)
        return ended is None or ended > self.day


@dataclass(frozen=True)
class EndedBy:
    """Keeps the features that had ended by ``day``: those ``LiveOn(day)`` leaves out."""

    day: date

    def sql(self, properties: str) -> tuple[str, dict[str, str]]:
        live, parameters = live_on_sql(properties, self.day)
        return f"NOT ({live})", parameters

    def __call__(self, properties: Mapping[str, Any]) -> bool:
        return not LiveOn(self.day)(properties)
