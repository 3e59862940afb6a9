"""Sources and ingest runs on the real task queue: a load through a worker process, retries with
backoff after temporary failures, permanent failures, the scheduled refresh, and a worker killed
in the middle of a load (the current version untouched, the dead run failed by the sweep)."""

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import numpy as np
import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.ingest import IngestMapping
from infraplan.catalogue.models import Feature, VersionState
from infraplan.catalogue.publishing import version_start
from infraplan.catalogue.store import current_features
from infraplan.connectors.load_requests import ingest_request, rollback_request
from infraplan.connectors.models import IngestRun, RunState, Source
from infraplan.connectors.run_execution import IngestRetry, ingest_run_execute
from infraplan.connectors.run_sweep import ingest_runs_sweep
from infraplan.connectors.schedules import schedule_next
from infraplan.connectors.sources import source_save
from infraplan.connectors.tasks import sources_tick_task
from infraplan.core.queue import defer_once, job_wait
from infraplan.core.testing.data import dataset_make, version_publish_points
from tests.test_queue import INFRAPLAN, database_url_of_tests, unrun_jobs_remove

pytestmark = pytest.mark.django_db(transaction=True)
REFERENCE = IngestMapping(reference="ref")
# The test servers listen on 127.0.0.1: allowed as a private host, as settings can allow it.
LOCAL_FETCHES = {"OUTBOUND_ALLOWED_HOSTS": "127.0.0.1", "OUTBOUND_PRIVATE_HOSTS": "127.0.0.1"}


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


@pytest.fixture
def local_fetches(settings):
    for name, value in LOCAL_FETCHES.items():
        setattr(settings, name, [value])


@contextmanager
def worker_running(log: Path, **env: str) -> Iterator[subprocess.Popen]:
    """A real worker process on the test database, with no other test's jobs waiting (see
    ``unrun_jobs_remove``); stopped afterwards."""
    unrun_jobs_remove()
    with log.open("a") as output:
        process = subprocess.Popen(
            [INFRAPLAN, "procrastinate", "worker", "--name", "connectors-test-worker"],
            env={
                **os.environ, "DATABASE_URL": database_url_of_tests(), **LOCAL_FETCHES,
                "INGEST_RETRY_WAIT_SECONDS": "1", "INGEST_RETRY_ATTEMPTS": "3", **env,
            },
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting for {what} after {timeout:.0f} s")
        time.sleep(0.2)


@contextmanager
def points_server(answers: list[int]) -> Iterator[tuple[str, list[int]]]:
    """An HTTP server answering with each status of ``answers`` in turn (the last one again
    afterwards); a 200 carries two GeoJSON points. Yields its URL and the statuses it sent."""
    sent: list[int] = []
    body = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"ref": ref},
                    "geometry": {"type": "Point", "coordinates": xy},
                }
                for ref, xy in (("P1", [1.0789, 51.2802]), ("P2", [1.0801, 51.2811]))
            ],
        }
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = answers[min(len(sent), len(answers) - 1)]
            sent.append(status)
            payload = body if status == 200 else b"Service Unavailable"
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/geo+json" if status == 200 else "text/plain"
            )
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/points.geojson", sent
    finally:
        server.shutdown()
        server.server_close()


def csv_points(path: Path, count: int, *, seed: int = 5) -> Path:
    """``count`` points in Canterbury as a CSV with a reference column."""
    random = np.random.default_rng(seed)
    xs = random.uniform(610_000, 620_000, count).round(1)
    ys = random.uniform(152_000, 162_000, count).round(1)
    with path.open("w") as output:
        output.write("ref,Easting,Northing\n")
        output.writelines(
            f"R{index},{x},{y}\n" for index, (x, y) in enumerate(zip(xs, ys, strict=True))
        )
    return path


# Sources


def test_a_source_is_checked_before_it_is_saved(sites, personas, local_fetches):
    manager = personas.data_manager_a
    with pytest.raises(ValidationError, match="settings are not valid: url: Field required"):
        source_save(actor=manager, dataset=sites, connector_key="url", config={},
                    mapping=REFERENCE)  # fmt: skip
    with pytest.raises(ValidationError, match="no connector 'nope'"):
        source_save(actor=manager, dataset=sites, connector_key="nope", config={},
                    mapping=REFERENCE)  # fmt: skip
    with pytest.raises(ValidationError, match="mapping is not valid: reference: Field required"):
        source_save(actor=manager, dataset=sites, connector_key="url",
                    config={"url": "http://127.0.0.1/"}, mapping={"rename": {}})  # fmt: skip
    with pytest.raises(ValidationError, match="'every tuesday' is not a schedule"):
        source_save(actor=manager, dataset=sites, connector_key="url",
                    config={"url": "http://127.0.0.1/"}, mapping=REFERENCE,
                    schedule="every tuesday")  # fmt: skip
    with pytest.raises(ValidationError, match="is not a schedule"):
        source_save(actor=manager, dataset=sites, connector_key="url",
                    config={"url": "http://127.0.0.1/"}, mapping=REFERENCE,
                    schedule="61 * * * *")  # fmt: skip
    assert not Source.objects.exists()

    source = source_save(
        actor=manager, dataset=sites, connector_key="url",
        config={"url": "http://127.0.0.1/a"}, mapping=REFERENCE, schedule="weekly",
    )  # fmt: skip
    assert source.next_run_at.weekday() == 0 and source.next_run_at > timezone.now()
    assert (source.next_run_at.hour, source.next_run_at.minute) == (2, 0)
    entry = AuditEntry.objects.get(action="source.create")
    assert entry.after["schedule"] == "weekly"
    with pytest.raises(ValidationError, match="already has a source"):
        source_save(actor=manager, dataset=sites, connector_key="url",
                    config={"url": "http://127.0.0.1/b"}, mapping=REFERENCE)  # fmt: skip
    # One source per organisation's part: organisation B's part is another source.
    sites.contributing_organisations.add(personas.organisation_b)
    source_save(actor=manager, dataset=sites, connector_key="url",
                config={"url": "http://127.0.0.1/b"}, mapping=REFERENCE,
                organisation=personas.organisation_b)  # fmt: skip
    assert Source.objects.count() == 2


def test_an_address_the_platform_may_not_fetch_from_is_refused_when_saved(
    sites, personas, settings
):
    """A host off the allow-list, or a private address written as numbers, is the error of the
    setting that names it when the source is saved, not first news from its first load. A
    source saved before the lists changed can still be switched off or rescheduled."""
    settings.OUTBOUND_ALLOWED_HOSTS = ["maps.example.org", "10.1.2.3"]
    manager = personas.data_manager_a
    for url, problem in [
        ("https://gis.example.com/layer.geojson", "gis.example.com is not on this platform's "
         "list of allowed data hosts (OUTBOUND_ALLOWED_HOSTS); ask a platform administrator "
         "to add it."),
        ("http://10.1.2.3/layer.geojson", "10.1.2.3 is a private or local address, which the "
         "platform does not fetch from (unless listed in OUTBOUND_PRIVATE_HOSTS)."),
        # Not allowed either: still not something to ask an administrator to allow.
        ("http://169.254.169.254/latest/", "169.254.169.254 is a private or local address, "
         "which the platform does not fetch from (unless listed in OUTBOUND_PRIVATE_HOSTS)."),
    ]:  # fmt: skip
        with pytest.raises(ValidationError) as refused:
            source_save(actor=manager, dataset=sites, connector_key="url", config={"url": url},
                        mapping=REFERENCE)  # fmt: skip
        assert refused.value.message_dict == {"url": [problem]}
    assert not Source.objects.exists()
    source = source_save(actor=manager, dataset=sites, connector_key="url",
                         config={"url": "https://maps.example.org/a.geojson"}, mapping=REFERENCE,
                         schedule="weekly")  # fmt: skip
    settings.OUTBOUND_ALLOWED_HOSTS = []
    source = source_save(actor=manager, dataset=sites, connector_key="url", config=source.config,
                         mapping=REFERENCE, schedule="", enabled=False, source=source)  # fmt: skip
    assert not source.enabled and source.schedule == ""
    with pytest.raises(ValidationError, match=r"maps\.example\.org is not on"):
        source_save(actor=manager, dataset=sites, connector_key="url",
                    config={"url": "https://maps.example.org/b.geojson"}, mapping=REFERENCE,
                    source=source)  # fmt: skip


def test_schedules_in_cron():
    after = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday
    assert schedule_next("daily", after).isoformat() == "2026-03-05T02:00:00+00:00"
    assert schedule_next("monthly", after).isoformat() == "2026-04-01T02:00:00+00:00"
    assert schedule_next("30 6 * * 1-5", after).isoformat() == "2026-03-05T06:30:00+00:00"
    assert schedule_next("", after) is None


def test_a_request_that_cannot_run_is_refused_with_nothing_queued(sites, personas):
    jobs = ProcrastinateJob.objects.count()
    with pytest.raises(ValidationError, match="url: Input should be a valid string"):
        ingest_request(actor=personas.contributor_a, dataset=sites, connector_key="url",
                       config={"url": 5}, mapping=REFERENCE)  # fmt: skip
    assert not IngestRun.objects.exists() and ProcrastinateJob.objects.count() == jobs


# Runs, in this process


def test_progress_is_visible_outside_the_loads_transaction(sites, personas, tmp_path):
    path = csv_points(tmp_path / "points.csv", 12_000)
    run = ingest_request(
        actor=personas.contributor_a, dataset=sites, connector_key="upload",
        config={"path": str(path), "batch_size": 5_000}, mapping=REFERENCE,
    )  # fmt: skip
    assert run.state == RunState.QUEUED and run.job_id
    assert AuditEntry.objects.filter(action="ingest.request", target_id=str(run.pk)).exists()
    seen = []
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"],
        port=db["PORT"], autocommit=True,
    ) as observer:  # fmt: skip
        import infraplan.connectors.run_execution as run_execution

        write = run_execution.RunProgress.__call__

        def observed(self, rows: int, stage: str) -> None:
            write(self, rows, stage)
            seen.append(
                observer.execute(
                    "SELECT stage, rows_read, version_id IS NOT NULL FROM connectors_ingestrun "
                    "WHERE id = %s",
                    (self.run_id,),
                ).fetchone()
            )

        run_execution.RunProgress.__call__ = observed
        try:
            run = ingest_run_execute(run.pk)
        finally:
            run_execution.RunProgress.__call__ = write
    assert run.state == RunState.PUBLISHED and run.rows_read == 12_000
    assert run.version.is_current and run.version.feature_count == 12_000
    # While the pipeline's transaction was open, another connection saw the stage and rows,
    # and the draft the run is making.
    assert ("reading", 5_000, True) in seen and ("checking", 5_000, True) in seen
    assert seen[-1] == ("publishing", 12_000, True)


def test_a_temporary_failure_puts_the_run_back_with_its_retry_time(sites, settings, local_fetches):
    settings.INGEST_RETRY_WAIT_SECONDS = 30
    with points_server([503]) as (url, sent):
        run = ingest_request(actor=None, dataset=sites, connector_key="url",
                             config={"url": url}, mapping=REFERENCE)  # fmt: skip
        before = timezone.now()
        with pytest.raises(IngestRetry):
            ingest_run_execute(run.pk, attempt=2)
        run.refresh_from_db()
        assert (run.state, run.temporary, run.attempts) == ("queued", True, 2)
        assert "answered HTTP 503" in run.error
        # Backoff: 30 s, then 60 s, then 120 s ...: the second attempt waits 60 s.
        assert timedelta(seconds=59) < run.retry_at - before < timedelta(seconds=62)
        # The attempt's failed draft is not kept: the history gains a version per load, not
        # per attempt, and its numbers run on.
        assert run.version is None and not sites.versions.exists()
        # The last attempt gives up.
        run = ingest_run_execute(run.pk, attempt=settings.INGEST_RETRY_ATTEMPTS)
    assert run.state == RunState.FAILED and run.retry_at is None
    assert run.error.startswith(f"Gave up after {settings.INGEST_RETRY_ATTEMPTS} attempts.")
    assert sent == [503, 503]
    assert sites.current_version is None
    (version,) = sites.versions.all()
    assert (version.number, version.state) == (1, VersionState.FAILED) and run.version == version


def test_data_that_does_not_pass_is_rejected_not_failed(sites, personas, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("ref,Easting,Northing\nA,615000,157500\n,615001,157501\n")
    run = ingest_request(actor=None, dataset=sites, connector_key="upload",
                         config={"path": str(path)}, mapping=REFERENCE)  # fmt: skip
    run = ingest_run_execute(run.pk)
    assert run.state == RunState.REJECTED and run.temporary is False
    assert "1 of 2 rows have problems" in run.error
    assert run.version.report["problems"][0]["problem"] == "the reference is empty"


# Through a worker process


def test_a_load_through_the_worker_publishes(sites, personas, tmp_path):
    version_publish_points(dataset=sites, points={"OLD": (615000, 157500)})
    path = csv_points(tmp_path / "points.csv", 2_000)
    with worker_running(tmp_path / "worker.log"):
        run = ingest_request(actor=personas.contributor_a, dataset=sites, connector_key="upload",
                             config={"path": str(path)}, mapping=REFERENCE)  # fmt: skip
        assert job_wait(run.job_id, timeout=120) == "succeeded"
    run.refresh_from_db()
    assert (run.state, run.stage, run.rows_read, run.attempts) == ("published", "done", 2000, 1)
    assert run.requested_by == personas.contributor_a and run.finished_at >= run.started_at
    assert run.version.is_current and run.version.number == 2
    assert run.version.report["added"] == 2000 and run.version.report["removed"] == 1
    assert current_features(sites).count() == 2000


def test_a_temporary_failure_is_retried_by_the_worker_and_then_succeeds(sites, tmp_path):
    with points_server([503, 200]) as (url, sent), worker_running(tmp_path / "worker.log"):
        run = ingest_request(actor=None, dataset=sites, connector_key="url",
                             config={"url": url}, mapping=REFERENCE)  # fmt: skip
        assert job_wait(run.job_id, timeout=120) == "succeeded"
    run.refresh_from_db()
    assert sent == [503, 200]
    assert (run.state, run.attempts, run.error, run.retry_at) == ("published", 2, "", None)
    # The failed attempt left no version: the load published as the dataset's first.
    (version,) = sites.versions.all()
    assert (
        version.number == 1
        and version.is_current
        and set(current_features(sites).values_list("reference", flat=True)) == {"P1", "P2"}
    )


def test_a_permanent_failure_ends_failed_with_the_error(sites, tmp_path):
    with points_server([404]) as (url, sent), worker_running(tmp_path / "worker.log"):
        run = ingest_request(actor=None, dataset=sites, connector_key="url",
                             config={"url": url}, mapping=REFERENCE)  # fmt: skip
        assert job_wait(run.job_id, timeout=120) == "succeeded"
    run.refresh_from_db()
    assert sent == [404]
    assert (run.state, run.attempts, run.temporary) == ("failed", 1, False)
    assert run.error.startswith("127.0.0.1 answered HTTP 404 for http://127.0.0.1:")
    assert run.version.state == "failed" and sites.current_version is None


def test_a_due_source_fires_on_the_minute_tick(sites, personas, local_fetches):
    sites.contributing_organisations.add(personas.organisation_b)
    with points_server([200]) as (url, sent):
        source = source_save(actor=personas.data_manager_a, dataset=sites,
                             connector_key="url", config={"url": url}, mapping=REFERENCE,
                             schedule="daily")  # fmt: skip
        never = source_save(actor=None, dataset=sites, connector_key="url",
                            config={"url": url}, mapping=REFERENCE, schedule="",
                            organisation=personas.organisation_b)  # fmt: skip
        assert never.next_run_at is None
        assert sources_tick_task(timestamp=int(time.time())) == {"swept": 0, "started": 0}
        Source.objects.filter(pk=source.pk).update(
            next_run_at=timezone.now() - timedelta(minutes=1)
        )
        assert sources_tick_task(timestamp=int(time.time())) == {"swept": 0, "started": 1}
        source.refresh_from_db()
        run = source.last_run
        assert run.source == source and run.state == RunState.QUEUED
        assert ProcrastinateJob.objects.get(pk=run.job_id).args == {"run_id": run.pk}
        assert source.next_run_at > timezone.now() and source.next_run_at.hour == 2
        # A tick before the next run starts nothing more.
        assert sources_tick_task(timestamp=int(time.time()))["started"] == 0
        assert ingest_run_execute(run.pk).state == RunState.PUBLISHED
    assert sent == [200]


def test_a_rollback_runs_in_the_worker_and_a_dead_one_is_swept(sites, personas, tmp_path):
    """A rollback is a run on the task queue, as a load is: the worker publishes it, recording
    its version; one whose process died is failed by the sweep, its draft with it."""
    first = version_publish_points(dataset=sites, points={"A": (615000, 157500)})
    version_publish_points(dataset=sites, points={"Z": (615100, 157600)})
    with worker_running(tmp_path / "worker.log"):
        run = rollback_request(actor=personas.data_manager_a, dataset=sites, to=first)
        assert job_wait(run.job_id, timeout=120) == "succeeded"
    run.refresh_from_db()
    assert (run.state, run.stage, run.rows_read, run.attempts) == ("published", "done", 1, 1)
    assert run.version.is_current and run.version.rolled_back_to == first
    assert list(current_features(sites).values_list("reference", flat=True)) == ["A"]

    # A rollback whose process died after opening its draft: the sweep fails both.
    dead = rollback_request(actor=None, dataset=sites, to=first)
    draft = version_start(actor=None, dataset=sites, source="rollback to version 1")
    IngestRun.objects.filter(pk=dead.pk).update(
        state=RunState.RUNNING, stage="restoring version 1", version=draft
    )
    assert [swept.pk for swept in ingest_runs_sweep()] == [dead.pk]
    dead.refresh_from_db()
    draft.refresh_from_db()
    assert dead.state == RunState.FAILED and draft.state == VersionState.FAILED
    assert dead.error == (
        "The rollback stopped when the process running it ended (while restoring version 1, "
        "0 rows read). Ask for the rollback again."
    )
    assert sites.versions.get(is_current=True) == run.version


def test_a_worker_killed_mid_load_leaves_the_current_version_and_the_sweep_fails_the_run(
    sites, personas, tmp_path
):
    version_publish_points(dataset=sites, points={"A": (615000, 157500), "B": (615100, 157600)})
    path = csv_points(tmp_path / "large.csv", 600_000)
    log = tmp_path / "worker.log"
    with worker_running(log) as worker:
        run = ingest_request(actor=None, dataset=sites, connector_key="upload",
                             config={"path": str(path)}, mapping=REFERENCE)  # fmt: skip
        wait_until(
            lambda: IngestRun.objects.filter(pk=run.pk, rows_read__gte=50_000).exists(),
            timeout=120, what="the load to be under way",
        )  # fmt: skip
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    run.refresh_from_db()
    assert run.state == RunState.RUNNING and run.version.state == VersionState.DRAFT
    draft = run.version
    # The previous version is current and complete; none of the draft's rows survived.
    sites.refresh_from_db()
    assert sites.current_version.number == 1
    assert sorted(current_features(sites).values_list("reference", flat=True)) == ["A", "B"]
    assert not Feature.objects.filter(dataset=sites, valid_from=draft.number).exists()

    with worker_running(log):
        # The worker's own minute tick, or this one if it has not been queued yet.
        tick = defer_once(sources_tick_task, timestamp=int(time.time()))
        assert job_wait(tick, timeout=120) == "succeeded"
        run.refresh_from_db()
        draft.refresh_from_db()
        assert run.state == RunState.FAILED and draft.state == VersionState.FAILED
        assert run.error.startswith("The load stopped when the process running it ended")
        assert ProcrastinateJob.objects.get(pk=run.job_id).status == "failed"
        # The dead job's lock is free: the next load of the dataset runs.
        again = ingest_request(actor=None, dataset=sites, connector_key="upload",
                               config={"path": str(csv_points(tmp_path / "s.csv", 10))},
                               mapping=REFERENCE)  # fmt: skip
        assert job_wait(again.job_id, timeout=120) == "succeeded"
    assert sites.versions.get(is_current=True).number == draft.number + 1
