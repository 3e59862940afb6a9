"""CSV downloads of the real demo data, read back: the features PostGIS finds, with their real
values and coordinates, in a file Excel reads."""

import pytest
import shapely
from django.db import connection

from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import csv_rows, csv_table, schools_in

pytestmark = pytest.mark.django_db

# Aldington Primary School (GIAS URN 118365), Ashford, at its postcode's centre.
ALDINGTON = "118365"


def test_schools_in_ashford_are_those_postgis_finds_with_their_real_values(schools, client):
    response = client.get("/datasets/schools/download.csv", {"area": "E07000105"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="schools-E07000105.csv"'
    assert response["Cache-Control"] == "public, max-age=300"
    header, rows = csv_table(response)
    assert len(rows) == schools_in("E07000105") > 50
    assert len({row["reference"] for row in rows}) == len(rows)
    assert [row["reference"] for row in rows] == sorted(row["reference"] for row in rows)
    assert header == [
        "reference", "urn", "name", "town", "postcode", "lead_school", "open_date",
        "close_date", "onspd_laua", "onspd_oseast1m", "onspd_osnrth1m", "lat_wgs84",
        "long_wgs84", "is_open", "district", "ward", "easting", "northing", "longitude",
        "latitude", "geometry_wkt_epsg27700",
    ]  # fmt: skip
    (school,) = [row for row in rows if row["reference"] == ALDINGTON]
    assert school["name"] == "Aldington Primary School"
    assert school["postcode"] == "TN25 7EE"
    assert school["is_open"] == "true" and school["lead_school"] == "false"
    assert school["district"] == "E07000105"
    # The stored point to the millimetre, and within the postcode directory's own metres.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM catalogue_feature WHERE reference = %s "
            "AND dataset_id = %s",
            [ALDINGTON, schools.pk],
        )
        x, y = cursor.fetchone()
    assert float(school["easting"]) == round(x, 3)
    assert float(school["northing"]) == round(y, 3)
    assert abs(float(school["easting"]) - int(school["onspd_oseast1m"])) < 5
    assert abs(float(school["northing"]) - int(school["onspd_osnrth1m"])) < 5
    # Back in WGS84 it is where the source put it (six decimal places).
    assert (school["longitude"], school["latitude"]) == (school["long_wgs84"], school["lat_wgs84"])
    assert school["geometry_wkt_epsg27700"] == ""


def test_all_of_a_dataset_and_a_box(schools, client):
    everything = csv_rows(client.get("/datasets/schools/download.csv", {"ended": "show"}))
    assert len(everything) == current_features(schools).count() == 1504
    # Without ended=show, the schools closed (a close date, now ISO) are left out.
    open_now = csv_rows(client.get("/datasets/schools/download.csv"))
    assert len(open_now) == 822 and {row["close_date"] for row in open_now} == {""}

    # Around Ashford town centre: the box's count as PostGIS makes it.
    box = {"bbox": "0.86,51.14,0.89,51.16"}
    rows = csv_rows(client.get("/datasets/schools/download.csv", box))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM catalogue_feature WHERE dataset_id = %s AND valid_to IS NULL "
            "AND properties ->> 'close_date' IS NULL "
            "AND ST_Intersects(geom, ST_Transform(ST_MakeEnvelope(0.86, 51.14, 0.89, 51.16, "
            "4326), 27700))",
            [schools.pk],
        )
        (expected,) = cursor.fetchone()
    assert len(rows) == expected > 5
    # A box and an area together: the features meeting both.
    both = csv_rows(client.get("/datasets/schools/download.csv", {**box, "area": "E07000106"}))
    assert both == []


GRID = "http://www.opengis.net/def/crs/EPSG/0/27700"


def test_a_box_on_the_national_grid_chooses_what_postgis_finds_in_it(schools, client):
    """``bbox-crs`` names the box's coordinates, as the OGC API's does: a GIS specialist's box
    in eastings and northings is that box, not its corners turned into degrees."""
    box = {"bbox": "600000,140000,603000,143000", "bbox-crs": GRID}
    rows = csv_rows(client.get("/datasets/schools/download.csv", box))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reference FROM catalogue_feature WHERE dataset_id = %s AND valid_to IS NULL "
            "AND properties ->> 'close_date' IS NULL "
            "AND ST_Intersects(geom, ST_MakeEnvelope(600000, 140000, 603000, 143000, 27700)) "
            "ORDER BY reference",
            [schools.pk],
        )
        expected = [reference for (reference,) in cursor.fetchall()]
    assert [row["reference"] for row in rows] == expected
    assert len(expected) > 5
    assert all(
        600000 <= float(row["easting"]) <= 603000 and 140000 <= float(row["northing"]) <= 143000
        for row in rows
    )
    # The same box in degrees, latitude first (EPSG:4326's own order), chooses what the
    # default order (longitude first) does.
    degrees = csv_rows(
        client.get("/datasets/schools/download.csv", {"bbox": "0.86,51.14,0.89,51.16"})
    )
    latitude_first = csv_rows(
        client.get(
            "/datasets/schools/download.csv",
            {
                "bbox": "51.14,0.86,51.16,0.89",
                "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326",
            },
        )
    )
    assert latitude_first == degrees and len(degrees) > 5


def test_polygons_are_wkt_on_the_national_grid(client):
    districts = demo_load(only={"districts"})[0].dataset
    response = client.get("/datasets/districts/download.csv", {"area": "E07000105"})
    rows = {row["reference"]: row for row in csv_rows(response)}
    # Ashford alone: its neighbours share its border, but lie in districts of their own.
    assert set(rows) == {"E07000105"}
    ashford = shapely.from_wkt(rows["E07000105"]["geometry_wkt_epsg27700"])
    stored = current_features(districts).get(reference="E07000105").geom
    assert ashford.area == pytest.approx(stored.area, rel=1e-6)
    assert "easting" not in rows["E07000105"]


def test_an_area_holds_the_features_placed_in_its_districts_not_its_neighbours_slivers(client):
    """Wards and districts are generalised apart, so wards of the next districts overlap
    Canterbury's boundary by slivers: an area holds the wards in its districts, as their own
    district codes say, and the county holds no ward of Medway (a unitary authority)."""
    loaded = demo_load(only={"districts", "wards", "kent-county-outline"})
    wards = next(version.dataset for version in loaded if version.dataset.slug == "wards")
    canterbury = csv_rows(client.get("/datasets/wards/download.csv", {"area": "E07000106"}))
    expected = current_features(wards).filter(properties__LAD23CD="E07000106")
    assert sorted(row["reference"] for row in canterbury) == sorted(
        expected.values_list("reference", flat=True)
    )
    assert {row["LAD23CD"] for row in canterbury} == {"E07000106"}
    with connection.cursor() as cursor:  # what the boundary touches: more than its wards
        cursor.execute(
            "SELECT count(*) FROM catalogue_feature w, catalogue_feature d "
            "WHERE w.dataset_id = %s AND w.valid_to IS NULL AND d.reference = 'E07000106' "
            "AND d.valid_to IS NULL AND d.dataset_id = (SELECT id FROM catalogue_dataset "
            "WHERE slug = 'districts') AND ST_Intersects(w.geom, d.geom)",
            [wards.pk],
        )
        (touching,) = cursor.fetchone()
    assert touching > len(canterbury)
    kent = csv_rows(client.get("/datasets/wards/download.csv", {"area": "E10000016"}))
    assert "E06000035" not in {row["LAD23CD"] for row in kent}
    assert len(kent) == current_features(wards).exclude(properties__LAD23CD="E06000035").count()


def test_text_that_would_be_a_formula_is_quoted_and_unknown_is_empty(personas, client):
    dataset = dataset_make(
        slug="notes", owner=personas.organisation_a,
        field_schema=[{"name": "note", "type": "string", "title": "Note"},
                      {"name": "places", "type": "integer", "title": "Places"}],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset,
        points={"a": (601300, 142700), "b": (601650, 142180)},
        properties={"a": {"note": "=HYPERLINK(\"http://x\")", "places": 0,
                          "@SUM(1+1)": "a source's own column"},
                    "b": {"note": "-fine", "places": None}},
    )  # fmt: skip
    rows = {row["reference"]: row for row in csv_rows(client.get("/datasets/notes/download.csv"))}
    # A column name from a source is a cell too: quoted where it would be a formula.
    assert rows["a"]["'@SUM(1+1)"] == "a source's own column"
    assert rows["a"]["note"] == '\'=HYPERLINK("http://x")'
    assert rows["b"]["note"] == "'-fine"
    assert rows["a"]["places"] == "0"  # zero is a value
    assert rows["b"]["places"] == ""  # unknown is not zero
    assert rows["a"]["easting"] == "601300.0" and rows["a"]["northing"] == "142700.0"


def test_a_list_without_geometry_by_area_is_its_districts_features(client):
    *_, version = demo_load(only={"districts", "kent-county-outline", "conservation-areas"})
    dataset = version.dataset
    features = current_features(dataset)
    ashford = features.filter(district="E07000105").count()
    assert ashford > 0

    rows = csv_rows(client.get("/datasets/conservation-areas/download.csv", {"area": "E07000105"}))
    assert len(rows) == ashford
    assert {row["district"] for row in rows} == {"E07000105"}
    assert "geometry_wkt_epsg27700" not in rows[0] and "easting" not in rows[0]
    # The feature's reference and the list's own "reference" field are both kept.
    assert rows[0]["reference"] == rows[0]["property_reference"]
    # Kent (a county): the features of its twelve districts, not Medway's.
    kent = csv_rows(client.get("/datasets/conservation-areas/download.csv", {"area": "E10000016"}))
    in_kent = features.exclude(district__in=["", "E06000035"]).count()
    assert len(kent) == in_kent > ashford


def test_the_body_is_streamed(schools, client):
    response = client.get("/datasets/schools/download.csv")
    assert response.streaming
    chunks = list(response.streaming_content)
    assert len(chunks) > 1, "written a piece at a time, not as one string"
    assert sum(len(chunk) for chunk in chunks) > 100_000


def test_loads_know_every_column_a_download_adds():
    """A download loaded again is recognised by these columns (catalogue.ingest_rows), which
    it leaves out of the properties: a column added here must be known there."""
    from infraplan.catalogue.ingest_rows import DOWNLOAD_ORGANISATION, DOWNLOAD_OWN_COLUMNS
    from infraplan.exports.table import FIXED_NAMES, GEOMETRY_CELL_NAMES, ORGANISATION

    assert (FIXED_NAMES - {"fid", "geom"}) | GEOMETRY_CELL_NAMES == DOWNLOAD_OWN_COLUMNS
    assert ORGANISATION == DOWNLOAD_ORGANISATION  # a dataset with several publishers' only
