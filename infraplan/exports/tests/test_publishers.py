"""Downloads of a dataset several organisations publish (a brownfield register of a dozen
councils) say whose part each feature is in, in every format: two councils' features may share a
reference. A dataset with one publisher keeps its columns as they were."""

import pytest

from infraplan.core.testing.data import (
    SHARED_POINTS,
    dataset_make,
    shared_sites_make,
    version_publish_points,
)

from .conftest import csv_table, geojson, layer, saved

pytestmark = pytest.mark.django_db

# SHARED_POINTS: both councils have a site S1; only A has S2.


@pytest.fixture
def shared(personas):
    return shared_sites_make(personas.organisation_a, personas.organisation_b)


def _parts(rows: list[dict]) -> list[tuple[str, str]]:
    return sorted((row["reference"], row["organisation"]) for row in rows)


PARTS = [("S1", "org-a"), ("S1", "org-b"), ("S2", "org-a")]


def test_every_format_says_whose_part_each_feature_is_in(shared, client, tmp_path):
    header, rows = csv_table(client.get("/datasets/sites/download.csv"))
    assert header[:3] == ["reference", "organisation", "name"]
    assert _parts(rows) == PARTS

    collection = geojson(client.get("/datasets/sites/download.geojson"))
    properties = [feature["properties"] for feature in collection["features"]]
    assert list(properties[0])[:3] == ["reference", "organisation", "name"]
    assert _parts(properties) == PARTS
    assert "the column 'organisation' is the slug" in collection["metadata"]["publishers"]

    path = saved(client.get("/datasets/sites/download.gpkg"), tmp_path, "sites.gpkg")
    meta, rows, _ = layer(path, "sites")
    assert list(meta["fields"][:3]) == ["reference", "organisation", "name"]
    assert _parts(rows) == PARTS

    path = saved(client.get("/datasets/sites/download.xlsx"), tmp_path, "sites.xlsx")
    meta, rows, _ = layer(path, "Features")
    assert list(meta["fields"][:3]) == ["reference", "organisation", "name"]
    assert _parts(rows) == PARTS
    _, about, _ = layer(path, "About")
    said = {row["Field1"]: row["Field2"] for row in about if row["Field1"]}
    assert said["organisation"].startswith("Organisation whose part of the dataset")
    assert "Several organisations publish this dataset" in said["Publishers"]


def test_a_property_called_organisation_is_written_as_property_organisation(
    shared, personas, client
):
    version_publish_points(
        dataset=shared, points=SHARED_POINTS["org-b"], organisation=personas.organisation_b,
        properties={"S1": {"organisation": "Dover District Council"}},
    )  # fmt: skip
    header, rows = csv_table(client.get("/datasets/sites/download.csv"))
    assert header == [
        "reference", "organisation", "name", "property_organisation", "district", "ward",
        "easting", "northing", "longitude", "latitude", "geometry_wkt_epsg27700",
    ]  # fmt: skip
    (dover,) = [row for row in rows if row["organisation"] == "org-b"]
    assert dover["property_organisation"] == "Dover District Council"


def test_a_former_contributors_features_still_say_whose_they_are(shared, client):
    """The rule is the dataset's features as well as its contributors: a council no longer
    contributing keeps its part until it is replaced, and its features are still its own."""
    shared.contributing_organisations.clear()
    _, rows = csv_table(client.get("/datasets/sites/download.csv"))
    assert _parts(rows) == PARTS


def test_only_a_dataset_with_several_publishers_has_the_column(shared, personas, client, tmp_path):
    """A dataset with one publisher keeps its columns as they were, its own property called
    organisation included, beside one that several organisations publish."""
    header, _ = csv_table(client.get("/datasets/sites/download.csv"))
    assert "organisation" in header
    solo = dataset_make(slug="solo", owner=personas.organisation_a)
    version_publish_points(
        dataset=solo, points=SHARED_POINTS["org-a"],
        properties={"S1": {"organisation": "Canterbury City Council"}},
    )  # fmt: skip
    header, rows = csv_table(client.get("/datasets/solo/download.csv"))
    assert header == [
        "reference", "name", "organisation", "district", "ward", "easting", "northing",
        "longitude", "latitude", "geometry_wkt_epsg27700",
    ]  # fmt: skip
    assert rows[0]["organisation"] == "Canterbury City Council"  # its own property, as it was
    collection = geojson(client.get("/datasets/solo/download.geojson"))
    assert "publishers" not in collection["metadata"]
    assert list(collection["features"][1]["properties"]) == [
        "reference", "name", "organisation", "district", "ward",
    ]  # fmt: skip
    meta, _, _ = layer(saved(client.get("/datasets/solo/download.gpkg"), tmp_path, "s.gpkg"))
    assert list(meta["fields"]) == ["reference", "name", "organisation", "district", "ward"]
