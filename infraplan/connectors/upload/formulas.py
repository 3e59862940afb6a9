"""Formulas in a workbook without a saved result.

A spreadsheet program saves each formula's result beside it, and GDAL reads that result. A
workbook written by a program that does not calculate (a script, some database exports) holds
the formula alone, which GDAL reads as empty: the officer is told, since the value is not
unknown at the source, only unsaved.
"""

import posixpath
import zipfile

from defusedxml.ElementTree import iterparse

from .opened import OpenedUpload

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATIONSHIP_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_PACKAGE = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _sheet_member(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding the sheet named ``sheet``, as the workbook's parts link them."""
    identifier = None
    with archive.open("xl/workbook.xml") as workbook:
        for _, element in iterparse(workbook):
            if element.tag == f"{_MAIN}sheet" and element.get("name") == sheet:
                identifier = element.get(_RELATIONSHIP_ID)
                break
    if identifier is None or "xl/_rels/workbook.xml.rels" not in archive.namelist():
        return None
    with archive.open("xl/_rels/workbook.xml.rels") as links:
        for _, element in iterparse(links):
            if element.tag == f"{_PACKAGE}Relationship" and element.get("Id") == identifier:
                target = element.get("Target", "")
                return (
                    target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
                )
    return None


def formulas_without_results(opened: OpenedUpload) -> tuple[int, str | None]:
    """How many cells of the workbook's chosen sheet hold a formula without a saved result, and
    the first of them (such as C5)."""
    with zipfile.ZipFile(opened.path) as archive:
        member = _sheet_member(archive, opened.layer or "")
        if member is None or member not in archive.namelist():
            return 0, None
        count, first = 0, None
        with archive.open(member) as sheet:
            for _, element in iterparse(sheet):
                if element.tag != f"{_MAIN}c":
                    continue
                if element.find(f"{_MAIN}f") is not None and element.find(f"{_MAIN}v") is None:
                    count += 1
                    first = first or element.get("r")
                element.clear()
    return count, first


def note_formulas_without_results(opened: OpenedUpload) -> None:
    count, first = formulas_without_results(opened)
    if not count:
        return
    cells = "1 cell holds a formula" if count == 1 else f"{count:,} cells hold formulas"
    opened.notes.append(
        f"{cells} without a saved result ({'it is' if count == 1 else 'the first is'} "
        f"{first}), read as empty: the workbook was written by a program that does not "
        "calculate formulas. Open it in a spreadsheet program and save it again, so that each "
        "formula's result is saved with it, then upload it again."
    )
