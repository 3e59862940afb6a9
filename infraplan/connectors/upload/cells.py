"""A workbook's numbers and dates in a column GDAL reads as text, written as the sheet shows them.

A column that mixes numbers and text (a cost with "n/a" in some rows) is read by GDAL's XLSX
driver as text, and the numeric cells in it become text in GDAL's way, not the spreadsheet's:
99999.99 (after the first row) comes out as 99999.99000000001, a number with 16 or 17
significant digits that no officer typed; a date cell comes out as 2024/03/31, which the
pipeline's date detection does not read, while text dates in the same column stay 31/03/2024.

GDAL does not say which cell of such a column was a number or a date, and finding out would
mean reading the sheet's XML beside GDAL, cell by cell. So text that is exactly what GDAL writes
for one is rewritten instead: a decimal of 16 or 17 significant digits that 15 digits (as many
as a spreadsheet shows) give back exactly, and a date written YYYY/MM/DD, with or without a
time. Text typed so in a text cell is changed too, to the same number or date written as the
spreadsheet would show it.
"""

import re

import numpy as np

_GDAL_DECIMAL = re.compile(r"[+-]?(?P<digits>\d+\.\d+)(?:E[+-]?\d+)?", re.IGNORECASE)


_GDAL_DATE = re.compile(
    r"(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})(?: (?P<time>\d{2}:\d{2}:\d{2}))?"
)


def _as_shown(text: str) -> str:
    if date := _GDAL_DATE.fullmatch(text):
        day = f"{date['year']}-{date['month']}-{date['day']}"
        return f"{day}T{date['time']}" if date["time"] else day
    decimal = _GDAL_DECIMAL.fullmatch(text)
    if decimal and len(decimal["digits"].replace(".", "").lstrip("0")) in (16, 17):
        shown = format(float(text), ".15g").upper()
        if float(shown) == float(text):
            return shown
    return text


def text_cells_as_shown(values: np.ndarray) -> np.ndarray:
    """The values of a text column of a workbook, numbers and dates GDAL wrote into it as the
    spreadsheet shows them (dates in ISO 8601, as the pipeline reads dates)."""
    return np.array(
        [_as_shown(value) if isinstance(value, str) else value for value in values], dtype=object
    )
