"""Public tiles answered ahead of Django (maps/public_tiles.py): the same answers as the tile
view, only for requests that need nothing per person, and never from what PostgreSQL has said
is out of date.

The tests call the WSGI application as gunicorn does, on committed data (transactional tests),
so that the catalogue's notifications really reach the listener thread.
"""

import gzip
import io
import socket
import threading
import time
from collections.abc import Callable

import pytest
from django.core.wsgi import get_wsgi_application
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from infraplan.catalogue.models import Dataset
from infraplan.catalogue.publishing import (
    FeatureRow,
    version_add_features,
    version_publish,
    version_start,
)
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points
from infraplan.insights.models import UsageRecord
from infraplan.insights.usage import buffer
from infraplan.maps import public_tiles
from infraplan.maps.public_tiles import LISTENER_NAME, PublicTileApp, public_layers

from .test_tiles import decode, tile_for

pytestmark = pytest.mark.django_db(transaction=True)

ASHFORD_TILE = tile_for(0.8727, 51.1465, 10)
WAIT_SECONDS = 10  # for the listener to hear a committed change: normally milliseconds
# The listener's connections to this database, as PostgreSQL lists them (its application_name).
LISTENER_CONNECTIONS = (
    "FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()"
)


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = int(status.split()[0])
        self.headers = dict(headers)
        self.body = body


def wsgi_get(app: Callable, path: str, headers: dict[str, str] | None = None) -> Answer:
    """GET ``path`` from a WSGI application as a server would (``headers`` as HTTP names)."""
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
    }  # fmt: skip
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    started: list = []
    chunks = app(environ, lambda status, headers, exc_info=None: started.extend([status, headers]))
    body = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return Answer(started[0], started[1], body)


def eventually(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


class CountedApp(PublicTileApp):
    """The application as config/wsgi.py makes it, counting the requests it hands to Django."""

    def __init__(self) -> None:
        django = get_wsgi_application()
        self.to_django = 0

        def counted(environ: dict, start_response: Callable):
            self.to_django += 1
            return django(environ, start_response)

        super().__init__(counted)


@pytest.fixture
def app():
    """A fresh application (made after any settings the test changed first), the listener
    listening, and nothing remembered from other tests."""
    public_tiles.listener.ensure_started()
    assert eventually(lambda: public_layers.listening), "the listener did not start"
    public_layers.forget()
    yield CountedApp
    public_layers.forget()


def to_django(app: CountedApp, call: Callable[[], Answer]) -> tuple[Answer, bool]:
    """The answer of ``call`` and whether ``app`` handed the request to Django."""
    before = app.to_django
    answer = call()
    return answer, app.to_django > before


@pytest.fixture
def sites(personas):
    dataset = dataset_make(slug="public-sites", owner=personas.organisation_a)
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    yield dataset
    # Deleted, not only flushed: deleting a dataset drops its partition of the feature table,
    # which the flush after a transactional test would leave behind.
    Dataset.objects.all().delete()


def tile_url(slug: str) -> str:
    return "/tiles/{}/{}/{}/{}.mvt".format(slug, *ASHFORD_TILE)


def test_config_serves_through_the_fast_path():
    from config.wsgi import application

    assert isinstance(application, PublicTileApp)


def test_a_public_tile_is_answered_as_the_tile_view_answers_it(app, sites, monkeypatch):
    served = app()
    listening_anew(monkeypatch)
    url = tile_url("public-sites")
    gzip_only = {"Accept-Encoding": "gzip"}
    fast, went = to_django(served, lambda: wsgi_get(served, url, gzip_only))
    slow = wsgi_get(served.application, url, gzip_only)

    assert not went
    assert fast.status == slow.status == 200 and fast.body == slow.body
    features = decode(gzip.decompress(fast.body))["public-sites"]["features"]
    assert {feature["properties"]["reference"] for feature in features} == {
        "civic-centre",
        "station",
    }
    ignored = {"Vary", "Content-Length"}
    assert {k: v for k, v in fast.headers.items() if k not in ignored} == {
        k: v for k, v in slow.headers.items() if k not in ignored
    }
    # Django varies public tiles on the cookie too (the gate reads the session); the answer
    # here does not depend on one.
    assert fast.headers["Vary"] == "Accept-Encoding"
    assert fast.headers["Content-Length"] == str(len(fast.body))
    assert "Content-Security-Policy" in fast.headers and "X-Frame-Options" in fast.headers

    again = {**gzip_only, "If-None-Match": fast.headers["ETag"]}
    with CaptureQueriesContext(connection) as queries:
        hit, went = to_django(served, lambda: wsgi_get(served, url, again))
    assert hit.status == 304 and hit.body == b"" and hit.headers["ETag"] == fast.headers["ETag"]
    # No gate, no session: the layer was remembered.
    assert not went and len(queries) == 0, [query["sql"] for query in queries.captured_queries]
    # Only what guides the browser's cache (RFC 9110, 15.4.5): it keeps the tile's other headers.
    assert hit.headers == {
        "ETag": fast.headers["ETag"], "Vary": "Accept-Encoding",
        "Cache-Control": "public, max-age=300",
    }  # fmt: skip
    assert wsgi_get(served.application, url, again).status == 304


def test_an_empty_tile_is_no_content_either_way(app, sites):
    served = app()
    url = "/tiles/public-sites/10/0/0.mvt"
    fast, slow = wsgi_get(served, url), wsgi_get(served.application, url)
    assert fast.status == slow.status == 204 and fast.body == slow.body == b""
    assert "Content-Type" not in fast.headers and "Content-Type" not in slow.headers


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("?as_of=2026-01-01", {}, 204),  # published after that date
        ("?ended=show", {}, 200),
        ("", {"Authorization": "Bearer abc"}, 401),
        ("?v=1&token=abc", {}, 400),  # Django refuses tokens in addresses
    ],
    ids=["a date", "ended features", "a token", "another parameter"],
)
def test_requests_that_need_more_than_the_tile_go_to_django(app, sites, query, headers, status):
    served = app()
    wsgi_get(served, tile_url("public-sites"))  # the layer is remembered
    answer, went = to_django(
        served, lambda: wsgi_get(served, tile_url("public-sites") + query, headers)
    )
    assert went and answer.status == status
    assert not to_django(served, lambda: wsgi_get(served, tile_url("public-sites") + "?v=1-abc"))[1]


def test_restricted_unknown_and_out_of_range_tiles_are_djangos_404s(app, sites, restricted):
    served = app()
    for url in [
        tile_url("a-only-sites"),
        tile_url("no-such-layer"),
        "/tiles/public-sites/3/0/8.mvt",
    ]:
        answer, went = to_django(served, lambda: wsgi_get(served, url))  # noqa: B023
        assert went and answer.status == 404 and b"<html" in answer.body  # the service's page


def test_a_layer_restricted_is_no_longer_served_once_postgresql_says_so(app, sites):
    served = app()
    url = tile_url("public-sites")
    assert wsgi_get(served, url).status == 200

    sites.access_level = "organisations"
    sites.save()

    assert eventually(lambda: wsgi_get(served, url).status == 404)


def test_a_new_version_changes_the_etag_once_postgresql_says_so(app, sites):
    served = app()
    url = tile_url("public-sites")
    first = wsgi_get(served, url)

    version_publish_points(dataset=sites, points={"station": ASHFORD_POINTS["station"]})

    assert eventually(lambda: wsgi_get(served, url).headers["ETag"] != first.headers["ETag"])
    after, went = to_django(
        served, lambda: wsgi_get(served, url, {"If-None-Match": first.headers["ETag"]})
    )
    assert not went
    assert after.status == 200 and len(decode(after.body)["public-sites"]["features"]) == 1


def test_nothing_is_kept_while_nobody_listens(app, sites, monkeypatch):
    """Notifications sent while the listener's connection is down are lost: until it listens
    again, every request goes to Django, and what was kept before is forgotten."""
    monkeypatch.setattr(public_tiles, "LISTENER_RETRY_SECONDS", 0.5)
    served = app()
    url = tile_url("public-sites")
    assert not to_django(served, lambda: wsgi_get(served, url))[1]
    listener_cut_off()
    assert eventually(lambda: not public_layers.listening)

    answer, went = to_django(served, lambda: wsgi_get(served, url))
    assert went and answer.status == 200

    assert eventually(lambda: public_layers.listening)
    answer, went = to_django(served, lambda: wsgi_get(served, url))
    assert not went and answer.status == 200


def listener_cut_off() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            [LISTENER_NAME],
        )
        assert cursor.fetchone() == (True,)


def listening_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut the listener off and wait until it has listened again, on a new connection.

    Every catalogue change committed before (the fixtures' data, the flush after the test
    before) notifies the listener, which forgets what is kept when it hears of one: in its own
    thread, so at no set moment, on a busy machine after the test's first request has kept the
    layer. A new connection hears none of them (a notification reaches only the connections
    listening when it is sent) and forgets everything before it serves: from then on, what is
    kept stays kept until the catalogue changes again.
    """
    monkeypatch.setattr(public_tiles, "LISTENER_RETRY_SECONDS", 0.1)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT pid, backend_start, pg_terminate_backend(pid) {LISTENER_CONNECTIONS}",
            [LISTENER_NAME],
        )
        cut_off = {(pid, started) for pid, started, _ in cursor.fetchall()}

    def listening_on_a_new_connection() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT pid, backend_start {LISTENER_CONNECTIONS}", [LISTENER_NAME])
            new = set(cursor.fetchall()) - cut_off
        # The listener makes a new connection only after it stopped serving from the old one:
        # serving now, it has heard its own notification on the new one.
        return bool(new) and public_layers.listening

    assert eventually(listening_on_a_new_connection)


def test_a_listener_that_does_not_hear_its_own_notification_serves_nothing(app, sites, monkeypatch):
    """Through a connection pooler in transaction mode LISTEN succeeds and nothing is heard:
    the listener must notice, rather than keep layers it will never be told have changed."""
    monkeypatch.setattr(public_tiles, "LISTENER_RETRY_SECONDS", 0.2)
    monkeypatch.setattr(public_tiles, "PROBE_SECONDS", 0.3)
    monkeypatch.setattr(
        public_tiles.CatalogueListener, "_send_probe", lambda self, params, probe: None
    )
    served = app()
    listener_cut_off()
    assert eventually(lambda: not public_layers.listening)
    time.sleep(1)  # several attempts to listen again, each deaf

    assert not public_layers.listening
    answer, went = to_django(served, lambda: wsgi_get(served, tile_url("public-sites")))
    assert went and answer.status == 200

    monkeypatch.undo()  # notifications are heard again
    assert eventually(lambda: public_layers.listening)


def test_tiles_answered_here_are_in_the_usage_log(app, sites):
    served = app()
    buffer.flush()
    UsageRecord.objects.all().delete()
    wsgi_get(served, tile_url("public-sites"), {"User-Agent": "Firefox"})
    assert buffer.flush() == 1
    record = UsageRecord.objects.get()
    assert (record.kind, record.dataset, record.status, record.user_id) == (
        "tile", "public-sites", 200, None
    )  # fmt: skip


def test_over_https_the_same_security_headers_as_django(app, sites, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 12_345
    served = app()
    https = {"X-Forwarded-Proto": "https"}
    fast, went = to_django(served, lambda: wsgi_get(served, tile_url("public-sites"), https))
    slow = wsgi_get(served.application, tile_url("public-sites"), https)
    assert not went
    assert fast.headers["Strict-Transport-Security"].startswith("max-age=12345")
    assert fast.headers["Strict-Transport-Security"] == slow.headers["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in wsgi_get(served, tile_url("public-sites")).headers


def test_plain_http_is_redirected_by_django_when_https_is_required(app, sites, settings):
    settings.SECURE_SSL_REDIRECT = True
    served = app()
    answer, went = to_django(served, lambda: wsgi_get(served, tile_url("public-sites")))
    assert went and answer.status == 301 and answer.headers["Location"].startswith("https://")


def test_a_host_not_allowed_is_refused_by_django(app, sites, settings):
    settings.ALLOWED_HOSTS = ["infraplan.example"]
    served = app()
    answer, went = to_django(served, lambda: wsgi_get(served, tile_url("public-sites")))
    assert went and answer.status == 400
    allowed = {"Host": "infraplan.example"}
    answer, went = to_django(served, lambda: wsgi_get(served, tile_url("public-sites"), allowed))
    assert not went and answer.status == 200


def test_signed_in_people_are_answered_here_too_their_usage_named(
    app, sites, restricted, personas, client_as, monkeypatch
):
    """A public tile is the same for them; their session is read once, for the usage log."""
    served = app()
    signed_in = client_as(personas.viewer_a)
    cookie = {"Cookie": f"csrftoken=x; sessionid={signed_in.cookies['sessionid'].value}"}
    buffer.flush()
    UsageRecord.objects.all().delete()
    listening_anew(monkeypatch)

    answer, went = to_django(served, lambda: wsgi_get(served, tile_url("public-sites"), cookie))
    assert not went and answer.status == 200
    with CaptureQueriesContext(connection) as queries:
        again = wsgi_get(served, tile_url("public-sites"), cookie)
    # The session was read once.
    assert again.status == 200 and len(queries) == 0, [
        query["sql"] for query in queries.captured_queries
    ]
    nobody = {"Cookie": "sessionid=no-such-session-at-all"}
    answer, went = to_django(served, lambda: wsgi_get(served, tile_url("public-sites"), nobody))
    assert not went and answer.status == 200

    assert buffer.flush() == 3
    assert list(UsageRecord.objects.order_by("id").values_list("user_id", flat=True)) == [
        personas.viewer_a.pk, personas.viewer_a.pk, None
    ]  # fmt: skip
    # Their restricted layers still go through Django's gate.
    answer, went = to_django(served, lambda: wsgi_get(served, tile_url("a-only-sites"), cookie))
    assert went and answer.status == 200


def test_made_up_session_cookies_are_neither_read_nor_kept(app, sites, monkeypatch):
    served = app()
    listening_anew(monkeypatch)
    wsgi_get(served, tile_url("public-sites"))  # the layer is remembered
    kept = len(public_tiles.session_users._users)
    for cookie in ["sessionid=" + "x" * 5000, "sessionid=NOT-A-KEY", "sessionid=short"]:
        with CaptureQueriesContext(connection) as queries:
            answer, went = to_django(
                served,
                lambda: wsgi_get(served, tile_url("public-sites"), {"Cookie": cookie}),  # noqa: B023
            )
        assert not went and answer.status == 200 and len(queries) == 0, [
            query["sql"] for query in queries.captured_queries
        ]
    assert len(public_tiles.session_users._users) == kept


def test_a_session_django_would_not_accept_names_nobody(app, sites, personas, client_as):
    """After a password change elsewhere, the session's hash no longer matches: Django signs
    it out, and so the usage log names nobody."""
    served = app()
    signed_in = client_as(personas.viewer_a)
    cookie = {"Cookie": f"sessionid={signed_in.cookies['sessionid'].value}"}
    personas.viewer_a.set_password("another long passphrase")
    personas.viewer_a.save()
    buffer.flush()
    UsageRecord.objects.all().delete()

    answer, went = to_django(served, lambda: wsgi_get(served, tile_url("public-sites"), cookie))

    assert not went and answer.status == 200
    assert buffer.flush() == 1 and UsageRecord.objects.get().user_id is None


def test_numbers_longer_than_any_tiles_are_djangos_404(app, sites):
    served = app()
    answer, went = to_django(
        served, lambda: wsgi_get(served, "/tiles/public-sites/1/0/" + "9" * 5000 + ".mvt")
    )
    assert went and answer.status == 404


class FreezableProxy:
    """A TCP proxy to PostgreSQL that can stop passing bytes on while keeping its sockets open,
    as a firewall that drops a connection's state, or a failover without a reset, does."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.frozen = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.server.accept()
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pass_on, args=(source, sink), daemon=True).start()

    def _pass_on(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while self.frozen.is_set():
                    time.sleep(0.05)
                sink.sendall(data)
        except OSError:
            pass


def test_a_listener_connection_gone_silent_stops_the_serving(app, sites, monkeypatch):
    """Nothing is heard through it any more, not even an error: the listener's proofs stop, and
    public tiles go to Django within LISTENER_CHECK_SECONDS + PROBE_SECONDS."""
    params = connection.get_connection_params()
    proxy = FreezableProxy(params.get("host") or "127.0.0.1", int(params.get("port") or 5432))

    class ThroughProxy:
        @staticmethod
        def get_connection_params() -> dict:
            return {**connection.get_connection_params(), "host": "127.0.0.1", "port": proxy.port}

    monkeypatch.setattr(public_tiles, "LISTENER_RETRY_SECONDS", 0.2)
    monkeypatch.setattr(public_tiles, "LISTENER_CHECK_SECONDS", 1)
    monkeypatch.setattr(public_tiles, "PROBE_SECONDS", 0.5)
    monkeypatch.setattr(public_tiles, "connection", ThroughProxy)
    served = app()
    listener_cut_off()  # it listens again, through the proxy
    assert eventually(lambda: public_layers.listening)
    url = tile_url("public-sites")
    assert not to_django(served, lambda: wsgi_get(served, url))[1]

    proxy.frozen.set()
    sites.access_level = "organisations"
    sites.save()
    committed = time.monotonic()

    assert eventually(lambda: wsgi_get(served, url).status == 404)
    assert time.monotonic() - committed < 1 + 0.5 + 1  # the two, and a second to spare
    proxy.frozen.clear()


def test_a_table_has_no_tiles_either_way(app, personas):
    """A dataset without geometry has no tiles to ask for: 404 by both paths, not an empty
    tile that would read as "nothing here"."""
    table = dataset_make(slug="public-list", owner=personas.organisation_a, geometry_type="none")
    version = version_start(actor=None, dataset=table, source="test")
    row = FeatureRow(organisation=table.owner, reference="L1", properties={"name": "L1"},
                     geometry=None)  # fmt: skip
    with transaction.atomic():
        version_add_features(version=version, rows=[row])
        version_publish(actor=None, version=version)
    served = app()
    try:
        url = tile_url("public-list")
        fast, went = to_django(served, lambda: wsgi_get(served, url))
        assert fast.status == 404 and went
        assert wsgi_get(served.application, url).status == 404
    finally:
        Dataset.objects.all().delete()
