"""The features of a dataset several organisations publish say whose part each is in
(``organisation``, the organisation's slug), on a page and alone; a dataset with one publisher's
say nothing of it."""

import pytest

from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import body

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared(personas):
    """Sites that A owns and B contributes to, both councils with a site S1."""
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    sites.contributing_organisations.add(personas.organisation_b)
    for organisation, point in [
        (personas.organisation_a, (615000, 157500)),
        (personas.organisation_b, (631800, 141500)),
    ]:
        version_publish_points(dataset=sites, points={"S1": point}, organisation=organisation)
    return sites


def test_an_item_says_whose_part_it_is_in(shared, client):
    page = body(client.get("/ogcapi/collections/sites/items"))
    properties = [feature["properties"] for feature in page["features"]]
    assert sorted((p["reference"], p["organisation"]) for p in properties) == [
        ("S1", "org-a"), ("S1", "org-b"),
    ]  # fmt: skip
    assert list(properties[0])[:2] == ["reference", "organisation"]

    dover = current_features(shared).get(organisation__slug="org-b")
    item = body(client.get(f"/ogcapi/collections/sites/items/{dover.pk}"))
    assert item["properties"]["organisation"] == "org-b"


def test_only_a_dataset_with_several_publishers_says_whose_part(shared, personas, client):
    (feature, _) = body(client.get("/ogcapi/collections/sites/items"))["features"]
    assert "organisation" in feature["properties"]
    solo = dataset_make(slug="solo", owner=personas.organisation_a)
    version_publish_points(dataset=solo, points={"S1": (615000, 157500)})
    (feature,) = body(client.get("/ogcapi/collections/solo/items"))["features"]
    assert list(feature["properties"]) == ["reference", "name", "district", "ward"]
    item = body(client.get(f"/ogcapi/collections/solo/items/{feature['id']}"))
    assert "organisation" not in item["properties"]


def test_a_sources_own_organisation_is_written_beside_the_platforms(personas, client):
    """A brownfield register names its publisher in a column of its own ("local-authority-
    eng:DOV"): the item still says whose part it is in, by the slug a download gives."""
    sites = dataset_make(slug="register", owner=personas.organisation_a)
    sites.contributing_organisations.add(personas.organisation_b)
    version_publish_points(
        dataset=sites, points={"S1": (631800, 141500)}, organisation=personas.organisation_b,
        properties={"S1": {"organisation": "local-authority-eng:DOV"}},
    )  # fmt: skip
    (feature,) = body(client.get("/ogcapi/collections/register/items"))["features"]
    assert feature["properties"]["organisation"] == "org-b"
    assert feature["properties"]["property_organisation"] == "local-authority-eng:DOV"
