"""The home page counts the datasets a person may see, and says how many of them are not
published yet, as the catalogue says of each, so that it promises no more than the map shows."""

import re

import pytest

from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db


def count_said(response) -> str:
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))
    return re.search(r"You can see [^.]*\.", text).group(0)


def test_the_count_says_how_many_are_not_published_yet(personas, client, client_as):
    published = dataset_make(slug="published", owner=personas.organisation_a)
    version_publish_points(dataset=published, points={"S1": (615000, 157500)})
    dataset_make(slug="waiting", owner=personas.organisation_a)
    dataset_make(slug="signed-in", owner=personas.organisation_a, access_level="signed_in")

    assert count_said(client.get("/")) == (
        "You can see 2 datasets (1 of them not published yet) without signing in; sign in to "
        "see what your organisation shares."
    )
    assert count_said(client_as(personas.viewer_a).get("/")) == (
        "You can see 3 datasets (2 of them not published yet)."
    )


def test_the_count_says_nothing_of_publishing_when_every_one_is_published(personas, client):
    published = dataset_make(slug="published", owner=personas.organisation_a)
    version_publish_points(dataset=published, points={"S1": (615000, 157500)})
    assert count_said(client.get("/")).startswith("You can see 1 dataset without signing in")
