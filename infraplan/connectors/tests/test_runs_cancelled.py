"""A source switched off, removed or changed while its load waits to try again: the load is
cancelled, saying by whom, its job never runs it again, and an upload queued behind it goes
ahead at once. A load running at that moment is asked to stop: an attempt that fails before it
notices is not tried again."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from infraplan.audit.models import AuditEntry
from infraplan.connectors.load_requests import ingest_request
from infraplan.connectors.models import IngestRun, RunState, Source
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.connectors.sources import source_delete, source_save
from infraplan.core.queue import job_wait
from infraplan.core.testing.data import dataset_make

from .test_runs import (
    LOCAL_FETCHES,
    REFERENCE,
    csv_points,
    points_server,
    wait_until,
    worker_running,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


@pytest.fixture
def local_fetches(settings):
    for name, value in LOCAL_FETCHES.items():
        setattr(settings, name, [value])


def source_switch_off(source: Source, actor) -> None:
    source_save(
        actor=actor, dataset=source.dataset, connector_key=source.connector_key,
        config=source.config, mapping=source.mapping, enabled=False, source=source,
    )  # fmt: skip


def source_remove(source: Source, actor) -> None:
    source_delete(actor=actor, source=source)


def source_correct(source: Source, actor) -> None:
    """The address corrected: a waiting load would try the old one again."""
    source_save(
        actor=actor, dataset=source.dataset, connector_key=source.connector_key,
        config={"url": source.config["url"] + "?corrected"}, mapping=source.mapping,
        source=source,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("stop", "what", "action"),
    [(source_switch_off, "switched off", "source.update"), (source_remove, "removed", "source.delete"),
     (source_correct, "changed", "source.update")],
)  # fmt: skip
def test_a_load_waiting_to_try_again_is_cancelled_and_the_upload_behind_it_goes_ahead(
    sites, personas, local_fetches, client_as, tmp_path, stop, what, action
):
    manager = personas.data_manager_a
    # The next attempt would be ten minutes away: the upload must not wait for it.
    with (
        points_server([503]) as (url, sent),
        worker_running(tmp_path / "worker.log", INGEST_RETRY_WAIT_SECONDS="600"),
    ):
        source = source_save(actor=manager, dataset=sites, connector_key="url",
                             config={"url": url}, mapping=REFERENCE)  # fmt: skip
        run = ingest_request(actor=manager, dataset=sites, connector_key="url",
                             config=source.config, mapping=REFERENCE, source=source)  # fmt: skip
        # Waiting to try again: the run has its time, and the queue has its job back to do.
        wait_until(
            lambda: IngestRun.objects.filter(pk=run.pk, retry_at__isnull=False).exists()
            and ProcrastinateJob.objects.get(pk=run.job_id).status == "todo",
            timeout=120, what="the first attempt to fail",
        )  # fmt: skip
        upload = ingest_request(
            actor=manager, dataset=sites, connector_key="upload",
            config={"path": str(csv_points(tmp_path / "points.csv", 20))}, mapping=REFERENCE,
        )  # fmt: skip

        source_id = source.pk
        stop(source, manager)

        assert job_wait(upload.job_id, timeout=60) == "succeeded"
        upload.refresh_from_db()
        assert upload.state == RunState.PUBLISHED and upload.version.is_current
        run.refresh_from_db()
        assert (run.state, run.attempts, run.retry_at) == (RunState.FAILED, 1, None)
        assert run.error.startswith(
            f"Cancelled: the source was {what} by {manager} before it was tried again. "
            "The last attempt: 127.0.0.1 answered HTTP 503"
        )
        assert ProcrastinateJob.objects.get(pk=run.job_id).status == "cancelled"
        # Its job, delivered all the same, does nothing.
        assert ingest_run_execute(run.pk, attempt=2).state == RunState.FAILED
        run.refresh_from_db()
        assert run.attempts == 1 and sent == [503]

    page = " ".join(client_as(manager).get(f"/datasets/sites/runs/{run.pk}/").text.split())
    assert f"Cancelled: the source was {what} by {manager} before it was tried again." in page
    assert "The load was cancelled" in page and "The load failed" not in page
    assert 'data-run-value="state">Cancelled</dd>' in page
    status = client_as(manager).get(f"/datasets/sites/runs/{run.pk}/status.json").json()
    assert (status["state"], status["state_label"]) == ("failed", "Cancelled")
    # Stopped on purpose: the dataset's page does not warn that its source's last load failed.
    dataset_page = client_as(manager).get("/datasets/sites/").text
    assert 'id="sources-failing"' not in dataset_page
    # The source's own audit entry is as it was; the cancelled load has one of its own.
    (entry,) = AuditEntry.objects.filter(action=action, target_id=str(source_id))
    assert entry.actor_id == manager.pk
    if what == "switched off":
        assert (entry.before["enabled"], entry.after["enabled"]) == (True, False)
    (cancel,) = AuditEntry.objects.filter(action="ingest.cancel")
    assert (cancel.actor_id, cancel.target_id) == (manager.pk, str(run.pk))


@contextmanager
def failing_server(during_request) -> Iterator[str]:
    """An HTTP server answering 503 after calling ``during_request`` (the load is then running,
    fetching). Yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                during_request()
            finally:
                connection.close()
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/points.geojson"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("stop", "what"), [(source_switch_off, "switched off"), (source_remove, "removed")]
)
def test_a_load_running_when_its_source_stops_is_not_tried_again(
    sites, personas, local_fetches, stop, what
):
    manager = personas.data_manager_a
    stopped = []

    def stop_while_running() -> None:
        source = Source.objects.get()
        assert source.runs.get().state == RunState.RUNNING
        stopped.append(source.pk)
        stop(source, manager)

    with failing_server(stop_while_running) as url:
        source = source_save(actor=manager, dataset=sites, connector_key="url",
                             config={"url": url}, mapping=REFERENCE)  # fmt: skip
        run = ingest_request(actor=manager, dataset=sites, connector_key="url",
                             config=source.config, mapping=REFERENCE, source=source)  # fmt: skip
        run = ingest_run_execute(run.pk, attempt=1)
    assert stopped == [source.pk]
    run.refresh_from_db()
    assert (run.state, run.attempts, run.retry_at) == (RunState.FAILED, 1, None)
    assert run.error.startswith(
        f"Cancelled: the source was {what} by {manager} while it was running: nothing was "
        "published. The last attempt: 127.0.0.1 answered HTTP 503"
    )
    assert run.source_id == (source.pk if what == "switched off" else None)
    assert ProcrastinateJob.objects.get(pk=run.job_id).status == "cancelled"
