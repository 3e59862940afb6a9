"""The catalogue list's search on the demo catalogue's own descriptions: word forms and
misspellings found, best matches first, and nothing listed for a search that cannot be run."""

import pytest

from infraplan.accounts.models import Organisation
from infraplan.accounts.services import organisations_sync_from_profile
from infraplan.catalogue.demo import METADATA_FIELDS, demo_manifest
from infraplan.catalogue.services import dataset_save

from .test_pages import titles

pytestmark = pytest.mark.django_db

SCHOOLS = "Schools and other education establishments (GIAS 2022)"
GP_PRACTICES = "GP practices and prescribing settings (epraccur 2024)"
RAIL_STATIONS = "Rail stations (NaPTAN)"
ANCIENT_WOODLAND = "Ancient woodland (Canterbury)"


@pytest.fixture
def demo_catalogue():
    """The demo datasets' descriptions (title, abstract, keywords, theme ...), without their
    features."""
    organisations_sync_from_profile(actor=None)
    for spec in demo_manifest().datasets:
        dataset_save(
            actor=None,
            slug=spec.slug,
            owner=Organisation.objects.get(slug=spec.owner),
            **{
                **spec.model_dump(include=METADATA_FIELDS),
                "theme": spec.theme.value,
                "access_level": spec.access_level.value,
                "update_frequency": spec.update_frequency.value,
                "geometry_type": spec.geometry_type.value,
            },
        )


def found(client, query: str) -> list[str]:
    return titles(client.get("/datasets/", {"q": query}))


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("school", SCHOOLS),
        ("scool", SCHOOLS),  # misspelt
        ("woodlands", ANCIENT_WOODLAND),  # plural of the keyword
        ("woodlnd", ANCIENT_WOODLAND),
        ("railway", RAIL_STATIONS),  # rail is in its title and keywords
        ("doctor", GP_PRACTICES),  # its keywords say doctors and surgeries
        ("surgery", GP_PRACTICES),
        ("primary schools", SCHOOLS),
        ("hospitl", "Acute hospitals with stroke units"),
        ("Heritage", "World Heritage Site (Canterbury)"),  # in its title, others' keywords
    ],
)
def test_search_finds_other_forms_and_misspellings_best_first(client, demo_catalogue, query, first):
    assert found(client, query)[0] == first


def test_datasets_holding_every_word_come_alone_else_those_holding_most(client, demo_catalogue):
    # Only the schools hold "school"; the practices give primary care: both, schools first.
    assert found(client, "primary schools") == [SCHOOLS, GP_PRACTICES]
    assert found(client, "listed buildings canterbury") == ["Listed buildings (Canterbury city)"]
    # Words that join others are not looked for; alone, they find nothing.
    assert found(client, "the rail stations") == [RAIL_STATIONS]
    assert found(client, "the") == []
    assert found(client, "xyzzy") == []


def test_a_search_too_long_to_run_lists_nothing(client, demo_catalogue):
    """A search of over 200 characters was named as an error and left out: every dataset was
    listed, as if the search had found them all."""
    response = client.get("/datasets/", {"q": "woodland " * 30})
    assert titles(response) == []
    content = response.content.decode()
    assert "There is a problem" in content
    assert "Ensure this value has at most 200 characters" in content
    assert "The search could not be run" in content
    assert "datasets match" not in content and "No datasets match" not in content
