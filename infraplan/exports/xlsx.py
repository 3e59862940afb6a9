"""XLSX: a "Features" worksheet with a header row (frozen, with filters) and typed cells
(numbers as numbers, dates as dates, true and false as booleans), and an "About" worksheet with
the download's metadata and each column's title.

Written with xlsxwriter in constant-memory mode (each row goes to a temporary file as it is
written). Points are written as coordinates; lines and polygons are not written at all, since a
cell holds at most 32,767 characters: the About sheet says so and points to GeoPackage and
GeoJSON. A worksheet holds at most 1,048,576 rows.
"""

from datetime import date
from typing import TYPE_CHECKING, Any, BinaryIO

import xlsxwriter

from infraplan.catalogue.models import GeometryType

from .base import Exporter
from .registry import exporter_register
from .table import json_text, table_columns, table_rows

if TYPE_CHECKING:
    from .selectors import Export

MAX_CELL = 32_767
MAX_ROWS = 1_048_576 - 1  # less the header
DATE_FORMAT = "yyyy-mm-dd"


@exporter_register
class XlsxExporter(Exporter):
    key = "xlsx"
    title = "XLSX"
    hint = "An Excel workbook with typed cells and a sheet about the data. Points as coordinates; no other shapes."
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    @property
    def max_features(self) -> int | None:
        return min(super().max_features or MAX_ROWS, MAX_ROWS)

    def write(self, export: "Export", out: BinaryIO) -> None:
        workbook = xlsxwriter.Workbook(
            out,
            {
                "constant_memory": True,
                # Text is text: never a formula, a link or a number guessed from it.
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        bold = workbook.add_format({"bold": True})
        dates = workbook.add_format({"num_format": DATE_FORMAT})
        features = workbook.add_worksheet("Features")
        columns = table_columns(export, geometry="points")
        for index, column in enumerate(columns):
            features.write_string(0, index, column.name, bold)
            features.set_column(index, index, min(max(len(column.name) + 2, 10), 40))
        features.freeze_panes(1, 0)
        cut = 0
        last = 0
        for last, row in enumerate(table_rows(export, columns), start=1):
            for index, value in enumerate(row):
                cut += _write(features, last, index, value, dates)
        features.autofilter(0, 0, last, len(columns) - 1)
        _about(workbook, export, columns, bold, cut)
        workbook.close()


def _write(sheet: Any, row: int, column: int, value: Any, dates: Any) -> int:
    """Write one typed cell; 1 if its text had to be cut to fit a cell, else 0."""
    if value is None:
        return 0  # unknown: an empty cell
    if isinstance(value, bool):
        sheet.write_boolean(row, column, value)
    elif isinstance(value, int | float):
        sheet.write_number(row, column, value)
    elif isinstance(value, date):
        sheet.write_datetime(row, column, value, dates)
    else:
        text = value if isinstance(value, str) else json_text(value)
        sheet.write_string(row, column, text[:MAX_CELL])
        return int(len(text) > MAX_CELL)
    return 0


def _about(workbook: Any, export: "Export", columns: list, bold: Any, cut: int) -> None:
    sheet = workbook.add_worksheet("About")
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 100)
    rows = export.about.rows()
    if export.dataset.geometry_type in (GeometryType.LINE, GeometryType.POLYGON):
        rows.append((
            "Geometry",
            "Not included: a worksheet cell holds at most 32,767 characters, too few for many "
            "lines and polygons. Download GeoPackage or GeoJSON for the shapes.",
        ))  # fmt: skip
    if cut:
        rows.append(("Cut cells", f"{cut:,} cells held more than {MAX_CELL:,} characters and were cut"))  # fmt: skip
    position = 0
    for position, (label, value) in enumerate(rows):
        sheet.write_string(position, 0, label, bold)
        sheet.write_string(position, 1, value)
    position += 2
    sheet.write_string(position, 0, "Column", bold)
    sheet.write_string(position, 1, "What it holds", bold)
    for offset, column in enumerate(columns, start=1):
        sheet.write_string(position + offset, 0, column.name)
        sheet.write_string(position + offset, 1, column.title)
