"""Whether a dataset's page and its metadata record offer downloads
(``dataset_downloads_offered``): once something is published, and at once for a registered
source, which keeps no versions on the platform."""

import pytest

from infraplan.catalogue.selectors import dataset_downloads_offered
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points

pytestmark = pytest.mark.django_db


def test_the_stores_dataset_offers_downloads_once_a_version_is_published(personas):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    assert not dataset_downloads_offered(dataset)

    version = version_publish_points(dataset=dataset, points=ASHFORD_POINTS)

    assert dataset_downloads_offered(dataset)
    assert dataset_downloads_offered(dataset, as_of=version)


def test_a_registered_source_offers_downloads_without_versions(personas):
    dataset = dataset_make(slug="projects", owner=personas.organisation_a, source_key="projects")

    assert not dataset.versions.exists()
    assert dataset_downloads_offered(dataset)
