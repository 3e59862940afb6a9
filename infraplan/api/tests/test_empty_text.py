"""A property whose stored value is empty text (a source's blank text cell, read as such) is
null in the API's features, as an unknown one is and as downloads write it; a filter's empty
value keeps exactly the features whose value is so written."""

import pytest

from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import body

pytestmark = pytest.mark.django_db

FILLED = {"notes": "Contaminated land", "hazardous-substances": "No"}


@pytest.fixture
def sites(personas):
    """A site whose source left its notes and hazardous substances (outside the schema) blank,
    stored as empty text; one with both filled in; one whose notes are two spaces."""
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "notes", "type": "string", "title": "Notes"}],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset,
        points={"blank": (615000, 157500), "filled": (615010, 157500), "spaces": (615020, 157500)},
        properties={
            "blank": {"notes": "", "hazardous-substances": ""},
            "filled": FILLED,
            "spaces": {"notes": "  ", "hazardous-substances": "No"},
        },
    )
    return dataset


def _properties(page: dict) -> dict[str, dict]:
    """Each feature's properties, by its reference."""
    features = [feature["properties"] for feature in page["features"]]
    return {properties["reference"]: properties for properties in features}


def test_empty_text_is_null_in_the_item_and_the_items(sites, client):
    stored = current_features(sites).get(reference="blank")
    assert stored.properties["notes"] == ""  # kept as loaded: only the answer writes it as none

    item = body(client.get(f"/ogcapi/collections/sites/items/{stored.pk}"))["properties"]
    assert item["notes"] is None and item["hazardous-substances"] is None

    features = _properties(body(client.get("/ogcapi/collections/sites/items")))
    assert features["blank"]["notes"] is None
    assert features["blank"]["hazardous-substances"] is None
    assert {name: features["filled"][name] for name in FILLED} == FILLED
    assert features["spaces"]["notes"] == "  "  # text of spaces is text, as the source has it


def test_the_empty_filter_keeps_the_features_written_as_null(sites, client):
    blank = _properties(body(client.get("/ogcapi/collections/sites/items", {"notes": ""})))
    assert list(blank) == ["blank"] and blank["blank"]["notes"] is None
    filled = _properties(
        body(client.get("/ogcapi/collections/sites/items", {"notes": "Contaminated land"}))
    )
    assert list(filled) == ["filled"]
