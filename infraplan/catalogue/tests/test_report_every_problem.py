"""A load's report names every problem row and field: its page and CSV list them all, however
many there are and whether the load published, was rejected or could not read its source to
the end, while the version's report (which pages load) keeps only the first ones."""

import csv
import html
import io
import re
from pathlib import Path

import pytest
from django.db import connection

from infraplan.catalogue import ingest_rows
from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.models import VersionProblem, VersionState
from infraplan.catalogue.publishing import version_attempt_discard
from infraplan.connectors.base import ConnectorError
from infraplan.connectors.upload import UploadConnector
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db

# What the report keeps in these tests, in place of the thousands a real load keeps.
KEPT = 3
COLUMNS = ["row", "reference", "field", "value", "problem"]
# Eight rows, six with problems: seven problems, found in this order as the rows are read,
# then by the checks of the staged rows (row 6 lies in the sea, row 5 repeats row 2's
# reference). Row 3 has two, in fields that sort one way by character ("Zone" before
# "homes") and the other in English.
SOURCE = (
    "ref,homes,Zone,Easting,Northing\n"
    "S1,about 40,A,615000,157500\n"
    "S2,12,A,615100,157600\n"
    "S3,many,Q,615200,157700\n"
    ",5,A,615300,157800\n"
    "S2,7,A,615400,157900\n"
    "S6,3,A,10000,10000\n"
    "S7,4,A,615500,158000\n"
    "S8,x,A,615600,158100\n"
)
SEA = "lies outside Great Britain (in British National Grid, E 10000 N 10000)"
# Every problem, in row and field order.
PROBLEMS = [
    ["1", "S1", "homes", "about 40", "'about 40' is not a whole number"],
    ["3", "S3", "Zone", "Q", "is not one of: A, B"],
    ["3", "S3", "homes", "many", "'many' is not a whole number"],
    ["4", "", "ref", "", "the reference is empty"],
    ["5", "S2", "reference", "S2", "reference 'S2' is also on row 2"],
    ["6", "S6", "geometry", "POINT(10000 10000)", SEA],
    ["8", "S8", "homes", "x", "'x' is not a whole number"],
]
KEPT_S1 = " (feature 'S1' is kept as the current version has it)"


@pytest.fixture(autouse=True)
def few_kept(monkeypatch):
    monkeypatch.setattr(ingest_rows, "REPORT_PROBLEMS_KEPT", KEPT)


@pytest.fixture
def sites(personas):
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[
            {"name": "ref", "type": "string", "title": "Reference", "required": True},
            {"name": "homes", "type": "integer", "title": "Homes"},
            {"name": "Zone", "type": "string", "title": "Zone", "allowed": ["A", "B"]},
        ],
    )  # fmt: skip
    version_publish_points(dataset=dataset, points={"S1": (615000, 157500)})
    return dataset


def load(dataset, tmp_path: Path, share: float, **config):
    path = tmp_path / "sites.csv"
    path.write_text(SOURCE)
    return ingest_run(
        actor=None, dataset=dataset, connector_key="upload",
        config={"path": str(path), **config},
        mapping=IngestMapping(reference="ref", max_invalid_share=share),
    )  # fmt: skip


def report_csv(client, version) -> list[list[str]]:
    response = client.get(f"/datasets/sites/versions/{version.number}/report.csv")
    assert response.status_code == 200
    content = response.getvalue()
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def page_text(client, version) -> str:
    response = client.get(f"/datasets/sites/versions/{version.number}/")
    assert response.status_code == 200
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def test_a_published_load_lists_every_problem_beyond_those_its_report_keeps(
    sites, personas, client_as, tmp_path
):
    version = load(sites, tmp_path, share=0.8)

    assert version.is_current
    report = version.report
    assert report["problem_count"] == 7 and len(report["problems"]) == KEPT
    # The row whose feature was kept says so, in the report and in the list of every problem.
    kept = [[*PROBLEMS[0][:4], PROBLEMS[0][4] + KEPT_S1], *PROBLEMS[1:]]
    assert report["problems"][0]["problem"] == kept[0][4]
    client = client_as(personas.contributor_a)
    assert report_csv(client, version) == [COLUMNS, *kept]  # and nothing said "not listed"
    page = page_text(client, version)
    assert "7 problems found, every one listed below and in the report's CSV." in page
    assert "'x' is not a whole number" in page and "list the first" not in page


def test_a_rejected_load_lists_every_problem(sites, personas, client_as, tmp_path):
    with pytest.raises(IngestRejected, match="6 of 8 rows have problems") as rejected:
        load(sites, tmp_path, share=0.0)

    failed = rejected.value.version
    assert failed.state == VersionState.FAILED and failed.report["rejected"] is True
    assert failed.report["problem_count"] == 7 and len(failed.report["problems"]) == KEPT
    client = client_as(personas.contributor_a)
    assert report_csv(client, failed) == [COLUMNS, *PROBLEMS]
    assert "7 problems found, every one listed below" in page_text(client, failed)
    # Discarded (an attempt tried again), or deleted with its dataset: nothing is left behind.
    assert VersionProblem.objects.filter(version=failed).count() == 7
    version_attempt_discard(failed)
    assert not VersionProblem.objects.exists()


def test_a_published_loads_problems_go_with_its_dataset(sites, tmp_path):
    version = load(sites, tmp_path, share=0.8)
    assert VersionProblem.objects.filter(version=version).count() == 7
    with connection.cursor() as cursor:
        # As when the load has committed: its features' deferred checks done, the dataset's
        # partition can be dropped with it.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    sites.delete()
    assert not VersionProblem.objects.exists()


def test_a_source_failing_part_way_keeps_the_problems_it_found(sites, monkeypatch, tmp_path):
    """Rows read before the source failed were never staged: their problems are kept without
    references, as the report has them."""
    read = UploadConnector.batches

    def cut_short(self, config, context):
        batches = read(self, config, context)
        yield next(batches)
        yield next(batches)
        raise ConnectorError("The file ends part-way through row 5.", temporary=True)

    monkeypatch.setattr(UploadConnector, "batches", cut_short)
    with pytest.raises(IngestRejected, match="part-way") as rejected:
        load(sites, tmp_path, share=0.8, batch_size=2)

    failed = rejected.value.version
    assert failed.report["problem_count"] == 4 and len(failed.report["problems"]) == KEPT
    stored = VersionProblem.objects.filter(version=failed).order_by("row", "field", "id")
    assert [[str(p.row), p.reference, p.field, p.value, p.problem] for p in stored] == [
        [row, "", field, value, problem] for row, _, field, value, problem in PROBLEMS[:4]
    ]
    version_attempt_discard(failed)  # a temporary failure, tried again
    assert not VersionProblem.objects.exists()
