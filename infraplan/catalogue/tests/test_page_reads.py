"""What the dataset page and its style editor read: a dataset of a million features is shown
from its first features (example values) and from the extent measured when the version was
published, never by reading or sorting every feature on each visit."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from infraplan.catalogue import dataset_page
from infraplan.catalogue.models import DatasetVersion
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db

POINTS = {
    "a": (615000, 157500),
    "b": (615100, 157600),
    "c": (615200, 157700),
    "d": (615300, 157800),
}
MEASURING = 'ST_Extent("catalogue_feature"."geom")'  # measuring a version's features


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


def _page(client, url: str) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))
    return text, [query["sql"] for query in queries.captured_queries]


def test_example_values_come_from_the_first_features_read_with_a_limit(
    sites, personas, client_as, monkeypatch
):
    version_publish_points(
        dataset=sites,
        points=POINTS,
        properties={"a": {"end-date": "2001-01-01"}},  # ended: the map leaves it out
    )
    monkeypatch.setattr(dataset_page, "SAMPLE_SCAN", 3)
    monkeypatch.setattr(dataset_page, "SAMPLE_SIZE", 2)
    text, queries = _page(client_as(None), "/datasets/sites/")
    sampled = [sql for sql in queries if 'ORDER BY "catalogue_feature"."reference"' in sql]
    assert len(sampled) == 1 and sampled[0].endswith("LIMIT 3"), sampled
    # The first live features by reference: "a" has ended, "d" is past the first three read.
    assert "name name Text b; c " in text

    # The style editor's field types: the first SAMPLE_SIZE features only.
    _, queries = _page(client_as(personas.data_manager_a), "/datasets/sites/style/")
    sampled = [sql for sql in queries if 'ORDER BY "catalogue_feature"."reference"' in sql]
    assert sampled and all(sql.endswith(" LIMIT 2") for sql in sampled), sampled


def test_the_extent_is_measured_when_a_version_is_published_not_on_each_visit(sites, client_as):
    first = version_publish_points(dataset=sites, points=POINTS)
    second = version_publish_points(dataset=sites, points={"a": POINTS["a"], "b": POINTS["b"]})
    assert first.extent["bng"] == [615000, 157500, 615300, 157800]
    assert second.extent["bng"] == [615000, 157500, 615100, 157600]
    west, south, east, north = second.extent["wgs84"]
    assert 1.0 < west < east < 1.2 and 51.0 < south < north < 51.3  # in Kent

    text, queries = _page(client_as(None), "/datasets/sites/")
    assert not [sql for sql in queries if MEASURING in sql]
    assert "Eastings 615000 to 615100, northings 157500 to 157600 (metres)" in text
    assert f"West {west:.6f}, south {south:.6f}, east {east:.6f}, north {north:.6f}" in text
    # The dataset as of the first version: that version's own extent.
    DatasetVersion.objects.filter(pk=first.pk).update(
        published_at=first.published_at.replace(year=2020)
    )
    text, queries = _page(client_as(None), "/datasets/sites/?as_of=2020-12-31")
    assert not [sql for sql in queries if MEASURING in sql]
    assert "Eastings 615000 to 615300, northings 157500 to 157800 (metres)" in text


def test_a_version_published_before_versions_were_measured_is_measured_once(sites, client_as):
    version = version_publish_points(dataset=sites, points=POINTS)
    measured = version.extent
    DatasetVersion.objects.filter(pk=version.pk).update(extent=None)

    text, queries = _page(client_as(None), "/datasets/sites/")
    assert len([sql for sql in queries if MEASURING in sql]) == 1
    assert "Eastings 615000 to 615300, northings 157500 to 157800 (metres)" in text
    version.refresh_from_db()
    assert version.extent == measured
    again, queries = _page(client_as(None), "/datasets/sites/")
    assert not [sql for sql in queries if MEASURING in sql]
    assert again == text


def test_the_versions_table_is_paged_newest_first_keeping_the_date(
    sites, personas, client_as, monkeypatch
):
    """A source loaded daily for years keeps thousands of versions: the page lists a page of
    them, with GOV.UK pagination back to the table, and the date the page shows is kept. (The
    failed loads are listed to those who load into the dataset.)"""
    monkeypatch.setattr(dataset_page, "VERSIONS_PER_PAGE", 3)
    version_publish_points(dataset=sites, points=POINTS)
    DatasetVersion.objects.bulk_create(
        DatasetVersion(dataset=sites, number=number, state="failed", source=f"load {number}")
        for number in range(2, 8)
    )
    client = client_as(personas.contributor_a)

    text, _ = _page(client, "/datasets/sites/")
    assert "Versions of Sites, newest first: 1 to 3 of 7" in text
    assert "load 7" in text and "load 5" in text and "load 4" not in text
    html = client.get("/datasets/sites/").content.decode()
    assert 'href="?page=2#versions-heading"' in html and 'aria-label="Pages of versions"' in html

    text, _ = _page(client, "/datasets/sites/?page=3")
    assert "7 to 7 of 7" in text and "test" in text  # version 1's source
    assert "Current" in text

    DatasetVersion.objects.filter(dataset=sites, number=1).update(
        published_at=timezone.now() - timedelta(days=30)
    )
    day = (timezone.localdate() - timedelta(days=10)).isoformat()
    html = client.get(f"/datasets/sites/?as_of={day}&page=2").content.decode()
    assert f'href="?as_of={day}&amp;page=3#versions-heading"' in html
    assert "load 4" in html and "load 5" not in html
