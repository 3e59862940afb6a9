"""The real districts, loaded as the demo loads them."""

import pytest
from django.conf import settings

from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.store import current_features

pytestmark = pytest.mark.django_db

KENT_AND_MEDWAY = {
    "E06000035", "E07000105", "E07000106", "E07000107", "E07000108", "E07000109", "E07000110",
    "E07000111", "E07000112", "E07000113", "E07000114", "E07000115", "E07000116",
}  # fmt: skip


def test_demo_load_brings_real_districts_with_metadata_and_is_idempotent():
    first = {version.dataset.slug: version.number for version in demo_load()}
    assert first == {"districts": 1, "kent-county-outline": 1}
    districts = Dataset.objects.get(slug="districts")
    assert set(current_features(districts).values_list("reference", flat=True)) == KENT_AND_MEDWAY
    assert districts.owner.slug == "kent-county-council"
    assert (
        "Ordnance Survey" in districts.attribution
        and "Open Government Licence" in districts.licence
    )
    names = dict(current_features(districts).values_list("reference", "properties__LAD13NM"))
    assert names["E07000112"] == "Folkestone and Hythe"
    assert names["E07000105"] == "Ashford"
    # Areas are stored in British National Grid; Kent and Medway is about 3,730 km².
    total_km2 = sum(f.geom.area for f in current_features(districts)) / 1e6
    assert 3_600 < total_km2 < 3_900
    second = {version.dataset.slug: version.number for version in demo_load()}
    assert second == first
    assert districts.versions.count() == 1


def test_every_profile_area_has_its_boundary_in_the_demo_data():
    demo_load()
    for area in settings.AUTHORITY_PROFILE.areas:
        dataset = Dataset.objects.get(slug=area.boundary.dataset)
        assert current_features(dataset).filter(reference=area.boundary.reference).exists(), area
