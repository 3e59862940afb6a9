"""How the dataset, load, version and changes pages word what they show: field types as the
rest of the platform names them, counts with thousands separators, why version numbers skip,
and a published load's notes."""

import html
import re

import pytest

from infraplan.catalogue.history import VersionDiff
from infraplan.catalogue.models import DatasetVersion
from infraplan.catalogue.publishing import version_fail, version_start
from infraplan.catalogue.views import versions as version_views
from infraplan.connectors.models import IngestRun
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db

LEFT_OUT = "Numbers missing from this list are loads that were not published."


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


@pytest.fixture
def sites(personas):
    dataset = dataset_make(
        slug="sites",
        owner=personas.organisation_a,
        field_schema=[
            {"name": "name", "title": "Name", "type": "string"},
            {"name": "homes", "title": "Homes", "type": "integer"},
            {"name": "cost", "title": "Cost", "type": "number"},
            {"name": "open", "title": "Open", "type": "boolean"},
            {"name": "decided", "title": "Decided", "type": "date"},
        ],
    )
    version_publish_points(dataset=dataset, points={"A": (615000, 157500)})
    return dataset


def a_load_failed(dataset, personas) -> DatasetVersion:
    draft = version_start(actor=personas.contributor_a, dataset=dataset, source="bad.csv")
    return version_fail(actor=personas.contributor_a, version=draft, report={"error": "Bad."})


def test_the_fields_table_names_each_type_as_the_platform_does(sites, client_as):
    content = client_as(None).get("/datasets/sites/").content.decode()
    types = re.findall(
        r"<code>\w+</code></td>\s*<td[^>]*>\w+</td>\s*<td[^>]*>([^<]*)</td>", content
    )
    assert types == ["Text", "Whole number", "Number", "True or false", "Date"]


def test_the_load_version_and_changes_pages_separate_thousands(
    sites, personas, client_as, monkeypatch
):
    counts = {"added": 60000, "changed": 1200, "removed": 5, "unchanged": 123456}
    version = DatasetVersion.objects.get(dataset=sites, number=1)
    placement = {"district_from_source": 60000, "district_by_geometry": 1200}
    DatasetVersion.objects.filter(pk=version.pk).update(report={**counts, "placement": placement})
    run = IngestRun.objects.create(
        dataset=sites, connector_key="upload", mapping={}, state="published", version=version
    )
    client = client_as(personas.contributor_a)
    said = "60,000 added, 1,200 changed, 5 removed, 123,456 unchanged"
    assert said in text(client.get(f"/datasets/sites/runs/{run.pk}/"))
    version_page = text(client.get("/datasets/sites/versions/1/"))
    assert f"Changes {said}" in version_page
    assert "District from the source's codes: 60,000; by where it lies: 1,200" in version_page

    version_publish_points(dataset=sites, points={"B": (615100, 157500)})
    diff = VersionDiff(old=1, new=2, added_count=60000, changed_count=1200, removed_count=1500)
    diff.added = [("Organisation A", "B")]
    monkeypatch.setattr(version_views, "versions_diff", lambda *args, **kwargs: diff)
    page = text(client.get("/datasets/sites/versions/1/diff/2/"))
    assert "Added 60,000 Changed 1,200 Removed 1,500" in page
    assert "Added (60,000)" in page and "The first 500 are listed." in page


def test_a_viewer_is_told_why_version_numbers_skip_only_when_they_do(sites, personas, client_as):
    version_publish_points(dataset=sites, points={"B": (615100, 157500)})  # 2
    assert LEFT_OUT not in text(client_as(personas.viewer_a).get("/datasets/sites/"))
    # A load that failed after the latest published version leaves no gap in the list.
    a_load_failed(sites, personas)  # 3
    assert LEFT_OUT not in text(client_as(personas.viewer_a).get("/datasets/sites/"))
    version_publish_points(dataset=sites, points={"C": (615200, 157500)})  # 4
    assert LEFT_OUT in text(client_as(personas.viewer_a).get("/datasets/sites/"))
    # A contributor sees the failed load in the list: no number is missing.
    contributor = text(client_as(personas.contributor_a).get("/datasets/sites/"))
    assert "Version 3 was not published" in contributor and LEFT_OUT not in contributor


def test_a_published_load_shows_its_notes(sites, personas, client_as):
    version = DatasetVersion.objects.get(dataset=sites, number=1)
    note = "No column of the source fills the dataset's field decided: it is empty in every row."
    DatasetVersion.objects.filter(pk=version.pk).update(
        report={"added": 1, "notes": [note, "Read as Windows-1252 text."]}
    )
    run = IngestRun.objects.create(
        dataset=sites, connector_key="upload", mapping={}, state="published", version=version
    )
    page = text(client_as(personas.contributor_a).get(f"/datasets/sites/runs/{run.pk}/"))
    assert f"Notes on this version: {note} Read as Windows-1252 text." in page
    # Without notes, none are spoken of.
    DatasetVersion.objects.filter(pk=version.pk).update(report={"added": 1})
    page = text(client_as(personas.contributor_a).get(f"/datasets/sites/runs/{run.pk}/"))
    assert "on this version" not in page
