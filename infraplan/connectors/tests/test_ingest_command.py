"""``infraplan ingest`` as an operator runs it: a real process on the test database."""

import os
import subprocess
from pathlib import Path

import pytest

from infraplan.catalogue.models import VersionState
from infraplan.catalogue.store import current_features
from infraplan.connectors.models import IngestRun
from infraplan.core.testing.data import dataset_make, version_publish_points
from tests.test_queue import INFRAPLAN, database_url_of_tests

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


def ingest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [INFRAPLAN, "ingest", *args],
        env={**os.environ, "DATABASE_URL": database_url_of_tests(),
             "UPLOAD_ROOT": str(tmp_path / "uploads")},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_a_file_is_loaded_and_the_report_printed(sites, tmp_path):
    version_publish_points(dataset=sites, points={"S1": (615000, 157500), "OLD": (615000, 157000)})
    path = tmp_path / "sites.csv"
    path.write_text("ref,Easting,Northing\nS1,615000,157500\nS2,615100,157600\n,1,1\n")
    done = ingest(tmp_path, str(path), "--dataset", "sites", "--reference", "ref",
                  "--max-invalid-share", "0.4")  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  reading: 3 rows" in lines and "  publishing: 3 rows" in lines
    assert "Published version 2 of sites." in lines
    assert "  added 1, changed 1, removed 1, unchanged 0" in lines
    assert "  rows read 3, left out 1, geometries repaired 0, problems 1" in lines
    assert "  row 3, ref '': the reference is empty" in lines
    assert sorted(current_features(sites).values_list("reference", flat=True)) == ["S1", "S2"]
    run = IngestRun.objects.get()
    assert (run.state, run.job_id, run.connector_key) == ("published", None, "upload")
    # The pipeline read a copy in private storage, not the operator's file, and deleted the
    # copy once loaded; the operator's file is left alone.
    assert run.config["path"].startswith(str(tmp_path / "uploads" / "cli"))
    assert not Path(run.config["path"]).exists() and path.exists()


def test_a_rejected_load_exits_non_zero_with_the_reason(sites, tmp_path):
    version_publish_points(dataset=sites, points={"S1": (615000, 157500)})
    path = tmp_path / "sites.csv"
    lines = [f"S{n},615000,157500" for n in range(30)] + ["SEA,720000,50000"]
    path.write_text("ref,Easting,Northing\n" + "\n".join(lines) + "\n")
    done = ingest(tmp_path, str(path), "--dataset", "sites", "--reference", "ref")
    assert done.returncode == 1
    assert "Load rejected: 1 of 31 rows have problems (3.2%), over the 0% allowed." in done.stderr
    assert "  row 31, geometry 'POINT(720000 50000)': lies outside Great Britain" in done.stdout
    assert "Published" not in done.stdout
    assert sites.current_version.number == 1 and current_features(sites).count() == 1
    assert sites.versions.get(number=2).state == VersionState.FAILED
    # With a threshold the same file passes, leaving the bad row out.
    done = ingest(tmp_path, str(path), "--dataset", "sites", "--reference", "ref",
                  "--max-invalid-share", "0.05")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert current_features(sites).count() == 30


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv", "--dataset", "sites"], "missing.csv is not a file."),
        (["{file}", "--dataset", "nope"], "There is no dataset 'nope'."),
        (["{file}", "--dataset", "sites", "--organisation", "nope"],
         "There is no organisation 'nope'."),
        (["{file}", "--dataset", "sites", "--option", "colour"], "--option 'colour' is not key=value."),
        (["{file}", "--dataset", "sites", "--option", "colour=red"],
         "colour: Extra inputs are not permitted"),
        (["{file}", "--dataset", "sites", "--max-invalid-share", "2"],
         "--max-invalid-share: 1 validation error"),
        (["https://example.org/a.geojson", "--dataset", "sites", "--connector", "nope"],
         "needs the 'nope' connector, which this installation does not have"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_with_nothing_loaded(sites, tmp_path, args, message):
    path = tmp_path / "a.csv"
    path.write_text("reference,Easting,Northing\nA,615000,157500\n")
    done = ingest(tmp_path, *[arg.format(file=path) for arg in args])
    assert done.returncode == 1
    assert message in done.stderr
    assert not IngestRun.objects.exists() and not sites.versions.exists()


def test_a_file_the_connector_cannot_read_fails(sites, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("name,colour\nA,red\n")
    done = ingest(tmp_path, str(path), "--dataset", "sites")
    assert done.returncode == 1
    assert "Load failed: The table has no coordinate columns" in done.stderr
    assert IngestRun.objects.get().state == "failed" and sites.current_version is None
