"""What a download holds: as published on a date, ended features, attribute filters (typed,
"any of", unknown), and features of a source other than the feature store."""

import pytest
from django.contrib.gis.geos import Point

from infraplan.catalogue.sources import (
    FeatureRecord,
    FeatureSource,
    register_source,
    unregister_source,
)
from infraplan.core.testing.data import (
    dataset_make,
    days_ago,
    published_days_ago,
    version_publish_points,
)

from .conftest import csv_rows, geojson

pytestmark = pytest.mark.django_db

FIRST = {"civic-centre": (601300, 142700), "station": (601650, 142180)}
SECOND = {"civic-centre": (601300, 142700), "library": (601500, 142400)}


@pytest.fixture
def sites(personas):
    """Version 1 ten days ago (civic centre, station), version 2 two days ago (civic centre,
    library: the station gone)."""
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "name", "type": "string", "title": "Name"}],
    )  # fmt: skip
    published_days_ago(version_publish_points(dataset=dataset, points=FIRST), 10)
    published_days_ago(version_publish_points(dataset=dataset, points=SECOND), 2)
    return dataset


def references(response) -> list[str]:
    return [row["reference"] for row in csv_rows(response)]


def test_as_of_a_date_is_the_version_published_then(sites, client):
    then = client.get("/datasets/sites/download.csv", {"as_of": days_ago(5)})
    assert then["Content-Disposition"] == (f'attachment; filename="sites-as-of-{days_ago(5)}.csv"')
    assert references(then) == ["civic-centre", "station"]
    assert references(client.get("/datasets/sites/download.csv")) == ["civic-centre", "library"]
    # Today is as now.
    today = client.get("/datasets/sites/download.csv", {"as_of": days_ago(0)})
    assert references(today) == ["civic-centre", "library"]
    assert today["Content-Disposition"] == 'attachment; filename="sites.csv"'
    # The file says which version it holds, published when.
    metadata = geojson(client.get("/datasets/sites/download.geojson", {"as_of": days_ago(5)}))
    assert metadata["metadata"]["version"] == 1
    assert metadata["metadata"]["as_of"] == days_ago(5)


@pytest.mark.parametrize("key", ["csv", "xlsx", "geojson", "gpkg", "png"])
def test_a_date_to_come_is_refused_as_the_map_refuses_it(sites, client, key):
    """The map and the dataset page refuse a date to come; a download did not, and gave
    today's data under a date not yet reached."""
    for when in (days_ago(-1), "2999-01-01"):
        response = client.get(f"/datasets/sites/download.{key}", {"as_of": when})
        assert response.status_code == 400
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert response.content.decode() == (
            "Cannot make this download: as_of: The date must be today or in the past."
        )
        assert client.head(f"/datasets/sites/download.{key}", {"as_of": when}).status_code == 400
    assert client.get(f"/datasets/sites/download.{key}", {"as_of": days_ago(0)}).status_code == 200


def test_any_published_version_downloads_by_its_number(sites, client):
    """Two versions published the same day are one to as_of: a version's number names each."""
    version_publish_points(dataset=sites, points={"depot": (601700, 142200)})
    first = client.get("/datasets/sites/download.csv", {"version": "1"})
    assert first["Content-Disposition"] == 'attachment; filename="sites-version-1.csv"'
    assert references(first) == ["civic-centre", "station"]
    assert references(client.get("/datasets/sites/download.csv", {"version": "2"})) == [
        "civic-centre", "library"
    ]  # fmt: skip
    metadata = geojson(client.get("/datasets/sites/download.geojson", {"version": "2"}))
    assert metadata["metadata"]["version"] == 2

    for query, status, message in (
        ({"version": "9"}, 404, "version: Sites has no published version 9; its published "
         "versions are: 1, 2, 3"),
        ({"version": "two"}, 400, "version: 'two' is not a version number"),
        ({"version": "1", "as_of": days_ago(5)}, 400, "give version or as_of, not both"),
        ({"version": "1", "as_of": days_ago(0)}, 400, "give version or as_of, not both"),
    ):  # fmt: skip
        response = client.get("/datasets/sites/download.csv", query)
        assert response.status_code == status
        assert message in response.content.decode()


def test_a_versions_page_offers_its_downloads(sites, personas, client_as):
    page = client_as(personas.viewer_a).get("/datasets/sites/versions/1/").content.decode()
    assert 'href="/datasets/sites/download.csv?version=1"' in page
    assert 'href="/datasets/sites/download.gpkg?version=1"' in page


def test_before_the_first_publish_there_is_nothing_to_download(sites, client):
    response = client.get("/datasets/sites/download.gpkg", {"as_of": days_ago(20)})
    assert response.status_code == 404
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().startswith(
        "Cannot make this download: as_of: nothing of Sites had been published by the end of "
    )
    assert "its first version was published on" in response.content.decode()


def test_a_dataset_never_published_has_nothing_to_download(personas, client):
    dataset_make(slug="empty", owner=personas.organisation_a)
    response = client.get("/datasets/empty/download.csv")
    assert response.status_code == 404
    assert response.content.decode() == (
        "Cannot make this download: the dataset Empty has not been published yet: there is "
        "nothing to download."
    )


@pytest.fixture
def ended(personas):
    dataset = dataset_make(
        slug="register", owner=personas.organisation_a,
        field_schema=[{"name": "end-date", "type": "date", "title": "End date"}],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset,
        points={"gone": (601300, 142700), "going": (601650, 142180), "live": (601500, 142400)},
        properties={"gone": {"end-date": "2001-01-01"}, "going": {"end-date": "2999-01-01"}},
    )
    return dataset


def test_ended_features_only_when_asked_for_with_the_date_they_ended(ended, client):
    assert references(client.get("/datasets/register/download.csv")) == ["going", "live"]
    hidden = client.get("/datasets/register/download.csv", {"ended": "hide"})  # the default
    assert references(hidden) == ["going", "live"]
    shown = {
        row["reference"]: row
        for row in csv_rows(client.get("/datasets/register/download.csv", {"ended": "show"}))
    }
    assert set(shown) == {"gone", "going", "live"}
    assert shown["gone"]["ended"] == "2001-01-01"
    assert shown["going"]["ended"] == shown["live"]["ended"] == ""  # not ended yet
    assert "ended" not in csv_rows(client.get("/datasets/register/download.csv"))[0]
    collection = geojson(client.get("/datasets/register/download.geojson", {"ended": "show"}))
    assert {f["id"]: f["properties"]["ended"] for f in collection["features"]} == {
        "gone": "2001-01-01", "going": None, "live": None,
    }  # fmt: skip


@pytest.fixture
def schools_made(personas):
    dataset = dataset_make(
        slug="made-schools", owner=personas.organisation_a,
        field_schema=[
            {"name": "capacity", "type": "integer", "title": "Capacity"},
            {"name": "is_open", "type": "boolean", "title": "Open"},
            {"name": "phase", "type": "string", "title": "Phase"},
        ],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset,
        points={ref: (601000 + i * 100, 142000) for i, ref in enumerate("abcdef")},
        properties={
            "a": {"capacity": 420, "is_open": True, "phase": "primary"},
            "b": {"capacity": 420.0, "is_open": False, "phase": "secondary"},
            "c": {"capacity": 90, "is_open": True, "phase": "nursery"},
            "d": {"capacity": None, "is_open": True, "phase": "primary"},
            "e": {"is_open": True},
            "f": {"capacity": 0, "is_open": True, "phase": ""},  # a blank cell in the source
        },
    )
    return dataset


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"capacity": "420"}, ["a", "b"]),  # 420 and 420.0 alike
        ({"capacity": "420", "is_open": "yes"}, ["a"]),  # every field
        ({"is_open": "false"}, ["b"]),
        ({"phase": ["primary", "nursery"]}, ["a", "c", "d"]),  # any of its values
        ({"capacity": ""}, ["d", "e"]),  # unknown: null or missing, not zero
        ({"phase": ["secondary", ""]}, ["b", "e", "f"]),  # blank: missing or empty text
        ({"phase": "Primary"}, []),
    ],
)
def test_attribute_filters(schools_made, client, query, expected):
    for key in ("csv", "geojson"):
        response = client.get(f"/datasets/made-schools/download.{key}", query)
        assert response.status_code == 200
        found = (
            references(response)
            if key == "csv"
            else [feature["id"] for feature in geojson(response)["features"]]
        )
        assert found == expected, key


class TwoProjectsSource(FeatureSource):
    """A stand-in for a typed source (development sites, projects): not the feature store."""

    key = "test-export-projects"

    def tile_rows(self, dataset, zoom, fields):
        raise NotImplementedError("downloads read features, not tiles")

    def features(self, dataset):
        yield FeatureRecord(1, "p1", {"name": "Link road", "cost": 12}, Point(601000, 142000, srid=27700), "E07000105")  # fmt: skip
        yield FeatureRecord(2, "p2", {"name": "School", "cost": 8}, Point(617000, 157000, srid=27700), "E07000106")  # fmt: skip

    def version_tag(self, dataset):
        return "1"


@pytest.fixture
def projects(personas):
    register_source(TwoProjectsSource())
    yield dataset_make(
        slug="projects", owner=personas.organisation_a, source_key="test-export-projects",
        field_schema=[{"name": "name", "type": "string", "title": "Name"},
                      {"name": "cost", "type": "integer", "title": "Cost"}],
    )  # fmt: skip
    unregister_source("test-export-projects")


def test_a_source_other_than_the_store_is_downloaded_the_same_way(projects, districts, client):
    assert references(client.get("/datasets/projects/download.csv")) == ["p1", "p2"]
    in_ashford = client.get("/datasets/projects/download.csv", {"area": "E07000105"})
    assert references(in_ashford) == ["p1"]
    assert references(client.get("/datasets/projects/download.csv", {"cost": "8"})) == ["p2"]
    assert client.get("/datasets/projects/download.gpkg").status_code == 200
    # It keeps no history on the platform: a date cannot be honoured, and says so.
    response = client.get("/datasets/projects/download.csv", {"as_of": "2020-01-01"})
    assert response.status_code == 400
    assert "the platform keeps no history of Projects" in response.content.decode()
