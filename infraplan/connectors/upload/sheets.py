"""A workbook's sheet moved to the front, for GDAL to read its header row.

GDAL's XLSX driver (3.6) applies the ``HEADERS=FORCE`` open option to a workbook's first sheet
only. On any later sheet it guesses, and when every cell is text (numbers stored as text, as
council exports often are) it takes the header row for data and names the columns Field1,
Field2 ...: the sheet then seems to have no coordinate columns, or no header. A sheet read from
any other place is therefore read from a copy of the workbook in which it comes first: every
part copied byte for byte but the list of sheets, reordered.
"""

import html
import re
import shutil
import zipfile
from pathlib import Path

# The <sheet .../> elements of xl/workbook.xml's <sheets> list, with any namespace prefix.
_SHEET = re.compile(rb"<(?:\w+:)?sheet\b[^>]*/>")
_SHEETS = re.compile(rb"(<(?:\w+:)?sheets\b[^>]*>)(.*?)(</(?:\w+:)?sheets>)", re.S)
_NAME = re.compile(rb'\bname="([^"]*)"')
# GDAL's names for the columns of a sheet whose header row it did not find.
GUESSED_NAMES = re.compile(r"Field\d+")


def headers_guessed(names: list[str]) -> bool:
    """Whether GDAL named every column itself (Field1, Field2 ...): no header row found."""
    return bool(names) and all(GUESSED_NAMES.fullmatch(name) for name in names)


def _sheet_name(element: bytes) -> str | None:
    found = _NAME.search(element)
    return html.unescape(found[1].decode("utf-8")) if found else None


def _with_sheet_first(workbook_xml: bytes, sheet: str) -> bytes | None:
    """xl/workbook.xml with ``sheet`` first in its list of sheets; None if it has no such sheet."""
    listed = _SHEETS.search(workbook_xml)
    if listed is None:
        return None
    elements = _SHEET.findall(listed[2])
    chosen = [element for element in elements if _sheet_name(element) == sheet]
    if not chosen:
        return None
    ordered = chosen + [element for element in elements if element is not chosen[0]]
    return workbook_xml[: listed.start(2)] + b"".join(ordered) + workbook_xml[listed.end(2) :]


def sheet_first(path: Path, sheet: str, target: Path) -> Path:
    """A copy of the workbook at ``path``, written to ``target``, with ``sheet`` its first sheet
    (``path`` itself if it is already first, or the workbook cannot be reordered)."""
    with zipfile.ZipFile(path) as source:
        workbook_xml = source.read("xl/workbook.xml")
        reordered = _with_sheet_first(workbook_xml, sheet)
        if reordered is None or reordered == workbook_xml:
            return path
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
            for member in source.infolist():
                if member.filename == "xl/workbook.xml":
                    copy.writestr(member, reordered)
                    continue
                with source.open(member) as part, copy.open(member, "w") as copied:
                    shutil.copyfileobj(part, copied)
    return target
