"""The footer's "Data sources": the attribution of each dataset a person may see, each said
once however many datasets owe it."""

import re

import pytest

from infraplan.core.context_processors import attributions_distinct
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db

# As the demo's district boundaries and the population table drawn on them credit their sources.
BOUNDARIES = "Contains OS data © Crown copyright. Source: Office for National Statistics."
POPULATION = f"{BOUNDARIES} Population: Source: Office for National Statistics."


def footer_sources(response) -> list[str]:
    section = re.search(
        r'class="[^"]*app-footer-attributions">(.*?)</ul>', response.content.decode(), re.S
    )
    return re.findall(r"<li>(.*?)</li>", section[1], re.S)


def test_the_footer_credits_each_source_once(personas, client):
    for slug, attribution in (
        ("districts", BOUNDARIES),
        ("wards", BOUNDARIES.replace(" ", "  ")),  # the same, spaced otherwise
        ("lsoa", POPULATION),  # says the districts' credit in full
        ("schools", "Contains public sector information (schools)."),
    ):
        dataset = dataset_make(slug=slug, owner=personas.organisation_a, attribution=attribution)
        version_publish_points(dataset=dataset, points={"S1": (615000, 157500)})

    assert footer_sources(client.get("/")) == [
        "Contains OS data © Crown copyright. Source: Office for National Statistics. "
        "Population: Source: Office for National Statistics.",
        "Contains public sector information (schools).",
    ]


def test_distinct_attributions_keep_texts_that_are_only_alike():
    assert attributions_distinct(["B. C.", "A.", " B.\nC. ", "", "B"]) == ["A.", "B. C."]
    assert attributions_distinct(["© Example 2024", "© Example 2025"]) == [
        "© Example 2024",
        "© Example 2025",
    ]
