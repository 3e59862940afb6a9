"""Loads under pressure: "Refresh now" pressed twice at once, a sweep in the instant a load
publishes, a source whose saved settings the dataset has outgrown or whose stored schedule never
comes round, a job the task queue gave up, a source switched back on, times across summer time,
and the command line refusing a load. Each holds the promise that a load is never doubled, never
lost and never left waiting for ever, and that the officer is told what to change."""

import html
import os
import re
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

import infraplan.connectors.run_execution as run_execution
from infraplan.accounts.services import organisations_sync_from_profile
from infraplan.audit.models import AuditEntry
from infraplan.catalogue.ingest import IngestMapping
from infraplan.catalogue.services import dataset_save
from infraplan.connectors.load_requests import ingest_request
from infraplan.connectors.models import IngestRun, RunState, Source
from infraplan.connectors.national import national_sources_sync
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.connectors.run_sweep import ingest_runs_sweep
from infraplan.connectors.schedules import schedule_next
from infraplan.connectors.sources import source_refresh_due, source_save
from infraplan.core.testing.data import dataset_make
from tests.test_queue import INFRAPLAN, database_url_of_tests

pytestmark = pytest.mark.django_db(transaction=True)
REFERENCE = IngestMapping(reference="ref")
STATUS = {"name": "status", "type": "string", "title": "Status"}


@pytest.fixture
def sites(personas):
    return dataset_make(
        slug="sites", owner=personas.organisation_a, access_level="organisations",
        field_schema=[{**STATUS, "allowed": ["allocated", "permissioned"]}],
    )  # fmt: skip


def own_connection() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"],
        port=db["PORT"] or None,
    )  # fmt: skip


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def test_refresh_now_pressed_twice_at_once_queues_one_load(sites, personas, client_as):
    source = source_save(actor=personas.data_manager_a, dataset=sites, connector_key="url",
                         config={"url": "https://example.org/sites.geojson"},
                         mapping=REFERENCE, schedule="daily")  # fmt: skip
    url = f"/datasets/sites/sources/{source.pk}/refresh/"
    answers = []

    def press() -> None:
        try:
            answers.append(client_as(personas.data_manager_a).post(url))
        finally:
            connection.close()

    # Both presses read the source before either has queued its load, as two requests a
    # moment apart do: another transaction holds the source's row until both are in.
    with own_connection() as holder, own_connection() as watcher:
        watcher.autocommit = True  # in a transaction, pg_stat_activity keeps its first snapshot
        holder.execute("SELECT 1 FROM connectors_source WHERE id = %s FOR UPDATE", (source.pk,))
        presses = [threading.Thread(target=press) for _ in range(2)]
        for thread in presses:
            thread.start()
        deadline = time.monotonic() + 30
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        while watcher.execute(waiting).fetchone()[0] < 2:
            assert time.monotonic() < deadline and not answers, "both presses never waited"
            time.sleep(0.05)
        holder.rollback()
        for thread in presses:
            thread.join(timeout=30)
    assert [answer.status_code for answer in answers] == [302, 302]
    run = IngestRun.objects.get()
    assert {answer["Location"] for answer in answers} == {f"/datasets/sites/runs/{run.pk}/"}
    assert ProcrastinateJob.objects.filter(args={"run_id": run.pk}).count() == 1
    assert AuditEntry.objects.filter(action="ingest.request").count() == 1
    # Settings changed since the waiting load was asked for are a new load, queued behind it.
    source = source_save(actor=personas.data_manager_a, dataset=sites, connector_key="url",
                         config={"url": "https://example.org/other.geojson"},
                         mapping=REFERENCE, schedule="daily", source=source)  # fmt: skip
    again = ingest_request(actor=personas.data_manager_a, dataset=sites, connector_key="url",
                           config=source.config, mapping=source.mapping, source=source)  # fmt: skip
    assert again.pk != run.pk and again.config["url"].endswith("other.geojson")


def test_a_sweep_in_the_instant_a_load_publishes_leaves_it_published(sites, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("ref,Easting,Northing\nS1,615000,157500\n")
    run = ingest_request(actor=None, dataset=sites, connector_key="upload",
                         config={"path": str(path)}, mapping=REFERENCE)  # fmt: skip
    swept = []
    leave = run_execution.RunProgress.__exit__

    def sweep_as_the_lock_goes(self, *exc_info):
        leave(self, *exc_info)
        swept.extend(ingest_runs_sweep())  # the minute tick, in another worker, just then

    run_execution.RunProgress.__exit__ = sweep_as_the_lock_goes
    try:
        run = ingest_run_execute(run.pk)
    finally:
        run_execution.RunProgress.__exit__ = leave
    run.refresh_from_db()
    assert swept == []
    assert (run.state, run.error) == (RunState.PUBLISHED, "")
    assert run.version.is_current
    assert not AuditEntry.objects.filter(action="ingest.abandon").exists()


def test_a_source_the_dataset_has_outgrown_fails_with_the_reason_and_holds_up_no_other(
    sites, personas, client_as
):
    sites.contributing_organisations.add(personas.organisation_b)  # B loads its part
    manager = personas.data_manager_a
    outgrown = source_save(
        actor=manager, dataset=sites, connector_key="url",
        config={"url": "https://example.org/a.geojson"}, schedule="daily",
        mapping={"reference": "ref", "constants": {"status": "allocated"}},
    )  # fmt: skip
    fine = source_save(actor=manager, dataset=sites, connector_key="url",
                       config={"url": "https://example.org/b.geojson"}, mapping=REFERENCE,
                       schedule="daily", organisation=personas.organisation_b)  # fmt: skip
    # The dataset's data manager narrows the allowed statuses after the source was saved.
    dataset_save(actor=manager, slug="sites", owner=sites.owner,
                 field_schema=[{**STATUS, "allowed": ["permissioned"]}])  # fmt: skip
    Source.objects.update(next_run_at=timezone.now() - timedelta(minutes=1))

    runs = source_refresh_due()
    assert len(runs) == 2
    outgrown.refresh_from_db()
    fine.refresh_from_db()
    assert fine.last_run.state == RunState.QUEUED and fine.last_run.job_id
    failed = outgrown.last_run
    assert (failed.state, failed.job_id) == (RunState.FAILED, None)
    assert failed.error == (
        "The load did not start: its saved settings no longer pass their checks: The column "
        "mapping is not valid: the constant for status: 'allocated' is not one of: "
        "permissioned. Change the source's settings, then load it again."
    )
    assert outgrown.next_run_at > timezone.now()  # tried again tomorrow, not every minute
    page = text(client_as(manager).get("/datasets/sites/"))
    assert "'allocated' is not one of: permissioned. Change the source's settings" in page

    # "Refresh now" says the same on the load's page, rather than failing the request.
    response = client_as(manager).post(f"/datasets/sites/sources/{outgrown.pk}/refresh/")
    assert response.status_code == 302
    page = text(client_as(manager).get(response["Location"]))
    assert "The load failed" in page and "Change the source's settings" in page
    assert "Nothing of Sites is published yet: it has no current version." in page


def test_a_load_whose_job_the_queue_gave_up_does_not_wait_for_ever(sites, personas, client_as):
    sites.contributing_organisations.add(personas.organisation_b)  # B loads its part
    source = source_save(actor=personas.data_manager_a, dataset=sites, connector_key="url",
                         config={"url": "https://example.org/a.geojson"},
                         mapping=REFERENCE)  # fmt: skip
    cancelled = ingest_request(actor=None, dataset=sites, connector_key="url",
                               config=source.config, mapping=source.mapping,
                               source=source)  # fmt: skip
    assert app.job_manager.cancel_job_by_id(cancelled.job_id)
    waiting = ingest_request(actor=None, dataset=sites, connector_key="upload",
                             config={"path": "/nowhere/a.csv"}, mapping=REFERENCE)  # fmt: skip
    # Taken by a worker that was killed before the load began; procrastinate has since
    # pruned the silent worker.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = NULL WHERE id = %s",
            [waiting.job_id],
        )
    # Recorded by the command line, which died before it began (and one it is just beginning).
    orphan = ingest_request(actor=None, dataset=sites, connector_key="url", config=source.config,
                            mapping=source.mapping, queue=False)  # fmt: skip
    IngestRun.objects.filter(pk=orphan.pk).update(created_at=timezone.now() - timedelta(hours=1))
    beginning = ingest_request(actor=None, dataset=sites, connector_key="url",
                               config=source.config, mapping=source.mapping, queue=False)  # fmt: skip
    untouched = ingest_request(actor=None, dataset=sites, connector_key="upload",
                               config={"path": "/nowhere/b.csv"}, mapping=REFERENCE,
                               organisation=personas.organisation_b)  # fmt: skip

    swept = ingest_runs_sweep()
    assert sorted(run.pk for run in swept) == [cancelled.pk, waiting.pk, orphan.pk]
    for run, why in [
        (cancelled, "its task-queue job was cancelled"),
        (waiting, "the worker that took it stopped before it began"),
        (orphan, "the command that asked for it ended before it began"),
    ]:
        run.refresh_from_db()
        assert (run.state, run.error) == (
            RunState.FAILED,
            f"The load never started: {why}. Ask for the load again.",
        )
    assert ProcrastinateJob.objects.get(pk=waiting.job_id).status == "failed"
    for run in (untouched, beginning):
        run.refresh_from_db()
        assert run.state == RunState.QUEUED
    assert AuditEntry.objects.filter(action="ingest.abandon").count() == 3
    # Asked for by nobody signed in, without a job: not only "a schedule".
    page = text(client_as(personas.data_manager_a).get(f"/datasets/sites/runs/{orphan.pk}/"))
    assert "Asked for by The platform (a schedule, or the command line on its server)" in page
    # The source is no longer "already loading": Refresh now queues a new load.
    response = client_as(personas.data_manager_a).post(
        f"/datasets/sites/sources/{source.pk}/refresh/"
    )
    fresh = IngestRun.objects.filter(source=source).order_by("-id").first()
    assert fresh.pk != cancelled.pk and fresh.state == RunState.QUEUED
    assert response["Location"] == f"/datasets/sites/runs/{fresh.pk}/"


def test_a_refused_command_line_load_keeps_no_copy_of_the_file(sites, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("ref,Easting,Northing\nS1,615000,157500\n")
    uploads = tmp_path / "uploads"
    done = subprocess.run(
        [INFRAPLAN, "ingest", str(path), "--dataset", "sites", "--reference", "ref",
         "--option", "colour=red"],
        env={**os.environ, "DATABASE_URL": database_url_of_tests(), "UPLOAD_ROOT": str(uploads)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "colour: Extra inputs are not permitted" in done.stderr
    assert [item for item in uploads.rglob("*") if item.is_file()] == []
    assert not IngestRun.objects.exists() and not sites.versions.exists()
    assert path.exists()


def test_times_of_loads_say_whether_they_are_in_summer_time(sites, personas, client_as):
    """Schedules are set in UTC; the pages show London time, so they say which it is: 02:00
    UTC is 03:00 BST in June and 02:00 GMT in December."""
    organisations_sync_from_profile(actor=None)
    [source, *_] = national_sources_sync(actor=None)
    Source.objects.filter(pk=source.pk).update(
        enabled=True, schedule="weekly", next_run_at=datetime(2027, 6, 7, 2, 0, tzinfo=UTC)
    )
    page = text(client_as(personas.platform_admin).get("/datasets/national/"))
    assert "Next load 7 June 2027 03:00 BST" in page
    Source.objects.filter(pk=source.pk).update(next_run_at=datetime(2027, 12, 6, 2, tzinfo=UTC))
    page = text(client_as(personas.platform_admin).get("/datasets/national/"))
    assert "Next load 6 December 2027 02:00 GMT" in page

    run = ingest_request(actor=None, dataset=sites, connector_key="url",
                         config={"url": "https://example.org/a.geojson"},
                         mapping=REFERENCE)  # fmt: skip
    IngestRun.objects.filter(pk=run.pk).update(
        retry_at=datetime(2027, 6, 7, 2, 30, tzinfo=UTC), attempts=1,
        error="example.org answered HTTP 503 for https://example.org/a.geojson.",
    )  # fmt: skip
    page = text(client_as(personas.data_manager_a).get(f"/datasets/sites/runs/{run.pk}/"))
    assert "An attempt failed and it will try again at 03:30 BST : example.org answered" in page


def test_a_source_switched_back_on_waits_for_its_next_scheduled_time(sites, personas):
    manager = personas.data_manager_a
    settings = {"dataset": sites, "connector_key": "url", "mapping": REFERENCE,
                "config": {"url": "https://example.org/a.geojson"}, "schedule": "weekly"}  # fmt: skip
    source = source_save(actor=manager, **settings)
    source = source_save(actor=manager, enabled=False, source=source, **settings)
    # Switched off for a month: the Monday it would have loaded on has gone by.
    Source.objects.filter(pk=source.pk).update(next_run_at=timezone.now() - timedelta(days=30))
    source = source_save(actor=manager, enabled=True, source=Source.objects.get(), **settings)
    assert source.next_run_at > timezone.now()
    assert (source.next_run_at.weekday(), source.next_run_at.hour) == (0, 2)
    assert source_refresh_due() == [] and not IngestRun.objects.exists()


def test_a_command_line_load_from_a_host_not_allowed_exits_non_zero_and_says_why(sites, tmp_path):
    done = subprocess.run(
        [INFRAPLAN, "ingest", "https://data.example.org/sites.geojson", "--dataset", "sites"],
        env={**os.environ, "DATABASE_URL": database_url_of_tests(),
             "UPLOAD_ROOT": str(tmp_path / "uploads"), "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1"},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert (
        "Load failed: data.example.org is not on this platform's list of allowed data hosts "
        "(OUTBOUND_ALLOWED_HOSTS); ask a platform administrator to add it." in done.stderr
    )
    run = IngestRun.objects.get()
    assert (run.state, run.temporary, run.attempts) == (RunState.FAILED, False, 1)
    assert sites.current_version is None


def test_a_stored_schedule_that_never_comes_round_stops_with_the_reason(sites, personas):
    source = source_save(actor=personas.data_manager_a, dataset=sites, connector_key="url",
                         config={"url": "https://example.org/a.geojson"}, mapping=REFERENCE,
                         schedule="daily")  # fmt: skip
    # Saved before schedules were checked for dates that never come (the 31st of February).
    Source.objects.filter(pk=source.pk).update(
        schedule="0 2 31 2 *", next_run_at=timezone.now() - timedelta(minutes=1)
    )
    [run] = source_refresh_due()
    source.refresh_from_db()
    assert source.next_run_at is None and source.last_run == run
    assert run.state == RunState.FAILED and run.job_id is None
    assert run.error.startswith("The load did not start: its schedule no longer works: '0 2 31 2")
    assert run.error.endswith(
        "It is not refreshed until the schedule is changed on the source's page."
    )
    assert source_refresh_due() == []


def test_the_dataset_page_says_when_a_source_loads_next_and_tries_again(sites, personas, client_as):
    """The dataset's sources table says BST or GMT too, and, between a failed attempt and the
    next, when it tries again and why, as the run's own page does."""
    manager = personas.data_manager_a
    source = source_save(
        actor=manager, dataset=sites, connector_key="url", mapping=REFERENCE,
        config={"url": "https://example.org/a.geojson"}, schedule="weekly",
    )  # fmt: skip
    Source.objects.filter(pk=source.pk).update(next_run_at=datetime(2027, 6, 7, 2, tzinfo=UTC))
    run = ingest_request(
        actor=manager, dataset=sites, connector_key="url", config=source.config,
        mapping=REFERENCE, source=source,
    )  # fmt: skip
    IngestRun.objects.filter(pk=run.pk).update(
        retry_at=datetime(2027, 6, 7, 2, 30, tzinfo=UTC), attempts=1,
        error="example.org answered HTTP 503 for https://example.org/a.geojson.",
    )  # fmt: skip
    page = text(client_as(manager).get("/datasets/sites/"))
    assert "7 June 2027 03:00 BST" in page
    assert "An attempt failed and it will try again at 03:30 BST : example.org answered" in page


def test_a_next_load_in_the_hour_that_comes_twice_says_gmt(sites, personas, client_as):
    """A cron of 0 1 * * * (UTC) loads at 01:00 GMT on the day the clocks go back, the second
    01:00 in London that night: the page says which of the two."""
    manager = personas.data_manager_a
    source = source_save(
        actor=manager, dataset=sites, connector_key="url", mapping=REFERENCE,
        config={"url": "https://example.org/a.geojson"}, schedule="0 1 * * *",
    )  # fmt: skip
    next_run_at = schedule_next("0 1 * * *", datetime(2026, 10, 24, 12, tzinfo=UTC))
    assert next_run_at == datetime(2026, 10, 25, 1, tzinfo=UTC)
    Source.objects.filter(pk=source.pk).update(next_run_at=next_run_at)
    assert "25 October 2026 01:00 GMT" in text(client_as(manager).get("/datasets/sites/"))
