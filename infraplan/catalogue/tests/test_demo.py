"""The real demo data, loaded as `infraplan load_demo` loads it.

The whole demo is loaded once in the suite, through the task queue (tests/test_queue.py), and
checked by ``demo_loaded_check`` here; the tests in this module load single datasets.
"""

import csv

import pytest
from django.conf import settings

from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.models import Dataset, DatasetVersion, GeometryType
from infraplan.catalogue.store import current_features
from infraplan.catalogue.styles import style_parse

pytestmark = pytest.mark.django_db

KENT_AND_MEDWAY = {
    "E06000035", "E07000105", "E07000106", "E07000107", "E07000108", "E07000109", "E07000110",
    "E07000111", "E07000112", "E07000113", "E07000114", "E07000115", "E07000116",
}  # fmt: skip
CANTERBURY = "E07000106"

# From data/README.md: the features each file holds.
EXPECTED_COUNTS = {
    "districts": 13, "kent-county-outline": 1, "east-kent-outline": 1, "wards": 289,
    "lsoa-2011": 1065, "msoa-2011": 220, "parliamentary-constituencies": 18, "parishes": 85,
    "brownfield-land": 798, "schools": 1504, "gp-practices": 524, "nhs-sub-icb": 1,
    "stroke-hospitals": 7, "rail-stations": 105, "aonb": 1, "ancient-woodland": 513,
    "local-nature-reserves": 11, "article-4-areas": 466, "tree-preservation-zones": 1584,
    "agricultural-land-classification": 13, "listed-buildings": 984, "scheduled-monuments": 31,
    "world-heritage-sites": 2, "registered-parks-gardens": 1, "local-plan-boundary": 1,
    "conservation-areas": 348,
}  # fmt: skip


def brownfield_rows_without_coordinates() -> set[str]:
    path = settings.DEMO_DATA_DIR / "kent_brownfield_land_register"
    with (path / "kent_medway_brownfield_land_2018_2020.csv").open(encoding="utf-8") as stream:
        return {
            f"{row['organisation']}/{row['site'] or f'row-{number}'}"
            for number, row in enumerate(csv.DictReader(stream), start=1)
            if not (row["latitude"] and row["longitude"])
        }


def lsoa_population_total() -> int:
    path = settings.DEMO_DATA_DIR / "kent_population_lsoa_mid2017"
    with (path / "kent_medway_sape20dt1_mid2017_all_ages.csv").open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    # The file's 13 district rows hold the districts' totals; the LSOAs sum to them exactly.
    return sum(int(row["All Ages"]) for row in rows if not row["Area Codes"].startswith("E01"))


def demo_loaded_check(versions: dict[str, DatasetVersion]) -> None:
    """Everything the whole demo load must have made, given each dataset's current version."""
    counts = {slug: current_features(v.dataset).count() for slug, v in versions.items()}
    assert counts == EXPECTED_COUNTS
    assert {slug: v.feature_count for slug, v in versions.items()} == EXPECTED_COUNTS

    for dataset in Dataset.objects.filter(slug__in=EXPECTED_COUNTS):
        names = [field["name"] for field in dataset.field_schema]
        style_parse(dataset.style, fields=names)  # every default style is valid
        assert not dataset.label_field or dataset.label_field in names, dataset.slug
        assert dataset.access_level == "public" and dataset.licence and dataset.attribution
        assert dataset.keywords and dataset.source_format, dataset.slug

    # Brownfield: the 22 rows without coordinates are reported by reference, not loaded.
    brownfield = versions["brownfield-land"]
    skipped = brownfield.report["skipped"]
    assert len(skipped) == 22
    assert {row["reference"] for row in skipped} == brownfield_rows_without_coordinates()
    assert {row["reason"] for row in skipped} == {"no geometry"}
    features = current_features(brownfield.dataset)
    site = features.get(reference="local-authority-eng:ASF/AG7c")
    assert site.properties["hectares"] == 7.7 and site.properties["maximum-net-dwellings"] == 350
    # The Gravesham site with a latitude in the Channel is kept and flagged, not dropped.
    placement = brownfield.report["placement"]
    channel_site = features.get(reference__startswith="local-authority-eng:GRA/BLR04")
    assert channel_site.district == "" and channel_site.geom.y < 50_000
    assert channel_site.reference in placement["outside_districts"]
    assert placement["district_from_source"] == 0
    assert placement["district_by_geometry"] == 798 - len(placement["outside_districts"])

    # LSOAs: every one has its mid-2017 population, summing to the districts' totals.
    lsoas = current_features(versions["lsoa-2011"].dataset)
    populations = [p["population_mid2017"] for p in lsoas.values_list("properties", flat=True)]
    assert all(isinstance(value, int) and value > 0 for value in populations)
    assert sum(populations) == lsoa_population_total()
    assert lsoas.exclude(district__in=KENT_AND_MEDWAY).count() == 0

    # Conservation areas: a table without geometry.
    areas = versions["conservation-areas"].dataset
    assert areas.geometry_type == GeometryType.NONE
    assert current_features(areas).filter(geom__isnull=False).count() == 0
    assert "placement" not in versions["conservation-areas"].report

    # Schools keep is_open; every school (all have a Kent or Medway postcode) has a district.
    schools = current_features(versions["schools"].dataset)
    assert schools.filter(properties__is_open=True).count() == 822
    assert schools.filter(properties__is_open=False).count() == 682
    assert set(schools.values_list("district", flat=True)) == KENT_AND_MEDWAY
    assert versions["schools"].report["placement"]["district_from_source"] == 1504
    assert schools.filter(ward="").count() == len(
        versions["schools"].report["placement"]["ward_unplaced"]
    )
    assert schools.exclude(ward="").count() > 1450

    # Canterbury's listed buildings all lie in Canterbury district and each has a ward.
    listed = current_features(versions["listed-buildings"].dataset)
    assert set(listed.values_list("district", flat=True)) == {CANTERBURY}
    assert listed.filter(ward="").count() == 0
    assert versions["listed-buildings"].report["placement"]["district_by_geometry"] == 984
    assert listed.filter(properties__Grade="II*").count() == 52

    # Boundary datasets are not placed in themselves.
    assert "placement" not in versions["districts"].report
    assert "placement" not in versions["wards"].report


def test_demo_districts_have_real_names_and_areas():
    districts = demo_load(only={"districts"})[0].dataset
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


def test_every_profile_area_has_its_boundary_in_the_demo_data():
    slugs = {area.boundary.dataset for area in settings.AUTHORITY_PROFILE.areas}
    demo_load(only=slugs)
    for area in settings.AUTHORITY_PROFILE.areas:
        dataset = Dataset.objects.get(slug=area.boundary.dataset)
        assert current_features(dataset).filter(reference=area.boundary.reference).exists(), area
