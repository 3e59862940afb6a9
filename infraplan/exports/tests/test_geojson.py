"""GeoJSON downloads read back: RFC 7946 (WGS84 longitude and latitude), the download's
metadata in the collection, each feature's stored values."""

import json

import pytest
import shapely
from django.db import connection

from infraplan.catalogue.demo import demo_load
from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import csv_rows, geojson, layer, postgis_count, saved

pytestmark = pytest.mark.django_db


def test_open_schools_in_ashford_in_wgs84_with_the_metadata(schools, client, tmp_path):
    response = client.get(
        "/datasets/schools/download.geojson", {"area": "E07000105", "is_open": "true"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    assert response.streaming
    path = saved(response, tmp_path, "schools.geojson")
    collection = json.loads(path.read_bytes())

    expected = postgis_count(
        """
        SELECT count(*) FROM catalogue_feature s, catalogue_feature d
        WHERE s.dataset_id = %(schools)s AND s.valid_to IS NULL
          AND (s.properties -> 'is_open') = 'true'::jsonb
          AND d.reference = 'E07000105' AND d.valid_to IS NULL AND d.dataset_id <> s.dataset_id
          AND ST_Intersects(s.geom, d.geom)
        """,
        schools=schools.pk,
    )
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == expected > 30
    assert {feature["properties"]["is_open"] for feature in collection["features"]} == {True}
    metadata = collection["metadata"]
    assert metadata["title"] == schools.title and metadata["dataset"] == "schools"
    assert metadata["licence"] == "Open Government Licence v3.0"
    assert metadata["attribution"] == schools.attribution
    assert metadata["version"] == 1 and metadata["as_of"] is None
    assert metadata["area"] == "Ashford (E07000105)"
    assert metadata["filters"] == ["is_open: true"]
    assert metadata["url"] == "http://127.0.0.1:8000/datasets/schools/"

    (school,) = [f for f in collection["features"] if f["id"] == "118365"]
    assert school["properties"]["name"] == "Aldington Primary School"
    assert school["properties"]["onspd_oseast1m"] == 606434  # numbers stay numbers
    assert school["properties"]["district"] == "E07000105"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_X(ST_Transform(geom, 4326)), ST_Y(ST_Transform(geom, 4326)) "
            "FROM catalogue_feature WHERE dataset_id = %s AND reference = '118365'",
            [schools.pk],
        )
        lon, lat = cursor.fetchone()
    assert school["geometry"] == {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}

    # GDAL reads it as GeoJSON in WGS84.
    meta, rows, _ = layer(path)
    assert meta["crs"] == "EPSG:4326" and len(rows) == expected


def test_the_metadata_names_the_boxs_coordinate_system(schools, client, tmp_path):
    grid = "http://www.opengis.net/def/crs/EPSG/0/27700"
    box = {"bbox": "600000,140000,603000,143000", "bbox-crs": grid}
    response = client.get("/datasets/schools/download.geojson", box)
    metadata = json.loads(saved(response, tmp_path, "box.geojson").read_bytes())["metadata"]
    assert metadata["bbox"] == "600000,140000,603000,143000" and metadata["bbox_crs"] == grid
    # A box in degrees, as the map's links write it, names none.
    response = client.get("/datasets/schools/download.geojson", {"bbox": "0.86,51.14,0.89,51.16"})
    assert (
        "bbox_crs"
        not in json.loads(saved(response, tmp_path, "degrees.geojson").read_bytes())["metadata"]
    )


def test_polygon_rings_wind_as_rfc_7946_says(client):
    demo_load(only={"districts"})
    collection = geojson(client.get("/datasets/districts/download.geojson"))
    assert len(collection["features"]) == 13
    for feature in collection["features"]:
        shape = shapely.geometry.shape(feature["geometry"])
        for polygon in getattr(shape, "geoms", [shape]):
            assert polygon.exterior.is_ccw, feature["id"]  # outer rings anticlockwise
            assert all(not ring.is_ccw for ring in polygon.interiors)
        west, south, east, north = shape.bounds
        assert 0 < west < east < 2 and 50.5 < south < north < 51.6  # degrees, not metres


def test_a_property_keeps_its_name_where_the_format_has_no_column_of_that_name(personas, client):
    """GeoJSON keeps geometry as geometry: a field called latitude is latitude there, while a
    CSV (whose point has a latitude column of its own) writes it as property_latitude."""
    dataset = dataset_make(
        slug="surveyed", owner=personas.organisation_a,
        field_schema=[{"name": "latitude", "type": "number", "title": "Surveyed latitude"}],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset, points={"a": (601300, 142700)}, properties={"a": {"latitude": 51.1}}
    )
    (feature,) = geojson(client.get("/datasets/surveyed/download.geojson"))["features"]
    assert feature["properties"]["latitude"] == 51.1
    assert "property_latitude" not in feature["properties"]
    (row,) = csv_rows(client.get("/datasets/surveyed/download.csv"))
    assert row["property_latitude"] == "51.1" and row["latitude"] != "51.1"
