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
