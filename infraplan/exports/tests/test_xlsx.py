"""XLSX downloads read back: by GDAL (the cells' types) and as the workbook's own XML (sheets,
frozen header, filters)."""

import zipfile
from datetime import date

import pytest
from defusedxml import ElementTree

from infraplan.catalogue.demo import demo_load
from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import layer, saved, schools_in

pytestmark = pytest.mark.django_db

SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def test_schools_in_ashford_as_typed_cells_with_an_about_sheet(schools, client, tmp_path):
    response = client.get("/datasets/schools/download.xlsx", {"area": "E07000105"})
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"] == 'attachment; filename="schools-E07000105.xlsx"'
    path = saved(response, tmp_path, "schools.xlsx")

    meta, rows, _ = layer(path, "Features")
    assert len(rows) == schools_in("E07000105")
    types = dict(zip(meta["fields"], meta["dtypes"], strict=True))
    assert types["onspd_oseast1m"].startswith("int") and types["lat_wgs84"] == "float64"
    assert types["is_open"] == "bool" and types["easting"] == "float64"
    (school,) = [row for row in rows if row["reference"] == "118365"]
    assert school["name"] == "Aldington Primary School"
    assert school["is_open"] is True and school["onspd_oseast1m"] == 606434
    assert school["longitude"] == pytest.approx(0.946497)
    assert school["easting"] == pytest.approx(606434, abs=5)

    _, about, _ = layer(path, "About")
    said = {row["Field1"]: row["Field2"] for row in about if row["Field1"]}
    assert said["Dataset"] == "Schools and other education establishments (GIAS 2022)"
    assert said["Licence"] == "Open Government Licence v3.0"
    assert said["Attribution"].startswith("Contains public sector information")
    assert said["Version"].startswith("1, published ")
    assert said["As published on"] == "Now (current version)"
    assert said["Area"] == "Ashford (E07000105)"
    assert said["Box"] == "None"
    assert said["Dataset page"] == "http://127.0.0.1:8000/datasets/schools/"
    assert said["urn"] == "URN"  # each column's title

    with zipfile.ZipFile(path) as workbook:
        names = [sheet.get("name") for sheet in ElementTree.fromstring(
            workbook.read("xl/workbook.xml")).iter(f"{SHEET}sheet")]  # fmt: skip
        features = ElementTree.fromstring(workbook.read("xl/worksheets/sheet1.xml"))
    assert names == ["Features", "About"]
    assert features.find(f".//{SHEET}pane").get("ySplit") == "1"  # the header stays in view
    assert features.find(f"{SHEET}autoFilter").get("ref") == f"A1:U{len(rows) + 1}"


def test_the_about_sheet_names_the_boxs_coordinate_system(schools, client, tmp_path):
    box = {"bbox": "600000,140000,603000,143000",
           "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/27700"}  # fmt: skip
    path = saved(client.get("/datasets/schools/download.xlsx", box), tmp_path, "box.xlsx")
    _, about, _ = layer(path, "About")
    said = {row["Field1"]: row["Field2"] for row in about if row["Field1"]}
    assert said["Box"] == "600000,140000,603000,143000 in EPSG:27700"
    degrees = saved(
        client.get("/datasets/schools/download.xlsx", {"bbox": "0.86,51.14,0.89,51.16"}),
        tmp_path, "degrees.xlsx",
    )  # fmt: skip
    _, about, _ = layer(degrees, "About")
    said = {row["Field1"]: row["Field2"] for row in about if row["Field1"]}
    assert said["Box"] == "0.86,51.14,0.89,51.16 in WGS84 longitude, latitude"


def test_dates_are_dates_and_polygons_are_left_out_saying_so(personas, client, tmp_path):
    dataset = dataset_make(
        slug="visits", owner=personas.organisation_a,
        field_schema=[{"name": "visited", "type": "date", "title": "Visited"},
                      {"name": "formula", "type": "string", "title": "Formula"}],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset, points={"a": (601300, 142700)},
        properties={"a": {"visited": "2024-03-01", "formula": "=1+1"}},
    )  # fmt: skip
    path = saved(client.get("/datasets/visits/download.xlsx"), tmp_path, "visits.xlsx")
    meta, rows, _ = layer(path, "Features")
    assert rows[0]["visited"] == date(2024, 3, 1)
    assert rows[0]["formula"] == "=1+1"  # text, never run as a formula

    demo_load(only={"districts"})
    path = saved(client.get("/datasets/districts/download.xlsx"), tmp_path, "districts.xlsx")
    meta, rows, _ = layer(path, "Features", HEADERS="FORCE")  # every column is text
    assert len(rows) == 13 and "geometry_wkt_epsg27700" not in meta["fields"]
    _, about, _ = layer(path, "About")
    said = {row["Field1"]: row["Field2"] for row in about if row["Field1"]}
    assert said["Geometry"].startswith("Not included: a worksheet cell holds at most 32,767")
    assert "GeoPackage or GeoJSON" in said["Geometry"]
