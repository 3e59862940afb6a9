"""A dataset served by a registered FeatureSource (typed domain records) gets the same page."""

import re

import pytest
from django.contrib.gis.geos import Point

from infraplan.catalogue.sources import (
    FeatureRecord,
    FeatureSource,
    register_source,
    unregister_source,
)
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db


class TwoProjectsSource(FeatureSource):
    """A stand-in for a typed source: two projects in Ashford, not in the feature store."""

    key = "test-two-projects"

    def tile_rows(self, dataset, zoom, fields):
        raise NotImplementedError("the catalogue pages do not draw tiles")

    def features(self, dataset):
        yield FeatureRecord(
            1, "p1", {"name": "Link road", "cost": 12}, Point(601000, 142000, srid=27700)
        )
        yield FeatureRecord(
            2, "p2", {"name": "School", "cost": 8}, Point(602000, 143000, srid=27700)
        )

    def version_tag(self, dataset):
        return "1"


@pytest.fixture
def projects(personas):
    register_source(TwoProjectsSource())
    yield dataset_make(
        slug="projects", owner=personas.organisation_a, source_key="test-two-projects"
    )
    unregister_source("test-two-projects")


def test_a_registered_source_has_fields_examples_and_extent(projects, client_as):
    content = client_as(None).get("/datasets/projects/").content.decode()
    assert "Link road; School" in content
    assert re.search(r"<code>cost</code></td>\s*<td[^>]*>cost</td>\s*<td[^>]*>Whole number</td>"
                     r"\s*<td[^>]*>12; 8</td>", content)  # fmt: skip
    assert "Eastings 601000 to 602000, northings 142000 to 143000 (metres)" in content
    west, south, east, north = map(
        float,
        re.search(
            r"West ([\d.]+), south ([\d.]+), east ([\d.]+), north ([\d.]+)", content
        ).groups(),
    )
    assert 0.85 < west < east < 0.9 and 51.13 < south < north < 51.16
