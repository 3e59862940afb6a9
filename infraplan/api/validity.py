"""The OGC ``datetime`` parameter: features whose own validity meets the period asked for.

A feature's validity runs from its start date (the first of ``START_DATE_PROPERTIES`` holding a
real ISO date; none: it always was) up to, not including, its end date (``END_DATE_PROPERTIES``,
as the map reads it; none: it is still live). That is the map's rule: on its end date a feature
has ended. A period of days meets it when some day of the period is in it. This is a feature's
life as its source tells it, apart from what the platform had published (``as_of``).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from infraplan.maps.ended import (
    END_DATE_PROPERTIES,
    START_DATE_PROPERTIES,
    ended_on,
    first_date_sql,
    started_on,
)

from .errors import bad_parameter

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?", re.ASCII
)
OPEN = ("", "..")


@dataclass(frozen=True)
class ValidDuring:
    """Keeps the features valid on some day from ``first`` to ``last`` (inclusive; None: open):
    a ``catalogue.sources.PropertyFilter``, said in SQL and in Python alike."""

    first: date | None
    last: date | None

    def sql(self, properties: str) -> tuple[str, dict[str, str]]:
        start, parameters = first_date_sql(properties, START_DATE_PROPERTIES, "valid_start")
        end, ends = first_date_sql(properties, END_DATE_PROPERTIES, "valid_end")
        parameters |= ends
        # Dates are YYYY-MM-DD text, which sorts as the calendar does.
        conditions = [f"COALESCE(({start}) < ({end}), TRUE)"]  # never valid if it ends first
        if self.last is not None:
            conditions.append(f"COALESCE(({start}) <= %(valid_last)s, TRUE)")
            parameters["valid_last"] = self.last.isoformat()
        if self.first is not None:
            conditions.append(f"COALESCE(({end}) > %(valid_first)s, TRUE)")
            parameters["valid_first"] = self.first.isoformat()
        return "(" + " AND ".join(conditions) + ")", parameters

    def __call__(self, properties: Mapping[str, Any]) -> bool:
        start, end = started_on(properties), ended_on(properties)
        if start is not None and end is not None and start >= end:
            return False
        if self.last is not None and start is not None and start > self.last:
            return False
        return not (self.first is not None and end is not None and end <= self.first)


def _day(text: str) -> date:
    """The day an RFC 3339 date or date-time falls on in the platform's time zone (features'
    dates are days there); a date-time without an offset is read as the platform's time."""
    if _DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise bad_parameter(f"datetime: {text!r} is not a real date") from None
    if not _DATE_TIME.fullmatch(text):
        raise bad_parameter(
            f"datetime: {text!r} is neither a date (2024-03-27) nor a date and time "
            "(2024-03-27T12:00:00Z)"
        )
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError:
        raise bad_parameter(f"datetime: {text!r} is not a real date and time") from None
    zone = ZoneInfo(settings.TIME_ZONE)
    if moment.tzinfo is None:
        return moment.date()
    try:
        return moment.astimezone(zone).date()
    except OverflowError:  # a moment at the calendar's ends falls outside it in another zone
        raise bad_parameter(
            f"datetime: {text!r} falls outside the years 1 to 9999 in the platform's time zone"
        ) from None


def datetime_parse(value: str) -> ValidDuring:
    """``datetime`` as OGC API - Features gives it: an instant, or an interval ``start/end``
    whose open end is ``..`` or empty."""
    text = value.strip()
    if "/" not in text:
        if text in OPEN:
            raise bad_parameter(f"datetime: {value!r} names no date; give a date or an interval")
        day = _day(text)
        return ValidDuring(day, day)
    if text.count("/") > 1:
        raise bad_parameter(f"datetime: {value!r} has more than one '/'; give start/end")
    start, end = (part.strip() for part in text.split("/"))
    first = None if start in OPEN else _day(start)
    last = None if end in OPEN else _day(end)
    if first is not None and last is not None and first > last:
        raise bad_parameter(f"datetime: {value!r} ends before it starts")
    return ValidDuring(first, last)
