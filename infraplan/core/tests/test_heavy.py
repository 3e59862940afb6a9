"""Slots for heavy requests: every web process shares them (PostgreSQL advisory locks), a
request that finds none free is a 503 to retry at once, and every answer gives its slot back,
streamed or not, read to the end or not."""

import psycopg
import pytest
from django.core.signals import request_finished
from django.db import close_old_connections, connection

from infraplan.core.heavy import LOCK_SPACE

pytestmark = pytest.mark.django_db


def slots_held() -> int:
    """Advisory locks of the slots' space held by any session."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s",
            [LOCK_SPACE],
        )
        return cursor.fetchone()[0]


@pytest.fixture
def other_process():
    """Another web process's connection, which can hold a slot."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        yield other


def test_with_every_slot_taken_heavy_requests_are_a_503_to_retry(
    districts, client, settings, other_process
):
    settings.HEAVY_REQUEST_SLOTS = 1
    (taken,) = other_process.execute("SELECT pg_try_advisory_lock(%s, 0)", [LOCK_SPACE]).fetchone()
    assert taken
    busy = {
        "download": client.get("/datasets/districts/download.png"),
        "streamed download": client.get("/datasets/districts/download.csv"),
        "map picture": client.get("/map.png", {"layers": "districts"}),
        "OGC API page": client.get("/ogcapi/collections/districts/items", {"limit": 5000}),
    }
    for what, response in busy.items():
        assert response.status_code == 503, what
        assert response["Retry-After"] == "30", what
        assert response["Cache-Control"] == "no-store", what
    assert busy["download"].content.decode() == (
        "Cannot make this download: the service is busy making other downloads; try again in "
        "a minute."
    )
    assert busy["OGC API page"].json()["code"] == "ServiceUnavailable"
    # Pages and light requests are not held up.
    assert client.get("/datasets/districts/").status_code == 200
    assert client.get("/ogcapi/collections/districts").status_code == 200
    # A page as GIS software pages through a layer is light: never refused.
    assert client.get("/ogcapi/collections/districts/items", {"limit": 1000}).status_code == 200
    other_process.execute("SELECT pg_advisory_unlock(%s, 0)", [LOCK_SPACE])
    assert client.get("/datasets/districts/download.png").status_code == 200


def test_every_answer_gives_its_slot_back(districts, client, settings):
    settings.HEAVY_REQUEST_SLOTS = 1
    assert client.get("/datasets/districts/download.gpkg").status_code == 200
    assert slots_held() == 0
    assert client.get("/map.png", {"layers": "districts"}).status_code == 200
    assert slots_held() == 0
    streamed = client.get("/ogcapi/collections/districts/items", {"limit": 5000})
    assert slots_held() == 1  # held while the page is sent
    b"".join(streamed.streaming_content)
    assert slots_held() == 0
    # A streamed answer closed unread (the client went away) gives its slot back too.
    unread = client.get("/datasets/districts/download.csv")
    assert slots_held() == 1
    # As the server closes it; the test's own database connection stays open.
    request_finished.disconnect(close_old_connections)
    try:
        unread.close()
    finally:
        request_finished.connect(close_old_connections)
    assert slots_held() == 0
    assert client.get("/datasets/districts/download.csv").status_code == 200
