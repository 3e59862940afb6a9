"""Tiles of public layers, answered ahead of Django's per-person request handling.

A public layer's tile is the same for everyone, signed in or not. A request for one that carries
no API token and asks nothing beyond the tile (no ``as_of``, no ``ended``) therefore needs none
of the work every other request does: CSRF, authentication, the session's other checks, the
gate's query. A session cookie is read only to name its user in the usage log (``SessionUsers``). ``PublicTileApp`` wraps the WSGI application and answers such requests with
the tile view's own parts (the same ETag, tile cache, SQL and gzip, by ``tile_answer``), the
same security headers (made by the same middleware) and the same usage record. Every other
request, and any such request it cannot answer, goes to Django unchanged: unknown and
restricted layers, tiles out of range, tokens, dates, hosts not allowed, plain http where HTTPS
is required.

Which layers are public, with their current versions, is kept in each web process
(``PublicLayers``), and dropped whenever PostgreSQL says the catalogue changed: a trigger on the
dataset and version tables notifies ``CATALOGUE_CHANNEL`` (migration catalogue 0008), and a
thread in each process listens (``CatalogueListener``). It proves every few seconds that it
hears, by hearing a notification of its own; while its last proof is not recent, nothing kept
is used and every request goes to Django. Nothing is kept longer than ``PUBLIC_LAYER_SECONDS``.
"""

import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from importlib import import_module

import psycopg
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from infraplan.catalogue.caching import PUBLIC_CACHE_CONTROL
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.sources import FeatureSource, source_for
from infraplan.insights.usage import usage_record

from .selectors import NOW, permitted_dataset
from .tiles import TileAnswer, tile_answer, tile_in_range, tile_version

logger = logging.getLogger(__name__)

CATALOGUE_CHANNEL = "infraplan_catalogue"
# Django's own route for tiles (maps/urls.py), with the ``slug`` and ``int`` converters'
# patterns; numbers longer than any tile's are Django's to refuse.
TILE_PATH = re.compile(
    r"/tiles/(?P<slug>[-a-zA-Z0-9_]+)/(?P<z>[0-9]{1,9})/(?P<x>[0-9]{1,9})/(?P<y>[0-9]{1,9})\.mvt"
)
# The map's tile URLs carry ``v=<tile version>`` only to bust browser caches; anything else in
# the query (a date, ended features) is Django's to read.
VERSION_ONLY_QUERY = re.compile(r"(v=[-a-zA-Z0-9]*)?")
# Middleware that only add headers to a response: the fast path's responses pass through them.
HEADER_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
# Layers (public or not) remembered at most; beyond it all are forgotten, so that requests for
# made-up slugs cannot grow a process's memory.
REMEMBERED_LAYERS = 2_000
# How often the listener proves that it hears notifications, and how long it waits for its
# own to come back; it is trusted for the sum of the two after each proof.
LISTENER_CHECK_SECONDS = 10
PROBE_SECONDS = 5
LISTENER_RETRY_SECONDS = 5
LISTENER_NAME = "infraplan catalogue listener"  # its application_name, seen in pg_stat_activity
# A silent connection (a firewall dropping its state, a failover without a reset) fails within
# about 20 s instead of blocking the listener for ever.
LISTENER_CONNECTION = {
    "connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 5,
    "keepalives_count": 3, "tcp_user_timeout": 20_000,
}  # fmt: skip
# The start of the listener's own notifications (each with a unique end).
PROBE = "probe"
SESSION_USER_SECONDS = 60
# What a session key can be (Django's are 32 lower-case letters and digits; the column holds 40).
SESSION_KEY_FORM = re.compile(r"[a-z0-9]{8,40}")


class SessionUsers:
    """Whom each session cookie signs in, as last read, kept ``seconds``: for the usage log
    only, as a public tile is the same for everyone. A session ended since may name its user
    for that long more."""

    def __init__(self, seconds: float, limit: int = 10_000) -> None:
        self.seconds = seconds
        self.limit = limit
        self._users: dict[str, tuple[int | None, float]] = {}
        self._lock = threading.Lock()

    def user_id(self, request: HttpRequest, session_key: str) -> int | None:
        """The id of the user ``session_key`` signs in, as Django's authentication reads it
        (the session's password hash and the account's being active checked); None for no
        such session, or one that signs nobody in."""
        if not SESSION_KEY_FORM.fullmatch(session_key):
            return None  # no session has such a key: nothing is read or kept
        now = time.monotonic()
        known = self._users.get(session_key)
        if known is not None and now - known[1] < self.seconds:
            return known[0]
        request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        user_id = get_user(request).pk
        with self._lock:
            if len(self._users) >= self.limit:
                self._users.clear()
            self._users[session_key] = (user_id, now)
        return user_id


@dataclass(frozen=True)
class PublicLayer:
    dataset: Dataset
    source: FeatureSource
    version: str


class PublicLayers:
    """The public, published layers by slug, as last read; all forgotten on every change."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        # When the listener last proved that it hears changes (None: it has not, since it
        # started or last stopped hearing).
        self._heard_at: float | None = None
        # slug: (the layer, or None for one the fast path does not serve; when it was read)
        self._layers: dict[str, tuple[PublicLayer | None, float]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def listening(self) -> bool:
        """Whether the listener proved recently enough that it hears changes."""
        heard_at = self._heard_at
        trusted_for = LISTENER_CHECK_SECONDS + PROBE_SECONDS
        return heard_at is not None and time.monotonic() - heard_at < trusted_for

    def heard(self) -> None:
        self._heard_at = time.monotonic()

    def deaf(self) -> None:
        self._heard_at = None
        self.forget()

    def layer(self, slug: str) -> PublicLayer | None:
        """The public layer ``slug`` with a published version, or None: not public, unknown,
        not yet published, a table (no geometry), or the listener has not proved lately that it
        hears changes."""
        if not self.listening:
            return None
        now = time.monotonic()
        with self._lock:
            known = self._layers.get(slug)
            generation = self._generation
        if known is not None and now - known[1] < self.seconds:
            return known[0]
        dataset = permitted_dataset(AnonymousUser(), slug)
        layer = None
        if (
            dataset is not None
            and dataset.is_spatial
            and dataset.annotated_current_version is not None
        ):
            source = source_for(dataset)
            layer = PublicLayer(dataset, source, tile_version(dataset, source))
        with self._lock:
            # Kept only if nothing changed while it was read: a notification that arrived
            # meanwhile may be about this very layer.
            if generation == self._generation:
                if len(self._layers) >= REMEMBERED_LAYERS:
                    self._layers.clear()
                self._layers[slug] = (layer, now)
        return layer

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._layers.clear()


class CatalogueListener:
    """A thread in this process that LISTENs for catalogue changes and makes ``layers`` forget.

    It proves that it hears by sending a notification of its own from another connection and
    hearing it back, when it starts and every ``LISTENER_CHECK_SECONDS``; ``layers`` serves only
    while the last proof is recent (``PublicLayers.heard``). Through a connection pooler in
    transaction mode LISTEN succeeds and nothing is ever heard; a connection can also go silent
    without closing. Either way the proofs stop, and so does the serving, at most
    ``LISTENER_CHECK_SECONDS + PROBE_SECONDS`` after the last one. Everything is forgotten each
    time it starts to listen (notifications sent while nobody listened are lost).
    """

    def __init__(self, layers: PublicLayers) -> None:
        self.layers = layers
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def ensure_started(self) -> None:
        """Start the thread once per process (a forked worker starts its own)."""
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            self.layers.deaf()
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, name="catalogue-listener", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self._listen()
            except ListenerDeaf as deaf:
                logger.warning("catalogue listener: %s", deaf)
            except Exception:  # any failure: log it, stop serving, listen again
                logger.warning("catalogue listener: stopped hearing; retrying", exc_info=True)
            finally:
                self.layers.deaf()
            time.sleep(LISTENER_RETRY_SECONDS)

    def _listen(self) -> None:
        params = {
            **connection.get_connection_params(), **LISTENER_CONNECTION,
            "application_name": LISTENER_NAME,
        }  # fmt: skip
        with psycopg.connect(**params, autocommit=True) as listening:
            listening.execute(f"LISTEN {CATALOGUE_CHANNEL}")
            first = True
            while True:
                self._hear_own_probe(listening, params)
                if first:  # what changed before the LISTEN was never heard
                    self.layers.forget()
                    first = False
                self.layers.heard()
                next_probe = time.monotonic() + LISTENER_CHECK_SECONDS
                while (left := next_probe - time.monotonic()) > 0:
                    for notification in listening.notifies(timeout=left, stop_after=1):
                        if not notification.payload.startswith(PROBE):
                            self.layers.forget()

    def _hear_own_probe(self, listening: psycopg.Connection, params: dict) -> None:
        """Send a notification of this listener's own from another connection and hear it
        within ``PROBE_SECONDS``, or raise ``ListenerDeaf``. Catalogue changes heard meanwhile
        are acted on; other listeners' probes are passed over."""
        probe = f"{PROBE} {uuid.uuid4().hex}"
        self._send_probe(params, probe)
        deadline = time.monotonic() + PROBE_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            for notification in listening.notifies(timeout=left, stop_after=1):
                if notification.payload == probe:
                    return
                if not notification.payload.startswith(PROBE):
                    self.layers.forget()
        raise ListenerDeaf(
            f"its own notification on {CATALOGUE_CHANNEL} did not come back within "
            f"{PROBE_SECONDS} s: public tiles go to Django until one does (is the database "
            "reached through a pooler in transaction mode?)"
        )

    def _send_probe(self, params: dict, probe: str) -> None:
        sending = {**params, "application_name": f"{LISTENER_NAME} (probe)"}
        with psycopg.connect(**sending, autocommit=True) as sender:
            sender.execute("SELECT pg_notify(%s, %s)", [CATALOGUE_CHANNEL, probe])


class ListenerDeaf(Exception):
    """Notifications do not reach the listener's connection."""


public_layers = PublicLayers(seconds=settings.PUBLIC_LAYER_SECONDS)
listener = CatalogueListener(public_layers)
session_users = SessionUsers(seconds=SESSION_USER_SECONDS)


@dataclass(frozen=True)
class _Served:
    slug: str
    secure: bool  # asked over HTTPS
    user_id: int | None  # for the usage log
    request: WSGIRequest  # for the usage log
    answer: TileAnswer


class PublicTileApp:
    """WSGI: public tiles answered here (see the module's docstring); all else to ``application``."""

    def __init__(self, application: Callable) -> None:
        self.application = application
        # The headers the project's header-only middleware add, by whether the request came
        # over HTTPS (HSTS, say): the same for every response, so made once each.
        self._security_headers: dict[bool, list[tuple[str, str]]] = {}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.monotonic()
        served = self._served(environ)
        if served is None:
            return self.application(environ, start_response)
        answer = served.answer
        headers = [*answer.headers(), ("Cache-Control", PUBLIC_CACHE_CONTROL)]
        # A 304 carries only what guides the browser's cache (RFC 9110, 15.4.5): the browser
        # keeps the headers it stored with the tile, security headers included.
        if answer.status != 304:
            headers += [
                ("Content-Length", str(len(answer.body))),
                *self._security_headers[served.secure],
            ]
        start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", headers)
        if settings.USAGE_LOG_ENABLED:
            usage_record(
                kind="tile", method="GET", dataset=served.slug, user_id=served.user_id,
                status=answer.status,
                duration_ms=round((time.monotonic() - started) * 1000),
                request=served.request,
            )  # fmt: skip
        return [answer.body]

    def _served(self, environ: dict) -> _Served | None:
        """What to answer, if this request is one the fast path answers; else None."""
        if environ.get("REQUEST_METHOD") != "GET" or "HTTP_AUTHORIZATION" in environ:
            return None
        match = TILE_PATH.fullmatch(environ.get("PATH_INFO", ""))
        if match is None or not VERSION_ONLY_QUERY.fullmatch(environ.get("QUERY_STRING", "")):
            return None
        z, x, y = int(match["z"]), int(match["x"]), int(match["y"])
        if not tile_in_range(z, x, y):
            return None
        request = WSGIRequest(environ)
        try:
            request.get_host()  # a Host not in ALLOWED_HOSTS is Django's to refuse
        except DisallowedHost:
            return None
        secure = request.is_secure()
        if settings.SECURE_SSL_REDIRECT and not secure:
            return None  # Django's to redirect
        if secure not in self._security_headers:
            self._security_headers[secure] = _headers_added_by_middleware(request)
        listener.ensure_started()
        try:
            layer = public_layers.layer(match["slug"])
            if layer is None:
                return None
            session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
            user_id = session_users.user_id(request, session_key) if session_key else None
            answer = tile_answer(
                layer.dataset, z, x, y, source=layer.source, version=layer.version, moment=NOW,
                accept_encoding=environ.get("HTTP_ACCEPT_ENCODING", ""),
                if_none_match=environ.get("HTTP_IF_NONE_MATCH", ""),
            )  # fmt: skip
        except DatabaseError:
            logger.warning("public tile: database error; handing the request to Django")
            return None
        return _Served(
            slug=layer.dataset.slug, secure=secure, user_id=user_id, request=request, answer=answer
        )


def _headers_added_by_middleware(request: HttpRequest) -> list[tuple[str, str]]:
    """The headers the project's header-only middleware (``HEADER_MIDDLEWARE``, in their
    settings order) add to a response to ``request``."""
    blank = HttpResponse()
    before = set(blank.headers)

    def handler(request: HttpRequest) -> HttpResponse:
        return blank

    for path in reversed([name for name in settings.MIDDLEWARE if name in HEADER_MIDDLEWARE]):
        handler = import_string(path)(handler)
    response = handler(request)
    return [(name, value) for name, value in response.items() if name not in before]
