"""A property whose stored value is empty text (a source's blank text cell, read as such) is
written as no value in every format, as an unknown one is: a blank cell, a NULL, null. Text is
otherwise written as stored, text of spaces alone included."""

import re
import zipfile
from typing import Any

import pytest
from defusedxml import ElementTree

from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import csv_rows, geojson, layer, saved

pytestmark = pytest.mark.django_db

SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
FILLED = {"notes": "Contaminated land", "hazardous-substances": "No"}


@pytest.fixture
def sites(personas):
    """Three brownfield sites: one whose source left its notes and hazardous substances blank
    (stored as empty text), one with both filled in, one whose notes are two spaces.
    ``hazardous-substances`` is outside the schema."""
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "notes", "type": "string", "title": "Notes"},
                      {"name": "hectares", "type": "number", "title": "Hectares"}],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset,
        points={"blank": (601300, 142700), "filled": (601650, 142180), "spaces": (601700, 142200)},
        properties={
            "blank": {"notes": "", "hazardous-substances": "", "hectares": None},
            "filled": {**FILLED, "hectares": 0},
            "spaces": {"notes": "  ", "hazardous-substances": "No"},
        },
    )
    return dataset


def test_csv_leaves_the_field_empty(sites, client):
    """As it always did (a CSV field holds no type to tell empty text from none): pinned, so
    that the shared rule is seen to hold in every format."""
    rows = {row["reference"]: row for row in csv_rows(client.get("/datasets/sites/download.csv"))}
    assert rows["blank"]["notes"] == rows["blank"]["hazardous-substances"] == ""
    assert rows["blank"]["hectares"] == ""  # unknown, alike
    assert {name: rows["filled"][name] for name in FILLED} == FILLED
    assert rows["filled"]["hectares"] == "0"
    assert rows["spaces"]["notes"] == "  "


def _cells(path) -> dict[str, dict[str, Any]]:
    """The Features sheet's cells as its XML holds them: by reference, by column name (a blank
    cell is not there at all)."""
    with zipfile.ZipFile(path) as workbook:
        sheet = ElementTree.fromstring(workbook.read("xl/worksheets/sheet1.xml"))
    rows = [
        {re.sub(r"[0-9]+", "", cell.get("r")): cell for cell in row.iter(f"{SHEET}c")}
        for row in sheet.iter(f"{SHEET}row")
    ]
    header = {letter: cell.findtext(f".//{SHEET}t") for letter, cell in rows[0].items()}
    by_reference = {}
    for row in rows[1:]:
        named = {header[letter]: cell for letter, cell in row.items()}
        by_reference[named["reference"].findtext(f".//{SHEET}t")] = named
    return by_reference


def test_xlsx_leaves_the_cell_blank(sites, client, tmp_path):
    path = saved(client.get("/datasets/sites/download.xlsx"), tmp_path, "sites.xlsx")
    cells = _cells(path)
    # No cell at all, as for an unknown number: not an inline string holding nothing, which
    # Excel's ISBLANK and COUNTBLANK count as filled.
    for name in ("notes", "hazardous-substances", "hectares"):
        assert name not in cells["blank"], name
    for name, text in FILLED.items():
        assert cells["filled"][name].get("t") == "inlineStr"
        assert cells["filled"][name].findtext(f".//{SHEET}t") == text
    assert cells["spaces"]["notes"].findtext(f".//{SHEET}t") == "  "

    _, rows, _ = layer(path, "Features")  # and GDAL reads it back as null
    rows = {row["reference"]: row for row in rows}
    assert rows["blank"]["notes"] is None and rows["blank"]["hazardous-substances"] is None
    assert rows["filled"]["notes"] == "Contaminated land"


def test_geojson_writes_null(sites, client):
    features = {
        feature["id"]: feature["properties"]
        for feature in geojson(client.get("/datasets/sites/download.geojson"))["features"]
    }
    assert features["blank"]["notes"] is None
    assert features["blank"]["hazardous-substances"] is None
    assert features["blank"]["hectares"] is None
    assert {name: features["filled"][name] for name in FILLED} == FILLED
    assert features["filled"]["hectares"] == 0
    assert features["spaces"]["notes"] == "  "


def test_geopackage_writes_null(sites, client, tmp_path):
    path = saved(client.get("/datasets/sites/download.gpkg"), tmp_path, "sites.gpkg")
    _, rows, _ = layer(path, "sites")
    rows = {row["reference"]: row for row in rows}
    assert rows["blank"]["notes"] is None and rows["blank"]["hazardous-substances"] is None
    assert {name: rows["filled"][name] for name in FILLED} == FILLED
    assert rows["spaces"]["notes"] == "  "
    # As SQL reads it: NULL, not ''.
    assert _count(path, "notes IS NULL") == _count(path, '"hazardous-substances" IS NULL') == 1
    assert _count(path, "notes = ''") == _count(path, "\"hazardous-substances\" = ''") == 0


def _count(path, where: str) -> int:
    _, rows, _ = layer(path, sql=f"SELECT count(*) AS n FROM sites WHERE {where}")
    return rows[0]["n"]


def test_a_filter_for_blank_values_keeps_those_written_as_none(sites, client):
    """``?notes=`` keeps missing, null and empty text: exactly the features written with no
    notes; text of spaces is a value, kept out of it and written as it is."""
    blank = geojson(client.get("/datasets/sites/download.geojson", {"notes": ""}))
    assert [feature["id"] for feature in blank["features"]] == ["blank"]
    assert blank["features"][0]["properties"]["notes"] is None
    assert blank["metadata"]["filters"] == ["notes: unknown"]
