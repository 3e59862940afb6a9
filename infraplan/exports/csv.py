"""CSV: UTF-8 with a byte order mark (so that Excel reads it as UTF-8), one row per feature,
streamed. Columns as ``exports.table`` says; geometry in cells (points as coordinates, other
geometry as WKT in EPSG:27700).

Unknown values are empty cells, never 0. Booleans are ``true``/``false``, dates
``YYYY-MM-DD``. A text cell that a spreadsheet would run as a formula (starting ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) is written with a ``'`` before it, as the platform's
other CSV files are; so is such a column name.
"""

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

from .base import Batches, StreamingExporter
from .registry import exporter_register
from .table import json_text, table_columns, table_rows

if TYPE_CHECKING:
    from .selectors import Export

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    text = value if isinstance(value, str) else json_text(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


@exporter_register
class CsvExporter(StreamingExporter):
    key = "csv"
    title = "CSV"
    describes_itself = False
    hint = "A table for spreadsheets and scripts. Points as eastings, northings, longitude and latitude; other shapes as WKT."
    media_type = "text/csv; charset=utf-8"

    def chunks(self, export: "Export") -> Iterator[bytes]:
        columns = table_columns(export, geometry="cells")
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        # Names come from the sources (an upload's header, a remote service): read as cells.
        writer.writerow([cell_text(column.name) for column in columns])
        batches = Batches()
        batches.add((BOM + text.getvalue()).encode())
        for row in table_rows(export, columns):
            text.seek(0)
            text.truncate()
            writer.writerow([cell_text(value) for value in row])
            if chunk := batches.add(text.getvalue().encode()):
                yield chunk
        yield batches.take()
