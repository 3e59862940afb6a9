"""A download of a dataset several organisations publish, loaded again: its organisation column
says whose part each row is. Loaded as one council's part, another council's rows are problems
of their rows and never that council's features; loaded for the whole dataset, each row goes to
the organisation it names, and nothing changes that was not changed in the file."""

import csv
import io
from pathlib import Path

import pytest

from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.models import VersionState
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import (
    SHARED_POINTS,
    shared_sites_make,
    version_publish_points,
)

pytestmark = pytest.mark.django_db

# SHARED_POINTS: both councils have S1, only A has S2. In the download, by reference, then
# organisation: row 1 is A's S1, row 2 B's S1, row 3 A's S2.
DOVER_ROW = 2


@pytest.fixture
def shared(personas):
    return shared_sites_make(personas.organisation_a, personas.organisation_b)


def download(client, tmp_path: Path, edit=None) -> Path:
    """The dataset's CSV download, each row (a dict) changed by ``edit`` first if given."""
    text = b"".join(client.get("/datasets/sites/download.csv").streaming_content).decode()
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    rows = list(reader)
    for row in rows:
        if edit is not None:
            edit(row)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "download.csv"
    path.write_text(out.getvalue())
    return path


def ingest(dataset, path: Path, share: float = 0.05, **kwargs):
    return ingest_run(
        actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
        mapping=IngestMapping(reference="reference", max_invalid_share=share), **kwargs,
    )  # fmt: skip


def live(dataset) -> dict[tuple[str, str], tuple[int, dict]]:
    """Each current feature by (organisation, reference): its row's id and its properties."""
    rows = current_features(dataset).values_list(
        "organisation__slug", "reference", "pk", "properties"
    )
    return {(slug, reference): (pk, properties) for slug, reference, pk, properties in rows}


def counts(version) -> tuple[int, int, int, int]:
    report = version.report
    return report["added"], report["changed"], report["removed"], report["unchanged"]


def test_loaded_as_a_part_another_councils_rows_are_refused_and_nothing_changes(
    shared, personas, client, tmp_path
):
    before = live(shared)
    current = shared.current_version
    path = download(client, tmp_path)

    with pytest.raises(IngestRejected, match=r"1 of 3 rows have problems") as rejected:
        ingest(shared, path, organisation=personas.organisation_a)

    failed = rejected.value.version
    assert failed.state == VersionState.FAILED
    problems = [(p["row"], p["field"], p["value"], p["problem"]) for p in failed.report["problems"]]
    assert problems == [
        (DOVER_ROW, "organisation", "org-b",
         "belongs to Organisation B's part (org-b); this load replaces Organisation A's part (org-a)"),
    ]  # fmt: skip
    current.refresh_from_db()
    assert current.is_current
    assert live(shared) == before


def test_under_the_threshold_another_councils_rows_are_left_out_and_its_part_kept(
    shared, personas, client, tmp_path
):
    before = live(shared)

    def rename(row: dict) -> None:
        row["name"] = f"{row['name']} ({row['organisation']})"

    version = ingest(
        shared, download(client, tmp_path, rename), share=0.5, organisation=personas.organisation_a
    )

    assert counts(version) == (0, 2, 0, 0)  # A's two sites renamed
    assert [p["row"] for p in version.report["problems"]] == [DOVER_ROW]
    after = live(shared)
    assert after[("org-b", "S1")] == before[("org-b", "S1")]  # Dover's site as it was
    assert after[("org-a", "S1")][1]["name"] == "S1 (org-a)"
    assert sorted(after) == sorted(before)


def test_loaded_for_the_whole_dataset_each_feature_stays_its_organisations(
    shared, client, tmp_path
):
    before = live(shared)
    version = ingest(shared, download(client, tmp_path))

    assert counts(version) == (0, 0, 0, 3)
    assert version.report["problems"] == []
    assert live(shared) == before
    assert any(
        "its organisation column as whose part of the dataset each row is" in note
        for note in version.report["notes"]
    )


def test_loaded_for_the_whole_dataset_a_row_may_move_and_an_unknown_one_is_a_problem(
    shared, client, tmp_path
):
    """A row changed to another publisher is that publisher's feature; a row naming none of the
    dataset's publishers is a problem; a row naming no organisation is the owner's."""

    def edit(row: dict) -> None:
        if (row["reference"], row["organisation"]) == ("S2", "org-a"):
            row["organisation"] = "org-b"
        elif row["organisation"] == "org-b":
            row["organisation"] = "nowhere"

    path = download(client, tmp_path, edit)
    with path.open("a") as more:
        more.write("S3,,Site 3,,,615200,157700,,,\n")

    version = ingest(shared, path, share=0.5)

    problems = [(p["row"], p["field"], p["value"]) for p in version.report["problems"]]
    assert problems == [(DOVER_ROW, "organisation", "nowhere")]
    assert version.report["kept"] == 1  # the slip takes no site off the map: B's S1 stays
    assert version.report["problems"][0]["problem"].startswith(
        "is not an organisation that publishes this dataset (org-a, org-b)"
    )
    assert sorted(live(shared)) == [
        ("org-a", "S1"), ("org-a", "S3"), ("org-b", "S1"), ("org-b", "S2"),
    ]  # fmt: skip


def test_a_property_called_organisation_loads_back_as_itself(shared, personas, client, tmp_path):
    for organisation, name in [
        (personas.organisation_a, "Canterbury City Council"),
        (personas.organisation_b, "Dover District Council"),
    ]:
        points = SHARED_POINTS[organisation.slug]
        version_publish_points(
            dataset=shared, points=points, organisation=organisation,
            properties={reference: {"organisation": name} for reference in points},
        )  # fmt: skip
    before = live(shared)
    path = download(client, tmp_path)
    assert "property_organisation" in path.read_text().splitlines()[0]

    version = ingest(shared, path)

    assert counts(version) == (0, 0, 0, 3)
    assert live(shared) == before
    assert before[("org-b", "S1")][1]["organisation"] == "Dover District Council"


def test_a_councils_own_file_naming_another_council_in_its_code_column_is_refused_that_row(
    shared, personas, tmp_path
):
    """A council's own register has no platform column: its rows name their council by the
    register's own code (a brownfield register's 'local-authority-eng:DOV'). A neighbour's row
    in it is a problem of its row, not published as the council's own; in a load of the whole
    dataset each row goes to the council its code names."""
    shared.field_schema = [
        {"name": "name", "type": "string", "title": "Name"},
        {"name": "authority", "type": "string", "title": "Planning authority"},
    ]
    shared.part_codes = {"field": "authority", "codes": {"LA:A": "org-a", "LA:B": "org-b"}}
    shared.save(update_fields=["field_schema", "part_codes"])
    path = tmp_path / "register.csv"
    path.write_text(
        "reference,authority,name,Easting,Northing\n"
        "S1,LA:A,Own site,615000,157500\n"
        "N1,la:b,Neighbour's site,631600,140900\n"
        "S3,,No code,615200,157700\n"
    )
    before = live(shared)

    version = ingest(shared, path, share=0.5, organisation=personas.organisation_a)

    (problem,) = version.report["problems"]
    assert (problem["row"], problem["field"], problem["value"]) == (2, "authority", "la:b")
    assert problem["problem"] == (
        f"belongs to {personas.organisation_b.name}'s part (org-b); this load replaces "
        f"{personas.organisation_a.name}'s part (org-a)"
    )
    after = live(shared)
    assert {key for key in after if key[0] == "org-a"} == {("org-a", "S1"), ("org-a", "S3")}
    # The neighbour's part is as it was.
    assert {k: v for k, v in after.items() if k[0] == "org-b"} == {
        k: v for k, v in before.items() if k[0] == "org-b"
    }

    # Loaded for the whole dataset (by its owner), each row goes to the council its code names.
    whole = tmp_path / "whole.csv"
    whole.write_text(
        "reference,authority,name,Easting,Northing\n"
        "S1,LA:A,Own site,615000,157500\n"
        "N1,LA:B,Neighbour's site,631600,140900\n"
    )
    version = ingest(shared, whole, share=0.5)
    assert version.report["problems"] == []
    assert set(live(shared)) == {("org-a", "S1"), ("org-b", "N1")}
