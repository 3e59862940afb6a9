"""``infraplan ingest`` as an operator runs it: a real process on the test database."""

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infraplan.catalogue.models import VersionState
from infraplan.catalogue.store import current_features
from infraplan.connectors.models import IngestRun, Source
from infraplan.connectors.schedules import schedule_next
from infraplan.connectors.tests.servers import replay_server, slow
from infraplan.core.testing.data import dataset_make, version_publish_points
from tests.test_queue import INFRAPLAN, database_url_of_tests

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


def command_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ, "DATABASE_URL": database_url_of_tests(),
        "UPLOAD_ROOT": str(tmp_path / "uploads"),
        # The test server listens on 127.0.0.1, which settings can allow; sources saved with
        # example.org addresses are never fetched.
        "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1,example.org", "OUTBOUND_PRIVATE_HOSTS": "127.0.0.1",
    }  # fmt: skip


def ingest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [INFRAPLAN, "ingest", *args], env=command_env(tmp_path),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_a_file_is_loaded_and_the_report_printed(sites, tmp_path):
    version_publish_points(dataset=sites, points={"S1": (615000, 157500), "OLD": (615000, 157000)})
    path = tmp_path / "sites.csv"
    path.write_text("ref,Easting,Northing\nS1,615000,157500\nS2,615100,157600\n,1,1\n")
    done = ingest(tmp_path, str(path), "--dataset", "sites", "--reference", "ref",
                  "--threshold", "40")  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.startswith("  ") and ": 3 rows" in line] == [
        "  reading: 3 rows", "  checking: 3 rows", "  publishing: 3 rows",
    ]  # fmt: skip
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
    done = ingest(tmp_path, str(path), "--dataset", "sites", "--reference", "ref",
                  "--threshold", "2.5%")  # fmt: skip
    assert done.returncode == 1
    assert "Load rejected: 1 of 31 rows have problems (3.2%), over the 2.5% allowed." in done.stderr
    assert "  row 31, geometry 'POINT(720000 50000)': lies outside Great Britain" in done.stdout
    assert "Published" not in done.stdout
    assert sites.current_version.number == 1 and current_features(sites).count() == 1
    assert sites.versions.get(number=2).state == VersionState.FAILED
    # Under the default threshold, 5% as on the upload page, the same file passes, leaving the
    # bad row out.
    done = ingest(tmp_path, str(path), "--dataset", "sites", "--reference", "ref")
    assert done.returncode == 0, done.stderr
    assert current_features(sites).count() == 30


def test_a_threshold_that_is_not_a_percentage_is_refused(sites, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("reference,Easting,Northing\nA,615000,157500\n")
    for threshold in ("200", "5%%", "-1"):
        done = ingest(tmp_path, str(path), "--dataset", "sites", "--threshold", threshold)
        assert done.returncode == 2
        assert (
            f"argument --threshold: {threshold!r} is not a percentage from 0 to 100, like 5"
        ) in done.stderr
    assert not IngestRun.objects.exists()


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
        (["{file}", "--dataset", "sites", "--cast", "units=colour"],
         "--cast units: Input should be 'string', 'integer', 'number', 'boolean' or 'date'."),
        (["{file}", "--dataset", "sites", "--rename", "Site ref"],
         "--rename 'Site ref' is not key=value."),
        (["https://example.org/a.geojson", "--dataset", "sites", "--connector", "nope"],
         "needs the 'nope' connector, which this installation does not have"),
        (["{file}", "--dataset", "sites", "--schedule", "weekly"], "--schedule needs --save."),
        (["{file}", "--dataset", "sites", "--disabled"], "--enabled/--disabled needs --save."),
        (["{file}", "--dataset", "sites", "--no-load"], "--no-load needs --save"),
        (["{file}", "--dataset", "sites", "--save"],
         "is not an http(s) URL: a source that is saved or fetched from a service needs its "
         "address; a file on this machine is loaded without --save."),
        (["{file}", "--dataset", "sites", "--connector", "wfs"], "is not an http(s) URL"),
        (["https://example.org/a.csv", "--dataset", "sites", "--save", "--schedule", "tuesdays"],
         "'tuesdays' is not a schedule: use daily, weekly, monthly or a cron expression"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_with_nothing_loaded(sites, tmp_path, args, message):
    path = tmp_path / "a.csv"
    path.write_text("reference,Easting,Northing\nA,615000,157500\n")
    done = ingest(tmp_path, *[arg.format(file=path) for arg in args])
    assert done.returncode == 1
    assert message in done.stderr
    assert not IngestRun.objects.exists() and not sites.versions.exists()
    assert not Source.objects.exists()


SITES_CSV = "Site ref,Easting,Northing,Units\nS1,615000,157500,12\nS2,615100,157600,8\n"


def test_a_source_is_saved_with_its_mapping_and_schedule_and_loaded(sites, tmp_path):
    with replay_server(lambda path, query: (200, "text/csv", SITES_CSV.encode())) as server:
        url = f"{server.url}/sites.csv"
        done = ingest(tmp_path, url, "--dataset", "sites", "--rename", "Site ref=ref",
                      "--reference", "ref", "--cast", "Units=integer", "--constant",
                      "status=allocated", "--save", "--schedule", "weekly")  # fmt: skip
        assert done.returncode == 0, done.stderr
        source = Source.objects.get()
        first = done.stdout.splitlines()[0]
        assert first == (f"Saved the source of sites (refreshed weekly; next "
                         f"{source.next_run_at:%Y-%m-%d} 02:00 UTC).")  # fmt: skip
        assert "Published version 1 of sites." in done.stdout
        assert (source.connector_key, source.config["url"], source.schedule) == (
            "url",
            url,
            "weekly",
        )
        assert source.mapping["rename"] == {"Site ref": "ref"}
        assert source.mapping["casts"] == {"Units": "integer"}
        assert source.mapping["constants"] == {"status": "allocated"}
        assert (
            abs(source.next_run_at - schedule_next("weekly", source.created_at)).total_seconds()
            < 60
        )
        assert source.next_run_at.weekday() == 0 and source.enabled
        run = IngestRun.objects.get()
        assert run.source == source and source.last_run_id == run.pk
        properties = dict(current_features(sites).values_list("reference", "properties"))
        assert properties["S1"]["Units"] == 12 and properties["S2"]["status"] == "allocated"

        # Switched off without loading: the schedule and the mapping not given are kept,
        # nothing runs.
        done = ingest(tmp_path, url, "--dataset", "sites", "--rename", "Site ref=ref",
                      "--reference", "ref", "--save", "--disabled", "--no-load")  # fmt: skip
        assert done.returncode == 0, done.stderr
        kept = (
            "  kept: the url settings, reference column ref, renames Site ref=ref, casts "
            "Units=integer, constants status=allocated, rejection threshold 5%, large removals "
            "refused\n"
        )
        assert (
            done.stdout == "Changed the source of sites (schedule weekly, switched off).\n" + kept
        )
        source.refresh_from_db()
        assert (source.schedule, source.enabled, source.mapping["casts"]) == (
            "weekly",
            False,
            {"Units": "integer"},
        )
        # By hand only: no next run.
        done = ingest(tmp_path, url, "--dataset", "sites", "--save", "--schedule", "none",
                      "--no-load")  # fmt: skip
        assert done.stdout == "Changed the source of sites (refreshed by hand only).\n" + kept
        source.refresh_from_db()
        assert (source.schedule, source.next_run_at) == ("", None)
        assert IngestRun.objects.count() == 1 and sites.versions.count() == 1
    assert len(server.requests) == 1


def test_a_cron_schedule_is_saved_for_one_organisations_part(sites, personas, tmp_path):
    done = ingest(tmp_path, "https://example.org/sites.csv", "--dataset", "sites",
                  "--organisation", personas.organisation_a.slug, "--save",
                  "--schedule", "30 6 * * 1-5", "--no-load")  # fmt: skip
    assert done.returncode == 0, done.stderr
    source = Source.objects.get()
    assert source.organisation == personas.organisation_a and source.schedule == "30 6 * * 1-5"
    assert source.next_run_at > datetime.now(UTC) and source.next_run_at.minute == 30
    assert f"Saved the source of {personas.organisation_a}'s part of sites" in done.stdout
    assert not IngestRun.objects.exists()


def test_a_file_the_connector_cannot_read_fails(sites, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("name,colour\nA,red\n")
    done = ingest(tmp_path, str(path), "--dataset", "sites")
    assert done.returncode == 1
    assert "Load failed: The table has no coordinate columns" in done.stderr
    assert IngestRun.objects.get().state == "failed" and sites.current_version is None


# Starts a command as a terminal starts one in the foreground: with Ctrl-C's signal (SIGINT) at
# its default, whatever this process inherited. An ignored SIGINT survives exec, and Python then
# leaves it ignored (no KeyboardInterrupt); a shell ignores it in every command it runs in the
# background without job control (`make test > log &` in a script), so a suite started that
# way would send Ctrl-C to a command that cannot hear it, and see the load publish.
IN_THE_FOREGROUND = [
    sys.executable, "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])",
]  # fmt: skip


def test_ctrl_c_ends_the_load_as_failed_at_once_leaving_the_version_before(sites, tmp_path):
    """Interrupted while it reads a slow service: the run and its draft are failed there and
    then (not left running until a worker's sweep), and the version before stays current."""
    before = version_publish_points(dataset=sites, points={"S1": (615000, 157500)})
    started = threading.Event()

    def route(path, query):
        started.set()
        return slow(30, (200, "text/csv", b"ref,Easting,Northing\nS2,615100,157600\n"))

    with replay_server(route) as server:
        process = subprocess.Popen(
            [*IN_THE_FOREGROUND, INFRAPLAN, "ingest", f"{server.url}/sites.csv",
             "--dataset", "sites", "--reference", "ref"],
            env=command_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert started.wait(60), "the command never asked for the file"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout + stderr
    run = IngestRun.objects.get()
    assert f"Interrupted: the load (run {run.pk}) is marked failed" in stderr
    assert run.state == "failed" and run.finished_at is not None
    assert run.error.startswith("Interrupted (ctrl-c) before it finished")
    assert run.version.state == VersionState.FAILED
    assert "interrupted" in run.version.report["error"]
    before.refresh_from_db()
    assert before.is_current
    assert list(current_features(sites).values_list("reference", flat=True)) == ["S1"]


def test_a_saved_sources_threshold_is_kept_unless_one_is_given(sites, tmp_path):
    url = "https://example.org/sites.csv"
    saved = ingest(tmp_path, url, "--dataset", "sites", "--reference", "ref", "--save",
                   "--no-load", "--threshold", "12.5")  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    assert Source.objects.get().mapping["max_invalid_share"] == 0.125
    again = ingest(tmp_path, url, "--dataset", "sites", "--reference", "ref", "--save",
                   "--no-load", "--schedule", "weekly")  # fmt: skip
    assert again.returncode == 0, again.stderr
    source = Source.objects.get()
    assert source.schedule == "weekly" and source.mapping["max_invalid_share"] == 0.125


def test_a_load_is_recorded_as_the_account_by_names_if_it_may_load(sites, personas, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("ref,Easting,Northing\nS1,615000,157500\n")
    for email, said in [
        ("nobody@a.example", "--by: there is no active account 'nobody@a.example'."),
        ("viewer@a.example", "--by: viewer@a.example may not load into sites."),
    ]:
        refused = ingest(tmp_path, str(path), "--dataset", "sites", "--reference", "ref",
                         "--by", email)  # fmt: skip
        assert refused.returncode == 1 and said in refused.stderr
    assert not IngestRun.objects.exists()

    done = ingest(tmp_path, str(path), "--dataset", "sites", "--reference", "ref",
                  "--by", "Data-Manager@a.example")  # fmt: skip
    assert done.returncode == 0, done.stderr
    version = sites.current_version
    assert version.created_by == personas.data_manager_a
    assert IngestRun.objects.get().requested_by == personas.data_manager_a
