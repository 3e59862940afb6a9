"""XLSX workbooks written cell by cell, as spreadsheets save them: sheets in order, text as
text, empty cells where a formatted cell holds nothing. (GDAL's own XLSX writer cannot make
a header of text over text, nor an empty cell.)"""

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True)
class Formula:
    """A formula cell, with the result a spreadsheet program saves beside it (None: none, as
    a program that does not calculate writes it)."""

    text: str
    result: int | float | None = None


Cell = str | int | float | Formula | None

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_SPREADSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _column(index: int) -> str:
    """A column's letters: 0 is A, 26 is AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _cell(reference: str, value: Cell) -> str:
    if isinstance(value, Formula):
        result = "" if value.result is None else f"<v>{value.result}</v>"
        return f'<c r="{reference}"><f>{escape(value.text)}</f>{result}</c>'
    if value is None:  # a cell formatted, or once typed in, and now empty
        return f'<c r="{reference}"/>'
    if isinstance(value, str):
        return f'<c r="{reference}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
    return f'<c r="{reference}"><v>{value}</v></c>'


def _sheet(rows: list[list[Cell]]) -> str:
    body = "".join(
        f'<row r="{number}">'
        + "".join(_cell(f"{_column(index)}{number}", value) for index, value in enumerate(row))
        + "</row>"
        for number, row in enumerate(rows, 1)
    )
    return f'<worksheet xmlns="{_MAIN}"><sheetData>{body}</sheetData></worksheet>'


def write_workbook(path: Path, sheets: dict[str, list[list[Cell]]]) -> Path:
    """A workbook at ``path`` with ``sheets`` (name: rows of cells), in that order."""
    numbers = range(1, len(sheets) + 1)
    members = {
        "[Content_Types].xml": (
            f'<Types xmlns="{_TYPES}">'
            f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_SPREADSHEET}.sheet.main+xml"/>'
            + "".join(
                f'<Override PartName="/xl/worksheets/sheet{number}.xml" '
                f'ContentType="{_SPREADSHEET}.worksheet+xml"/>'
                for number in numbers
            )
            + "</Types>"
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{_PACKAGE}"><Relationship Id="rId1" '
            f'Type="{_RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}"><sheets>'
            + "".join(
                f'<sheet name={quoteattr(name)} sheetId="{number}" r:id="rId{number}"/>'
                for number, name in zip(numbers, sheets, strict=True)
            )
            + "</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{_PACKAGE}">'
            + "".join(
                f'<Relationship Id="rId{number}" Type="{_RELATIONSHIPS}/worksheet" '
                f'Target="worksheets/sheet{number}.xml"/>'
                for number in numbers
            )
            + "</Relationships>"
        ),
    }
    for number, rows in zip(numbers, sheets.values(), strict=True):
        members[f"xl/worksheets/sheet{number}.xml"] = _sheet(rows)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def write_compound_file(path: Path, streams: list[str]) -> Path:
    """A Microsoft compound file (version 3, 512-byte sectors) holding empty streams named
    ``streams``, as an Excel 97-2003 workbook ("Workbook") or an Office file with a password
    ("EncryptionInfo", "EncryptedPackage") is laid out: header, one FAT sector, one directory
    sector."""
    end_of_chain, free, fat_sector, no_stream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", bytes(16), 0x3E, 3, 0xFFFE, 9, 6, bytes(6),
        0, 1, 1, 0, 4096, end_of_chain, 0, end_of_chain, 0, 0,
    )  # fmt: skip
    header += struct.pack("<108I", *[free] * 108)
    fat = struct.pack("<128I", fat_sector, end_of_chain, *[free] * 126)

    def entry(name: str, kind: int, child: int, right: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return struct.pack(
            "<64sHBBIII16sIQQIQ",
            encoded, len(encoded), kind, 1, no_stream, right, child, bytes(16), 0, 0, 0,
            end_of_chain, 0,
        )  # fmt: skip

    # The root's children as a chain of right siblings: 1 -> 2 -> ...
    entries = [entry("Root Entry", 5, 1 if streams else no_stream, no_stream)]
    for number, name in enumerate(streams, start=1):
        entries.append(
            entry(name, 2, no_stream, number + 1 if number < len(streams) else no_stream)
        )
    directory = b"".join(entries).ljust(512, b"\0")
    path.write_bytes(header + fat + directory)
    return path
