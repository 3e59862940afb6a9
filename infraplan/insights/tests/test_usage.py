"""The usage log: a cheap record of each request, without the client's address."""

import time
from datetime import datetime

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.test import RequestFactory

from infraplan.insights.models import UsageRecord
from infraplan.insights.usage import UsageBuffer, buffer, request_visitor_hash, visitor_hash

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_buffer():
    buffer.flush()
    UsageRecord.objects.all().delete()


def test_requests_are_recorded_without_the_address(client_as, personas, districts):
    client = client_as(personas.viewer_a)
    client.get("/map/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Firefox")
    client.get("/tiles/districts/0/0/0.mvt", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Firefox")
    client.get("/tiles/nothing/0/0/0.mvt", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Firefox")
    client.get("/healthz")
    assert buffer.flush() == 3
    records = list(UsageRecord.objects.order_by("id"))
    assert [(r.kind, r.dataset, r.status) for r in records] == [
        ("map", "", 200), ("tile", "districts", 200), ("tile", "nothing", 404),
    ]  # fmt: skip
    assert {r.user_id for r in records} == {personas.viewer_a.pk}
    assert all(r.duration_ms >= 0 for r in records)
    # One visitor, recognisable within the day by a keyed hash, never by the address itself.
    assert len({r.visitor for r in records}) == 1
    stored = [str(value) for r in records for value in vars(r).values()]
    assert not any("203.0.113" in value for value in stored)
    assert records[0].visitor == visitor_hash("203.0.113.9", "Firefox", records[0].at)


def test_the_visitor_code_changes_every_day():
    from datetime import datetime, timedelta

    day = datetime(2026, 11, 27)
    assert visitor_hash("203.0.113.9", "x", day) != visitor_hash(
        "203.0.113.9", "x", day + timedelta(1)
    )


def test_anonymous_requests_have_no_user(client):
    client.get("/")
    buffer.flush()
    assert UsageRecord.objects.get().user_id is None


@pytest.mark.django_db(transaction=True)
def test_the_flusher_thread_writes_in_the_background():
    own = UsageBuffer()
    own.add(
        UsageRecord(
            at="2026-11-27T12:00:00Z",
            kind="map",
            method="GET",
            dataset="",
            status=200,
            duration_ms=5,
            visitor="0" * 16,
        )
    )
    own.start(every=0.05)
    deadline = time.monotonic() + 5
    while not UsageRecord.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    own.stop()
    assert UsageRecord.objects.count() == 1 and len(own) == 0


def test_a_full_buffer_drops_the_oldest_and_counts_them():
    small = UsageBuffer(limit=2)
    for kind in ("a", "b", "c"):
        small.add(UsageRecord(kind=kind, method="GET", status=200, duration_ms=1, visitor="x"))
    assert len(small) == 2 and small.dropped == 1


def test_behind_trusted_proxies_the_visitor_is_the_forwarded_client(client, settings):
    """Behind the deployment's proxy every request comes from the proxy's address: the visitor
    code is the client's, as the proxy vouches for it, whatever the client wrote before it."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    client.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9",
               HTTP_USER_AGENT="Firefox")  # fmt: skip
    client.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.9",
               HTTP_USER_AGENT="Firefox")  # fmt: skip
    client.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7",
               HTTP_USER_AGENT="Firefox")  # fmt: skip
    buffer.flush()
    first, forged, other = UsageRecord.objects.order_by("id")
    assert first.visitor == forged.visitor == visitor_hash("203.0.113.9", "Firefox", first.at)
    assert other.visitor == visitor_hash("198.51.100.7", "Firefox", other.at)


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client):
    client.get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.7",
               HTTP_USER_AGENT="Firefox")  # fmt: skip
    buffer.flush()
    record = UsageRecord.objects.get()
    assert record.visitor == visitor_hash("203.0.113.9", "Firefox", record.at)


def test_the_visitor_of_a_request_answered_ahead_of_django_is_the_forwarded_client(settings):
    """Public tiles are answered from the WSGI environ (maps/public_tiles.py), by the same rule."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    environ = RequestFactory().get("/").environ | {
        "REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "192.0.2.1, 203.0.113.9",
        "HTTP_USER_AGENT": "Firefox",
    }  # fmt: skip
    day = datetime(2026, 11, 27)
    assert request_visitor_hash(WSGIRequest(environ), day) == visitor_hash(
        "203.0.113.9", "Firefox", day
    )
