"""GeoPackage downloads read back by GDAL: one layer named after the dataset, on the National
Grid, with typed columns and the download's metadata."""

import numpy
import pyogrio
import pytest
import shapely

from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import layer, saved, schools_in

pytestmark = pytest.mark.django_db


def test_schools_in_ashford_as_a_typed_layer_on_the_national_grid(schools, client, tmp_path):
    response = client.get("/datasets/schools/download.gpkg", {"area": "E07000105"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geopackage+sqlite3"
    assert response["Content-Disposition"] == 'attachment; filename="schools-E07000105.gpkg"'
    path = saved(response, tmp_path, "schools.gpkg")

    meta, rows, geometries = layer(path, "schools")
    assert meta["crs"] == "EPSG:27700" and meta["geometry_type"] == "Point"
    assert len(rows) == schools_in("E07000105")
    types = dict(zip(meta["fields"], meta["dtypes"], strict=True))
    assert types["onspd_oseast1m"] == "int64" and types["lat_wgs84"] == "float64"
    assert types["is_open"] == "bool" and types["name"] == "object"
    assert "easting" not in types  # the geometry is the layer's own
    index = next(i for i, row in enumerate(rows) if row["reference"] == "118365")
    assert rows[index]["name"] == "Aldington Primary School" and rows[index]["is_open"] is True
    point = shapely.from_wkb(geometries[index])
    stored = current_features(schools).get(reference="118365").geom
    assert (point.x, point.y) == (stored.x, stored.y)

    info = pyogrio.read_info(path, layer="schools")
    assert info["layer_metadata"]["IDENTIFIER"] == schools.title
    assert info["layer_metadata"]["Licence"] == "Open Government Licence v3.0"
    assert info["layer_metadata"]["Attribution"] == schools.attribution
    assert info["layer_metadata"]["Version"].startswith("1, published ")
    assert info["layer_metadata"]["Area"] == "Ashford (E07000105)"
    assert info["dataset_metadata"]["Dataset"] == schools.title


def test_mixed_polygons_are_one_multipolygon_layer_and_unknowns_are_null(
    personas, client, tmp_path
):
    demo_load(only={"districts"})
    meta, rows, geometries = layer(
        saved(client.get("/datasets/districts/download.gpkg"), tmp_path, "d.gpkg"), "districts"
    )
    assert meta["geometry_type"] == "MultiPolygon" and len(rows) == 13
    assert {shapely.from_wkb(g).geom_type for g in geometries} == {"MultiPolygon"}

    dataset = dataset_make(
        slug="places", owner=personas.organisation_a,
        field_schema=[{"name": "places", "type": "integer", "title": "Places"},
                      {"name": "open", "type": "boolean", "title": "Open"}],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset, points={"a": (601300, 142700), "b": (601650, 142180)},
        properties={"a": {"places": 0, "open": False}, "b": {"places": None}},
    )  # fmt: skip
    path = saved(client.get("/datasets/places/download.gpkg"), tmp_path, "p.gpkg")
    info = pyogrio.read_info(path)
    types = dict(zip(info["fields"], zip(info["ogr_types"], info["ogr_subtypes"], strict=True), strict=True))  # fmt: skip
    assert types["places"] == ("OFTInteger64", "OFSTNone")
    assert types["open"] == ("OFTInteger", "OFSTBoolean")
    _, rows, _ = layer(path)
    by_reference = {row["reference"]: row for row in rows}
    # (A column with nulls is read back as floats, the nulls as NaN.)
    assert by_reference["a"]["places"] == 0 and by_reference["a"]["open"] == 0
    # Unknown is null, not 0 or false.
    assert numpy.isnan(by_reference["b"]["places"]) and numpy.isnan(by_reference["b"]["open"])


def test_nothing_chosen_is_an_empty_layer_with_its_columns(schools, client, tmp_path):
    response = client.get(
        "/datasets/schools/download.gpkg", {"area": "E07000105", "town": "Margate"}
    )
    meta, rows, _ = layer(saved(response, tmp_path, "none.gpkg"), "schools")
    assert rows == [] and "town" in list(meta["fields"])


def test_an_empty_download_keeps_the_datasets_geometry_type_and_crs(schools, client, tmp_path):
    """No feature chosen is still a layer of the dataset's type on the National Grid, so that
    the file can be used as a template: a download of all of it is typed the same."""
    url = "/datasets/schools/download.gpkg"
    nothing = client.get(url, {"area": "E07000105", "town": "Margate"})
    assert nothing["X-Feature-Count"] == "0"
    empty = pyogrio.read_info(saved(nothing, tmp_path, "empty.gpkg"))
    full = pyogrio.read_info(saved(client.get(url), tmp_path, "full.gpkg"))
    assert empty["features"] == 0 and empty["geometry_type"] == full["geometry_type"] == "Point"
    assert empty["crs"] == "EPSG:27700"

    demo_load(only={"districts"})  # single polygons and multipolygons: a MultiPolygon layer
    empty = pyogrio.read_info(
        saved(client.get("/datasets/districts/download.gpkg", {"bbox": "-4,50.1,-3.9,50.2"}),
              tmp_path, "districts.gpkg")
    )  # fmt: skip
    assert empty["features"] == 0
    assert (empty["geometry_type"], empty["crs"]) == ("MultiPolygon", "EPSG:27700")


@pytest.mark.parametrize(
    ("geometry_type", "layer_type"),
    [("point", "Point"), ("line", "MultiLineString"), ("polygon", "MultiPolygon")],
)
def test_a_dataset_with_nothing_published_yet_is_typed_by_its_geometry_type(
    personas, client, tmp_path, geometry_type, layer_type
):
    dataset = dataset_make(
        slug="planned", owner=personas.organisation_a, geometry_type=geometry_type
    )
    version_publish_points(dataset=dataset, points={})
    info = pyogrio.read_info(
        saved(client.get("/datasets/planned/download.gpkg"), tmp_path, "planned.gpkg")
    )
    assert (info["features"], info["geometry_type"], info["crs"]) == (0, layer_type, "EPSG:27700")


def test_the_metadata_is_labelled_as_the_xlsx_about_sheet_labels_it(schools, client, tmp_path):
    """GDAL ends a metadata key at its first ":" or "=": a label "Box (EPSG:27700)" was read
    back from the layer as "Box (EPSG" = "27700)=600000,...". Every label reads back as the
    XLSX About sheet has it, the box's coordinate system in its value."""
    box = {"bbox": "600000,140000,603000,143000",
           "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/27700"}  # fmt: skip
    url = "/datasets/schools/download"
    info = pyogrio.read_info(saved(client.get(f"{url}.gpkg", box), tmp_path, "box.gpkg"))
    _, about, _ = layer(saved(client.get(f"{url}.xlsx", box), tmp_path, "box.xlsx"), "About")
    said = {row["Field1"]: row["Field2"] for row in about if row["Field1"]}
    for metadata in (info["layer_metadata"], info["dataset_metadata"]):
        assert metadata["Box"] == said["Box"] == "600000,140000,603000,143000 in EPSG:27700"
        labels = set(metadata) - {"IDENTIFIER", "DESCRIPTION"}
        assert labels <= set(said) and "Dataset page" in labels
        assert all(metadata[label] == said[label] for label in labels - {"Generated"})
