"""A person cancels a load (``load_requests.run_cancel``): one waiting to start or to try again
ends at once and the loads queued behind it go ahead; a running one stops part-way at its next
progress (``run_execution.RunProgress``), nothing published and the current version as it was;
one already publishing finishes. Each through the real task queue or a real load, on PostGIS."""

import html
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

import infraplan.connectors.run_execution as run_execution
from infraplan.audit.models import AuditEntry
from infraplan.catalogue.models import Feature, VersionState
from infraplan.catalogue.store import current_features
from infraplan.connectors.load_requests import (
    RunNotCancelled,
    ingest_request,
    rollback_request,
    run_cancel,
)
from infraplan.connectors.models import IngestRun, RunState
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.core.queue import job_wait
from infraplan.core.testing.data import dataset_make, version_publish_points

from .test_runs import REFERENCE, csv_points, points_server, wait_until, worker_running

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = {"A": (615000, 157500), "B": (615100, 157600)}


@pytest.fixture
def sites(personas):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    version_publish_points(dataset=dataset, points=BEFORE)
    return dataset


def upload_request(dataset, actor, path, **config):
    return ingest_request(
        actor=actor, dataset=dataset, connector_key="upload",
        config={"path": str(path), **config}, mapping=REFERENCE,
    )  # fmt: skip


def previous_version_intact(dataset) -> None:
    """Version 1 is still current, with every feature it had; nothing of a later draft stayed."""
    dataset.refresh_from_db()
    assert dataset.current_version.number == 1
    assert sorted(current_features(dataset).values_list("reference", flat=True)) == ["A", "B"]
    assert not Feature.objects.filter(dataset=dataset, valid_from__gt=1).exists()


def page_text(client, run) -> str:
    """The words of ``run``'s page."""
    page = client.get(f"/datasets/sites/runs/{run.pk}/").content.decode()
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def cancelled_from_elsewhere(actor, run) -> None:
    """Cancel ``run`` as a person on its page would: in a connection (and transaction) of its
    own, not the load's."""
    done = []

    def cancel() -> None:
        try:
            done.append(run_cancel(actor=actor, run=run))
        finally:
            connection.close()

    thread = threading.Thread(target=cancel)
    thread.start()
    thread.join(timeout=30)
    assert done, "the cancel did not finish"


@contextmanager
def progress_hooked(after: Callable[[int, str], None]) -> Iterator[None]:
    """Call ``after(rows, stage)`` once each progress write of a running load is done."""
    write = run_execution.RunProgress.__call__

    def hooked(self, rows: int, stage: str) -> None:
        write(self, rows, stage)
        after(rows, stage)

    run_execution.RunProgress.__call__ = hooked
    try:
        yield
    finally:
        run_execution.RunProgress.__call__ = write


# Waiting


def test_a_queued_load_is_cancelled_and_the_load_behind_it_goes_ahead(sites, personas, tmp_path):
    manager = personas.data_manager_a
    with held_server() as (url, asked, released), worker_running(tmp_path / "worker.log"):
        # A load of the same part runs (held fetching its file): the next two wait behind it.
        running = ingest_request(actor=manager, dataset=sites, connector_key="url",
                                 config={"url": url}, mapping=REFERENCE)  # fmt: skip
        assert asked.wait(timeout=120), "the first load never asked for its file"
        cancelled = upload_request(sites, manager, csv_points(tmp_path / "wrong.csv", 30))
        behind = upload_request(sites, manager, csv_points(tmp_path / "right.csv", 20))

        run = run_cancel(actor=manager, run=cancelled)
        assert (run.state, run.retry_at, run.attempts) == (RunState.FAILED, None, 0)
        assert run.error == f"Cancelled: {manager} cancelled the load before it started."
        assert run.cancelled and run.state_label == "Cancelled"
        assert ProcrastinateJob.objects.get(pk=run.job_id).status == "cancelled"
        (entry,) = AuditEntry.objects.filter(action="ingest.cancel")
        assert (entry.actor_id, entry.target_id, entry.after) == (
            manager.pk, str(run.pk), {"error": run.error},
        )  # fmt: skip

        released.set()
        assert job_wait(running.job_id, timeout=120) == "succeeded"
        assert job_wait(behind.job_id, timeout=120) == "succeeded"
    behind.refresh_from_db()
    assert behind.state == RunState.PUBLISHED and behind.version.is_current
    assert current_features(sites).count() == 20
    # Its job never ran it: the run is as the cancel left it.
    run.refresh_from_db()
    assert (run.state, run.attempts, run.started_at) == (RunState.FAILED, 0, None)
    assert ProcrastinateJob.objects.get(pk=run.job_id).status == "cancelled"


def test_a_load_waiting_to_try_again_is_cancelled_and_the_upload_behind_it_goes_ahead(
    sites, personas, tmp_path
):
    manager = personas.data_manager_a
    # The next attempt would be ten minutes away: the upload must not wait for it.
    with (
        points_server([503]) as (url, sent),
        worker_running(tmp_path / "worker.log", INGEST_RETRY_WAIT_SECONDS="600"),
    ):
        run = ingest_request(actor=manager, dataset=sites, connector_key="url",
                             config={"url": url}, mapping=REFERENCE)  # fmt: skip
        wait_until(
            lambda: IngestRun.objects.filter(pk=run.pk, retry_at__isnull=False).exists()
            and ProcrastinateJob.objects.get(pk=run.job_id).status == "todo",
            timeout=120, what="the first attempt to fail",
        )  # fmt: skip
        upload = upload_request(sites, manager, csv_points(tmp_path / "points.csv", 20))
        run = run_cancel(actor=manager, run=run)
        assert job_wait(upload.job_id, timeout=60) == "succeeded"
    upload.refresh_from_db()
    assert upload.state == RunState.PUBLISHED and upload.version.is_current
    run.refresh_from_db()
    assert (run.state, run.attempts, run.retry_at) == (RunState.FAILED, 1, None)
    assert run.error.startswith(
        f"Cancelled: {manager} cancelled the load before it was tried again. "
        "The last attempt: 127.0.0.1 answered HTTP 503"
    )
    assert ProcrastinateJob.objects.get(pk=run.job_id).status == "cancelled"
    assert sent == [503]


# Running


@contextmanager
def held_server() -> Iterator[tuple[str, threading.Event, threading.Event]]:
    """An HTTP server that, asked for its file, says so (the first event) and answers with
    two new points only once released (the second): the load asking is running, fetching."""
    asked, released = threading.Event(), threading.Event()
    body = (
        b'{"type": "FeatureCollection", "features": ['
        b'{"type": "Feature", "properties": {"ref": "N1"}, '
        b'"geometry": {"type": "Point", "coordinates": [1.0789, 51.2802]}}, '
        b'{"type": "Feature", "properties": {"ref": "N2"}, '
        b'"geometry": {"type": "Point", "coordinates": [1.0801, 51.2811]}}]}'
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.set()
            released.wait(timeout=60)
            self.send_response(200)
            self.send_header("Content-Type", "application/geo+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/points.geojson", asked, released
    finally:
        released.set()
        server.shutdown()
        server.server_close()


def test_a_running_load_stops_in_the_worker_with_nothing_published(
    sites, personas, tmp_path, client_as
):
    manager = personas.data_manager_a
    with (
        held_server() as (url, asked, released),
        worker_running(tmp_path / "worker.log"),
    ):
        run = ingest_request(actor=manager, dataset=sites, connector_key="url",
                             config={"url": url}, mapping=REFERENCE)  # fmt: skip
        assert asked.wait(timeout=120), "the load never asked for its file"
        run.refresh_from_db()
        assert (run.state, run.stage) == (RunState.RUNNING, "fetching")

        run = run_cancel(actor=manager, run=run)
        # Asked to stop, it runs until its next progress: its page says it is being cancelled.
        assert run.state == RunState.RUNNING
        assert ProcrastinateJob.objects.get(pk=run.job_id).abort_requested
        page = " ".join(client_as(manager).get(f"/datasets/sites/runs/{run.pk}/").text.split())
        assert "It is being cancelled." in page and 'id="run-cancel"' not in page
        # Asked again, nothing more is done.
        assert run_cancel(actor=personas.admin_a, run=run).state == RunState.RUNNING
        assert AuditEntry.objects.filter(action="ingest.cancel").count() == 1

        released.set()
        assert job_wait(run.job_id, timeout=120) == "succeeded"
    run.refresh_from_db()
    assert (run.state, run.attempts, run.retry_at) == (RunState.FAILED, 1, None)
    assert run.error == (
        f"Cancelled: {manager} cancelled the load while it was running: nothing was published."
    )
    assert run.cancelled and run.stage_label.startswith("Stopped while")
    # Its draft is failed as a failed load's is, saying why, and the version before stays.
    assert run.version.state == VersionState.FAILED
    assert run.version.report["error"] == run.error
    previous_version_intact(sites)
    # Not tried again: the job's one attempt ended the run.
    job = ProcrastinateJob.objects.get(pk=run.job_id)
    assert (job.status, job.attempts) == ("succeeded", 1)
    (entry,) = AuditEntry.objects.filter(action="ingest.cancel")
    assert (entry.actor_id, entry.target_id) == (manager.pk, str(run.pk))

    page = " ".join(client_as(manager).get(f"/datasets/sites/runs/{run.pk}/").text.split())
    assert "The load was cancelled" in page and run.error in page
    assert "The current version was not changed." in page and 'id="run-cancel"' not in page


def test_a_running_upload_stops_part_way_through_its_file(sites, personas, tmp_path):
    manager = personas.data_manager_a
    path = csv_points(tmp_path / "large.csv", 30_000)
    run = upload_request(sites, manager, path, batch_size=5_000)

    asked = []

    def cancel_at_10_000_rows(rows: int, stage: str) -> None:
        # Called while the load's connection may be copying rows: nothing here may use it.
        if stage == "reading" and rows >= 10_000 and not asked:
            asked.append(rows)
            cancelled_from_elsewhere(manager, run)

    with progress_hooked(cancel_at_10_000_rows):
        run = ingest_run_execute(run.pk)
    assert run.state == RunState.FAILED and run.cancelled
    assert run.error == (
        f"Cancelled: {manager} cancelled the load while it was running: nothing was published."
    )
    # It stopped at the next progress, within the batch it was reading: the file's other rows
    # were never read.
    assert 10_000 <= run.rows_read < 30_000
    assert run.version.state == VersionState.FAILED
    previous_version_intact(sites)


def test_a_load_already_publishing_when_cancelled_publishes(sites, personas, tmp_path, client_as):
    """Its last progress said "publishing" before the cancel came: nothing asks again, and it
    publishes; its page says so."""
    manager = personas.data_manager_a
    run = upload_request(sites, manager, csv_points(tmp_path / "points.csv", 20))

    def cancel_once_publishing(rows: int, stage: str) -> None:
        if stage == "publishing":
            cancelled_from_elsewhere(manager, run)

    with progress_hooked(cancel_once_publishing):
        run = ingest_run_execute(run.pk)
    assert (run.state, run.error) == (RunState.PUBLISHED, "")
    assert run.version.is_current and current_features(sites).count() == 20
    assert AuditEntry.objects.filter(action="ingest.cancel", target_id=str(run.pk)).exists()
    page = page_text(client_as(manager), run)
    assert f"Published as version {run.version.number} ." in page


# Refused


def test_a_run_that_has_ended_is_not_cancelled(sites, personas, tmp_path):
    manager = personas.data_manager_a
    run = upload_request(sites, manager, csv_points(tmp_path / "points.csv", 5))
    run = ingest_run_execute(run.pk)
    with pytest.raises(RunNotCancelled) as refused:
        run_cancel(actor=manager, run=run)
    assert str(refused.value) == "This load has already finished: it was published as version 2."
    cancelled = upload_request(sites, manager, csv_points(tmp_path / "more.csv", 5))
    run_cancel(actor=manager, run=cancelled)
    with pytest.raises(RunNotCancelled, match="already finished: it was cancelled"):
        run_cancel(actor=manager, run=cancelled)
    run.refresh_from_db()
    assert run.state == RunState.PUBLISHED and run.error == ""
    assert AuditEntry.objects.filter(action="ingest.cancel").count() == 1


def test_a_load_run_from_the_command_line_is_stopped_only_there(sites, personas, tmp_path):
    manager = personas.data_manager_a
    run = ingest_request(
        actor=manager, dataset=sites, connector_key="upload",
        config={"path": str(csv_points(tmp_path / "points.csv", 5))}, mapping=REFERENCE,
        queue=False,
    )  # fmt: skip
    for state in (RunState.QUEUED, RunState.RUNNING):
        IngestRun.objects.filter(pk=run.pk).update(state=state)
        with pytest.raises(RunNotCancelled, match="runs from the command line"):
            run_cancel(actor=manager, run=run)
        run.refresh_from_db()
        assert (run.state, run.error) == (state, "")
    assert not AuditEntry.objects.filter(action="ingest.cancel").exists()


def test_a_waiting_rollback_is_cancelled_and_a_running_one_is_not(sites, personas):
    manager = personas.data_manager_a
    first = sites.versions.get(number=1)
    version_publish_points(dataset=sites, points={"Z": (615200, 157700)})
    rollback = rollback_request(actor=manager, dataset=sites, to=first)
    rollback = run_cancel(actor=manager, run=rollback)
    assert rollback.error == f"Cancelled: {manager} cancelled the rollback before it started."
    assert ProcrastinateJob.objects.get(pk=rollback.job_id).status == "cancelled"

    running = rollback_request(actor=manager, dataset=sites, to=first)
    IngestRun.objects.filter(pk=running.pk).update(state=RunState.RUNNING)
    with pytest.raises(RunNotCancelled, match="cannot be stopped part-way"):
        run_cancel(actor=manager, run=running)
    running.refresh_from_db()
    assert (running.state, running.error) == (RunState.RUNNING, "")
    assert not ProcrastinateJob.objects.get(pk=running.job_id).abort_requested
