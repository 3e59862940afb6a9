"""What a download says of its size and where it is: how many features it holds (in every file
that has room for metadata, and in every answer's ``X-Feature-Count`` header, the one place a
CSV file's count can be read), and a filename that tells the boxes of two downloads apart."""

import re

import pyogrio
import pytest
from pyproj import Transformer

from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points

from .conftest import body, csv_table, geojson, layer, saved

pytestmark = pytest.mark.django_db

FORMATS = ("csv", "xlsx", "geojson", "gpkg", "png")
GRID = "http://www.opengis.net/def/crs/EPSG/0/27700"


def about_sheet(response, tmp_path) -> dict[str, str]:
    _, about, _ = layer(saved(response, tmp_path, "about.xlsx"), "About")
    return {row["Field1"]: row["Field2"] for row in about if row["Field1"]}


def gpkg_metadata(response, tmp_path) -> tuple[dict, dict]:
    info = pyogrio.read_info(saved(response, tmp_path, "count.gpkg"), layer="schools")
    return info["layer_metadata"], info["dataset_metadata"]


def test_every_download_says_how_many_features_it_holds(schools, client, tmp_path):
    url = "/datasets/schools/download"
    query = {"area": "E07000105"}
    header, rows = csv_table(client.get(f"{url}.csv", query))
    count = len(rows)
    assert count > 30
    for key in FORMATS:
        assert client.get(f"{url}.{key}", query)["X-Feature-Count"] == str(count), key
        # HEAD answers the headers GET would.
        assert client.head(f"{url}.{key}", query)["X-Feature-Count"] == str(count), key
    # CSV has no room for it: the header only, and no row added to the table.
    assert "Features" not in header and all(row["reference"] for row in rows)
    assert about_sheet(client.get(f"{url}.xlsx", query), tmp_path)["Features"] == str(count)
    layer_metadata, file_metadata = gpkg_metadata(client.get(f"{url}.gpkg", query), tmp_path)
    assert layer_metadata["Features"] == file_metadata["Features"] == str(count)
    collection = geojson(client.get(f"{url}.geojson", query))
    assert collection["metadata"]["features"] == len(collection["features"]) == count


def test_an_empty_download_says_it_holds_none(districts, personas, client, tmp_path):
    """An area with none of the dataset's features in it gives files that say so, rather than
    an empty table that looks like a failed download."""
    sites = dataset_make(slug="schools", owner=personas.organisation_a)
    version_publish_points(dataset=sites, points=ASHFORD_POINTS)
    url = "/datasets/schools/download"
    canterbury = {"area": "E07000106"}
    for key in FORMATS:
        response = client.get(f"{url}.{key}", canterbury)
        assert response.status_code == 200 and response["X-Feature-Count"] == "0", key
    header, rows = csv_table(client.get(f"{url}.csv", canterbury))
    assert header[0] == "reference" and rows == []
    assert about_sheet(client.get(f"{url}.xlsx", canterbury), tmp_path)["Features"] == "0"
    layer_metadata, file_metadata = gpkg_metadata(client.get(f"{url}.gpkg", canterbury), tmp_path)
    assert layer_metadata["Features"] == file_metadata["Features"] == "0"
    collection = geojson(client.get(f"{url}.geojson", canterbury))
    assert collection["metadata"]["features"] == 0 and collection["features"] == []
    # All of it: two.
    assert client.get(f"{url}.csv")["X-Feature-Count"] == "2"
    assert b"\r\n" in body(client.get(f"{url}.csv"))


def filename(response) -> str:
    match = re.fullmatch(r'attachment; filename="(.+)"', response["Content-Disposition"])
    return match.group(1)


def test_a_box_is_named_by_its_corners_on_the_grid(schools, client):
    """Every box was ``schools.csv``, so a second box downloaded replaced the first."""
    url = "/datasets/schools/download"
    grid = {"bbox": "600000,140000,603000,143000", "bbox-crs": GRID}
    for key in FORMATS:
        response = client.get(f"{url}.{key}", grid)
        assert filename(response) == f"schools-box-600000-140000-603000-143000.{key}"
    other = {"bbox": "603000,140000,606000,143000", "bbox-crs": GRID}
    assert filename(client.get(f"{url}.csv", other)) == "schools-box-603000-140000-606000-143000.csv"  # fmt: skip
    both = {**grid, "area": "E07000105"}
    assert filename(client.head(f"{url}.gpkg", both)) == (
        "schools-E07000105-box-600000-140000-603000-143000.gpkg"
    )
    # A box in degrees, in whichever order of axes, by its corners on the grid in whole metres.
    degrees = filename(client.get(f"{url}.csv", {"bbox": "0.86,51.14,0.89,51.16"}))
    latitude_first = {
        "bbox": "51.14,0.86,51.16,0.89",
        "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326",
    }
    assert filename(client.get(f"{url}.csv", latitude_first)) == degrees
    to_mercator = Transformer.from_crs(4326, 3857, always_xy=True)
    mercator = (*to_mercator.transform(0.86, 51.14), *to_mercator.transform(0.89, 51.16))
    web = {
        "bbox": ",".join(f"{number:.3f}" for number in mercator),
        "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
    }
    assert filename(client.get(f"{url}.csv", web)) == degrees
    corners = re.fullmatch(r"schools-box-(\d+)-(\d+)-(\d+)-(\d+)\.csv", degrees).groups()
    to_grid = Transformer.from_crs(4326, 27700, always_xy=True)
    lower_left, upper_right = to_grid.transform(0.86, 51.14), to_grid.transform(0.89, 51.16)
    expected = (*lower_left, *upper_right)
    assert [int(number) for number in corners] == pytest.approx(expected, abs=1)
    # Not a box: not named as one.
    assert filename(client.get(f"{url}.csv")) == "schools.csv"


def test_a_box_in_degrees_beyond_great_britain_is_refused_as_one_on_the_grid_is(schools, client):
    response = client.get("/datasets/schools/download.csv", {"bbox": "100,10,101,11"})
    assert response.status_code == 400
    assert response.content.decode() == (
        "Cannot make this download: bbox: '100,10,101,11' in WGS84 longitude, latitude lies "
        "outside Great Britain and its waters, where every feature is."
    )


def test_degrees_given_as_a_box_on_the_grid_are_refused_as_the_ogc_api_refuses_them(
    schools, client
):
    grid = {"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/27700"}
    response = client.get(
        "/datasets/schools/download.csv", {"bbox": "0.86,51.14,0.89,51.16", **grid}
    )
    assert response.status_code == 400
    assert response.content.decode().startswith(
        "Cannot make this download: bbox: '0.86,51.14,0.89,51.16' in EPSG:27700 looks like degrees"
    )


def test_filtered_downloads_are_named_by_their_filters(personas, client):
    """Every filtered download was ``practices.csv``: two of them replaced each other."""
    dataset = dataset_make(
        slug="practices", owner=personas.organisation_a,
        field_schema=[{"name": "Open Date", "type": "date", "title": "Opened"},
                      {"name": "status", "type": "string", "title": "Status"}],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset, points=dict(ASHFORD_POINTS),
        properties={reference: {"Open Date": "2018-04-01", "status": "Open"}
                    for reference in ASHFORD_POINTS},
    )  # fmt: skip
    url = "/datasets/practices/download"
    opened = {"Open Date": "2018-04-01"}
    for key in FORMATS:
        response = client.get(f"{url}.{key}", opened)
        body(response)  # sent: its slot given back (core.heavy)
        assert response["Content-Disposition"] == (
            f'attachment; filename="practices-where-open-date-2018-04-01.{key}"'
        ), key
        assert (
            client.head(f"{url}.{key}", opened)["Content-Disposition"]
            == (response["Content-Disposition"])
        )
    # Fields in order of name, values in the order given, an empty value as unknown.
    both = {"status": ["Open", "Closed"], "Open Date": ""}
    assert filename(client.head(f"{url}.csv", both)) == (
        "practices-where-open-date-unknown-status-open-or-closed.csv"
    )
    box = {"bbox": "600000,140000,603000,143000", "bbox-crs": GRID}
    assert filename(client.head(f"{url}.csv", {**opened, "ended": "show", **box})) == (
        "practices-box-600000-140000-603000-143000-where-open-date-2018-04-01-with-ended.csv"
    )
    # Accents dropped; what has no ASCII letter or digit, or is long, is told apart by a hash
    # of the filters as given, the same each time.
    assert filename(client.head(f"{url}.csv", {"status": "Fermé"})) == (
        "practices-where-status-ferme.csv"
    )
    named = {
        filename(client.head(f"{url}.csv", {"status": status}))
        for status in ("東京", "大阪", "a" * 100, "a" * 99)
    }
    assert len(named) == 4
    for name in named:
        assert re.fullmatch(r"practices-where-status-[a-z0-9-]*[0-9a-f]{8}\.csv", name), name
        assert len(name) <= len("practices-where-") + 60 + len(".csv"), name
    assert filename(client.head(f"{url}.csv", {"status": "東京"})) in named
    assert filename(client.head(f"{url}.csv")) == "practices.csv"
