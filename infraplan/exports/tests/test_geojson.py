"""GeoJSON downloads read back: RFC 7946 (WGS84 longitude and latitude), the download's
metadata in the collection, each feature's stored values."""

import json

import pytest
import shapely
from django.db import connection

from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.ingest import IngestMapping, ingest_run
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import csv_table, geojson, layer, postgis_count, saved

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


def test_a_property_is_named_alike_in_every_format(personas, client, tmp_path):
    """A register with its own latitude (in the schema) and longitude (not): CSV and XLSX add
    their own columns of those names for a point, so the properties are property_latitude and
    property_longitude there, and in GeoJSON and GeoPackage too, which add no such columns: one
    name in every format. Each download, loaded back, changes nothing."""
    dataset = dataset_make(
        slug="surveyed", owner=personas.organisation_a,
        field_schema=[{"name": "latitude", "type": "number", "title": "Surveyed latitude"}],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset, points={"a": (601300, 142700)},
        properties={"a": {"latitude": 51.1, "longitude": "1.08"}},
    )  # fmt: skip
    before = dict(current_features(dataset).values_list("reference", "properties"))
    url = "/datasets/surveyed/download"
    (feature,) = geojson(client.get(f"{url}.geojson"))["features"]
    gpkg_meta, (gpkg_row,), _ = layer(saved(client.get(f"{url}.gpkg"), tmp_path, "s.gpkg"))
    header, (row,) = csv_table(client.get(f"{url}.csv"))
    xlsx_meta, _, _ = layer(saved(client.get(f"{url}.xlsx"), tmp_path, "s.xlsx"), "Features")
    own = {"property_latitude", "property_longitude"}
    assert own <= set(feature["properties"]) and own <= set(gpkg_meta["fields"])
    assert own <= set(header) and own <= set(xlsx_meta["fields"])
    assert not {"latitude", "longitude"} & set(feature["properties"])
    assert not {"latitude", "longitude"} & set(gpkg_meta["fields"])
    assert feature["properties"]["property_latitude"] == gpkg_row["property_latitude"] == 51.1
    assert feature["properties"]["property_longitude"] == gpkg_row["property_longitude"] == "1.08"
    assert row["property_latitude"] == "51.1" and row["latitude"] != "51.1"

    for key in ("geojson", "gpkg", "csv"):
        path = saved(client.get(f"{url}.{key}"), tmp_path, f"again.{key}")
        version = ingest_run(
            actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
            mapping=IngestMapping(reference="reference"),
        )  # fmt: skip
        report = version.report
        assert (report["added"], report["changed"], report["removed"]) == (0, 0, 0), key
        assert dict(current_features(dataset).values_list("reference", "properties")) == before
