import json
import logging
import os

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from infraplan.accounts.testing import session_two_factor_record
from infraplan.core.testing.console import console_environ
from infraplan.core.testing.data import (
    ASHFORD_POINTS,
    dataset_make,
    demo_dataset_load,
    version_publish_points,
)
from infraplan.core.testing.personas import make_personas
from infraplan.maps.tiles import tile_cache


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    tile_cache.clear()


@pytest.fixture(autouse=True)
def heavy_slots_given_back(django_db_blocker):
    """A web server closes every streamed answer, read or not, which gives its heavy-request
    slot back (``core.heavy``); the test client closes only those a test reads to the end. A
    slot is a session lock, which outlives the test's rolled-back transaction: each test gives
    back any it left taken."""
    yield
    with django_db_blocker.unblock():
        if connection.connection is not None and not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock_all()")


@pytest.fixture
def personas(db):
    return make_personas()


@pytest.fixture
def client_as():
    """A test client signed in as the given user (or anonymous for None/AnonymousUser), as
    after a full sign-in: with a second factor, which admins need for admin functions
    (``two_factor=False`` for a session without one)."""

    def make(user, *, two_factor: bool = True) -> Client:
        client = Client()
        if user is not None and user.is_authenticated:
            client.force_login(user)
            if two_factor:
                session_two_factor_record(client, user)
        return client

    return make


@pytest.fixture
def security_events(caplog):
    """The security events written during the test, parsed; call with a kind to filter.

    The ``infraplan.security`` logger does not propagate to the root logger that caplog
    watches, so its handler is attached to that logger itself.
    """
    logger = logging.getLogger("infraplan.security")
    logger.addHandler(caplog.handler)

    def events(kind: str | None = None) -> list[dict]:
        parsed = [
            json.loads(record.getMessage())
            for record in caplog.records
            if record.name == "infraplan.security"
        ]
        return [event for event in parsed if kind is None or event["event"] == kind]

    yield events
    logger.removeHandler(caplog.handler)


@pytest.fixture
def districts(db):
    """The real districts dataset, loaded from the repository's demo data."""
    return demo_dataset_load("districts")


@pytest.fixture
def restricted(personas):
    """A points dataset only organisation A may see."""
    dataset = dataset_make(
        slug="a-only-sites", owner=personas.organisation_a, access_level="organisations"
    )
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    return dataset


def pytest_configure(config):
    from django.conf import settings

    # Hashing the personas' passwords with PBKDF2 would dominate the suite's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The usage log's flusher thread would write outside each test's transaction; tests flush
    # the buffer themselves (tests of the thread use their own buffer).
    settings.USAGE_LOG_FLUSH_SECONDS = 3600
    # Rate limits and lockouts count in the cache: in tests, one in memory, emptied before each
    # test (fresh_cache) so that no test is locked out by another's sign-ins.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Test servers (the test client, live_server, the browser tests' gunicorn) speak plain http,
    # like `make run`: no redirect to https (tests/test_security_headers.py covers it).
    settings.SECURE_SSL_REDIRECT = False
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    # Sources are saved only with addresses on hosts the platform may fetch from. The tests'
    # sources name example.org and its subdomains (reserved for examples, RFC 2606), which no
    # test fetches; the tests that fetch set lists of their own.
    allowed = [*settings.OUTBOUND_ALLOWED_HOSTS, "example.org", "*.example.org"]
    settings.OUTBOUND_ALLOWED_HOSTS = allowed
    os.environ["OUTBOUND_ALLOWED_HOSTS"] = ",".join(allowed)


@pytest.fixture
def environ(tmp_path) -> dict[str, str]:
    """A valid environment for the ``infraplan`` console script, built from scratch."""
    return console_environ(tmp_path)
