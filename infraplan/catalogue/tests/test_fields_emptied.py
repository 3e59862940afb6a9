"""A load whose source no longer fills a field most current features hold a value in (a column
renamed by its publisher, or cut to ten characters by a zipped Shapefile) is refused before it
publishes, as a large removal is: otherwise every feature would lose that value at once, with
only a note on the run's page to say so."""

from pathlib import Path

import pytest

from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.models import VersionState
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db

REFERENCES = [f"S{number}" for number in range(10)]


def ingest(dataset, path: Path, mapping: IngestMapping | None = None):
    return ingest_run(
        actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
        mapping=mapping or IngestMapping(reference="ref"),
    )  # fmt: skip


def sites_csv(tmp_path: Path, name_column: str, names: list[str], file: str) -> Path:
    header = "ref" + (f",{name_column}" if name_column else "") + ",Easting,Northing\n"
    rows = "".join(
        f"{reference}" + (f",{name}" if name_column else "") + f",{615000 + number},157500\n"
        for number, (reference, name) in enumerate(zip(REFERENCES, names, strict=True))
    )
    path = tmp_path / file
    path.write_text(header + rows, encoding="utf-8")
    return path


@pytest.fixture
def sites(personas):
    return dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[
            {"name": "ref", "type": "string", "title": "Reference", "required": True},
            {"name": "site_name", "type": "string", "title": "Site name"},
        ],
    )  # fmt: skip


def names_now(dataset) -> dict[str, str | None]:
    return dict(current_features(dataset).values_list("reference", "properties__site_name"))


NAMES = [f"Site {number}" for number in range(9)] + [""]  # nine named, one empty


def test_a_renamed_column_is_refused_and_the_current_version_keeps_its_values(sites, tmp_path):
    first = ingest(sites, sites_csv(tmp_path, "site_name", NAMES, "first.csv"))
    before = names_now(sites)
    assert sum(1 for name in before.values() if name) == 9

    with pytest.raises(IngestRejected) as rejected:
        ingest(sites, sites_csv(tmp_path, "Site Name", NAMES, "renamed.csv"))

    assert str(rejected.value) == (
        "No column of this source fills the dataset's field site_name (a value in 9 of the 10 "
        "current features): this load would empty it in every feature. Its columns that are no "
        "field: Site Name. If one of them holds the field under another name (a zipped Shapefile "
        "cuts names to ten characters), rename that column to the field in the column mapping "
        "(Columns to rename on the upload page, the source's column mapping, --rename at the "
        "command line) and load again. If emptying it is meant, load it again allowing large "
        "removals (a choice on the upload and source pages; --allow-large-removal at the command "
        "line)."
    )
    failed = rejected.value.version
    assert failed.state == VersionState.FAILED and failed.report["rejected"] is True
    assert failed.report["error"] == str(rejected.value)
    assert not current_features(sites).filter(valid_from=failed.number).exists()
    sites.refresh_from_db()
    assert sites.current_version.number == first.number
    assert names_now(sites) == before


def test_allowing_large_removals_publishes_the_field_emptied(sites, tmp_path):
    ingest(sites, sites_csv(tmp_path, "site_name", NAMES, "first.csv"))

    version = ingest(
        sites,
        sites_csv(tmp_path, "Site Name", NAMES, "renamed.csv"),
        IngestMapping(reference="ref", allow_large_removal=True),
    )

    assert version.is_current and version.report["changed"] == 9
    assert not any(names_now(sites).values())


def test_a_renamed_column_mapped_back_to_the_field_publishes(sites, tmp_path):
    ingest(sites, sites_csv(tmp_path, "site_name", NAMES, "first.csv"))
    mapping = IngestMapping(reference="ref", rename={"Site Name": "site_name"})
    version = ingest(sites, sites_csv(tmp_path, "Site Name", NAMES, "renamed.csv"), mapping)
    assert version.is_current and version.report["unchanged"] == 10


def test_a_field_few_current_features_hold_does_not_block(sites, tmp_path):
    """Below the threshold the note on the run's page is enough: half the features or fewer
    hold a value."""
    half = [f"Site {number}" for number in range(5)] + [""] * 5
    ingest(sites, sites_csv(tmp_path, "site_name", half, "first.csv"))
    version = ingest(sites, sites_csv(tmp_path, "", half, "without.csv"))
    assert version.is_current and version.report["changed"] == 5
    assert any("No column of the source fills" in note for note in version.report["notes"])


def test_a_small_part_is_held_to_it_too(sites, tmp_path):
    """Unlike removals (a part of a few features may change wholesale), a field a small part's
    features hold is as much lost when a column goes."""
    named = [f"Site {number}" for number in range(9)] + ["Site 9"]
    small = tmp_path / "small.csv"
    small.write_text("ref,site_name,Easting,Northing\nA,Alpha,615000,157500\n", encoding="utf-8")
    ingest(sites, small)
    with pytest.raises(IngestRejected, match=r"site_name \(a value in 1 of the 1 current feature"):
        ingest(sites, sites_csv(tmp_path, "", named, "without.csv"))
    assert current_features(sites).get().properties["site_name"] == "Alpha"


def test_a_first_load_is_not_affected(sites, tmp_path):
    version = ingest(sites, sites_csv(tmp_path, "Site Name", NAMES, "first.csv"))
    assert version.is_current and version.report["added"] == 10


def test_only_the_part_the_load_replaces_is_counted(sites, personas, tmp_path):
    """Another publisher's features, named in full, do not hold back the first load of a part
    whose source has no name column."""
    named = sites_csv(tmp_path, "site_name", [f"Site {n}" for n in range(10)], "b.csv")
    ingest_run(
        actor=None, dataset=sites, connector_key="upload", config={"path": str(named)},
        mapping=IngestMapping(reference="ref"), organisation=personas.organisation_b,
    )  # fmt: skip

    version = ingest_run(
        actor=None, dataset=sites, connector_key="upload",
        config={"path": str(sites_csv(tmp_path, "", NAMES, "a.csv"))},
        mapping=IngestMapping(reference="ref"), organisation=personas.organisation_a,
    )  # fmt: skip

    assert version.is_current and version.report["added"] == 10
    assert current_features(sites).filter(properties__site_name__startswith="Site").count() == 10
