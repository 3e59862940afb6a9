"""What a download holds: as published on a date, ended features, attribute filters (typed,
"any of", unknown), and features of a source other than the feature store."""

from datetime import date

import pyogrio
import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from django.utils.html import escape

from infraplan.catalogue.models import DatasetVersion
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

from .conftest import csv_rows, geojson, layer, saved

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


def day_text(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.day} {day:%B %Y}"


def published(dataset, number: int) -> str:
    """When version ``number`` was published, as the files say it."""
    at = DatasetVersion.objects.get(dataset=dataset, number=number).published_at
    return f"{timezone.localtime(at):%Y-%m-%d %H:%M}"


def about(client, tmp_path, key: str, query: dict) -> list[dict[str, str]]:
    """What the XLSX About sheet, and the GeoPackage's layer and file metadata, say."""
    path = saved(client.get(f"/datasets/sites/download.{key}", query), tmp_path, f"sites.{key}")
    if key == "xlsx":
        _, rows, _ = layer(path, "About")
        return [{row["Field1"]: row["Field2"] for row in rows if row["Field1"]}]
    info = pyogrio.read_info(path, layer="sites")
    return [info["layer_metadata"], info["dataset_metadata"]]


@pytest.mark.parametrize("key", ["xlsx", "gpkg"])
def test_a_version_no_longer_current_says_so_and_what_followed_it(sites, client, tmp_path, key):
    """Version 1 of three was said to be "Now (current version)": a file kept for later must say
    which version it holds, that it had been superseded, by which and when."""
    version_publish_points(dataset=sites, points={"depot": (601700, 142200)})
    for said in about(client, tmp_path, key, {"version": "1", "ended": "show"}):
        assert said["Version"] == f"1, published {published(sites, 1)}"
        assert said["As published on"] == (
            "Version 1 (not the current version; the current version is 3)"
        )
        assert said["Superseded"] == (
            f"Yes: by version 2, published {published(sites, 2)}; the current version is 3"
        )
    for said in about(client, tmp_path, key, {"version": "2"}):
        assert said["As published on"] == (
            "Version 2 (not the current version; the current version is 3)"
        )
        assert said["Superseded"] == (
            f"Yes: by version 3 (the current version), published {published(sites, 3)}"
        )
    # As published on a date: the date, and what has been published since.
    for said in about(client, tmp_path, key, {"as_of": days_ago(5)}):
        assert said["Version"] == f"1, published {published(sites, 1)}"
        assert said["As published on"] == day_text(days_ago(5))
        assert said["Superseded"].startswith("Yes: by version 2, published ")
    # The current version, asked for by its number or not, is the current version.
    for query in ({"version": "3"}, {}):
        for said in about(client, tmp_path, key, query):
            assert said["As published on"] == "Now (current version)"
            assert said["Superseded"] == (
                "No: it was the current version when this file was generated"
            )


def test_a_version_no_longer_current_says_so_in_geojson(sites, client):
    version_publish_points(dataset=sites, points={"depot": (601700, 142200)})
    second = DatasetVersion.objects.get(dataset=sites, number=2).published_at
    first = geojson(client.get("/datasets/sites/download.geojson", {"version": "1"}))["metadata"]
    assert first["version"] == 1 and first["as_of"] is None
    assert first["current_version"] == 3
    assert first["superseded_by"] == 2
    assert first["superseded_at"] == second.isoformat()
    then = geojson(client.get("/datasets/sites/download.geojson", {"as_of": days_ago(5)}))
    assert then["metadata"]["version"] == 1 and then["metadata"]["superseded_by"] == 2
    for query in ({"version": "3"}, {}):
        now = geojson(client.get("/datasets/sites/download.geojson", query))["metadata"]
        assert now["version"] == now["current_version"] == 3
        assert now["superseded_by"] is None and now["superseded_at"] is None


def test_the_form_shows_a_date_the_download_would_refuse(sites, projects, client):
    """The form sent the browser on to the download, which refused the date in plain text: it
    now says what is wrong itself, beside a field the date can be put right in."""
    first = DatasetVersion.objects.get(dataset=sites, number=1).published_at
    for slug, typed, message in (
        ("sites", "yesterday", "Enter the date as year-month-day with numbers, for example 2026-03-27"),
        ("sites", "2026-02-30", "'2026-02-30' is not a real date"),
        ("sites", days_ago(-1), "The date must be today or in the past"),
        ("sites", days_ago(20), f"Nothing of Sites had been published by the end of "
         f"{day_text(days_ago(20))}; its first version was published on "
         f"{day_text(timezone.localdate(first).isoformat())}"),
        ("projects", days_ago(5), "The platform keeps no history of Projects, so it can be "
         "downloaded only as it is now; leave out as_of"),
    ):  # fmt: skip
        query = {"format": "csv", "area": "", "as_of": typed, "ended": "show"}
        response = client.get(f"/datasets/{slug}/download/", query)
        assert response.status_code == 400, typed
        assert response["Cache-Control"] == "no-store"
        page = response.content.decode()
        summary = page.split('<div class="govuk-error-summary"')[1].split("</ul>")[0]
        link = '<a href="#download-as_of">As published on: '
        assert link in summary and escape(message) in summary.split(link)[1], typed
        group = page.split('<div class="govuk-form-group govuk-form-group--error">')[1]
        group = group.split('<div class="govuk-form-group">')[0]  # to the next field's
        assert '<label class="govuk-label" for="download-as_of">As published on</label>' in group
        assert (
            '<p class="govuk-error-message" id="download-as_of-error"><span class="govuk-'
            'visually-hidden">Error:</span> ' + escape(message) in group
        )
        assert 'id="download-as_of" name="as_of" type="text"' in group
        assert f'value="{escape(typed)}"' in group
        assert 'aria-describedby="download-as_of-hint download-as_of-error"' in group
        assert 'type="hidden" name="as_of"' not in page
        # Every other choice kept.
        assert 'value="show" aria-describedby="download-ended-hint" checked' in page
    # A date it can be downloaded as of goes on, as does today (as now), or none.
    for typed in (days_ago(5), days_ago(0)):
        response = client.get("/datasets/sites/download/", {"format": "csv", "as_of": typed})
        assert response.status_code == 302
        assert response["Location"] == f"/datasets/sites/download.csv?as_of={typed}"
    response = client.get("/datasets/sites/download/", {"format": "csv", "as_of": ""})
    assert response["Location"] == "/datasets/sites/download.csv"
    # On the dataset page, the date it shows the dataset as of is carried hidden.
    section = client.get("/datasets/sites/", {"as_of": days_ago(5)}).content.decode()
    section = section.split('id="download"')[1]
    assert f'<input type="hidden" name="as_of" value="{days_ago(5)}">' in section
    assert 'id="download-as_of"' not in section
    now = client.get("/datasets/sites/").content.decode().split('id="download"')[1]
    assert 'name="as_of"' not in now


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
