"""Historic features: a feature whose source says it has ended is hidden unless asked for.

A feature has ended when its source gives one of ``END_DATE_PROPERTIES`` an ISO date on or
before the day the map shows (today, or the date it is viewed as of). planning.data.gov.uk
publishes ``end-date``, brownfield registers ``EndDate``, and other sources often ``end_date``.
A time after the date is ignored; a value that is not a date (an empty string, "unknown") is
not an end date.
"""

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

END_DATE_PROPERTIES = ("end-date", "end_date", "EndDate")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)  # fromisoformat reads ASCII digits only


def ended_on(properties: Mapping[str, Any]) -> date | None:
    """The date the source says a feature ended, from the first ``END_DATE_PROPERTIES`` that
    holds an ISO date; None when it has none (values that are not dates are not end dates)."""
    for name in END_DATE_PROPERTIES:
        value = properties.get(name)
        if isinstance(value, str) and ISO_DATE.match(value):
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                continue
    return None
