"""Sign-in limits count each client, not the proxy in front of the service: behind the
deployment's own proxies (TRUSTED_PROXY_COUNT or TRUSTED_CLIENT_IP_HEADER) the client's address
is the one the proxies vouch for, and without them X-Forwarded-For is ignored. The limits hold
as long as the lockout message says."""

from types import SimpleNamespace

import pytest
from allauth.core.internal import ratelimit
from django.conf import settings
from django.test import Client
from django.urls import reverse

from infraplan.core.testing.personas import PASSWORD

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.1"  # every request reaches the service from its proxy
FAILURES_PER_ADDRESS = 20  # ACCOUNT_RATE_LIMITS["login_failed"], per address
LOCKED = "Too many failed attempts to sign in. Try again in 15 minutes"


def sign_in(client: Client, email: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def fail_from(client: Client, times: int = FAILURES_PER_ADDRESS) -> None:
    """Failed sign-ins with made-up addresses: no account is locked, only the address counts."""
    for attempt in range(times):
        page = sign_in(client, f"made-up-{attempt}@a.example", "guess").content.decode()
        assert "The email address or password is not correct." in page


@pytest.fixture
def clock(monkeypatch):
    """The rate limits' clock, moved on by hand (``clock.now += seconds``)."""
    import time

    fake = SimpleNamespace(now=time.time(), monotonic=time.monotonic, sleep=time.sleep)
    fake.time = lambda: fake.now
    monkeypatch.setattr(ratelimit, "time", fake)
    return fake


@pytest.fixture
def one_proxy(settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1


def test_the_per_address_limit_counts_forwarded_clients_separately(personas, one_proxy):
    attacker = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.66")
    officer = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.7")

    fail_from(attacker)
    assert LOCKED in sign_in(attacker, "viewer@a.example").content.decode()
    # The officer, who failed nothing, comes through the same proxy and signs in.
    assert sign_in(officer, "viewer@a.example").status_code == 302


def test_a_forged_left_most_forwarded_address_does_not_escape_the_limit(personas, one_proxy):
    """Each attempt claims another address, but the proxy appends the one it saw."""
    client = Client(REMOTE_ADDR=PROXY)
    for attempt in range(FAILURES_PER_ADDRESS):
        forged = f"192.0.2.{attempt + 1}, 203.0.113.66"
        response = client.post(
            reverse("account_login"),
            {"login": f"made-up-{attempt}@a.example", "password": "guess"},
            HTTP_X_FORWARDED_FOR=forged,
        )
        assert LOCKED not in response.content.decode()
    response = client.post(
        reverse("account_login"),
        {"login": "viewer@a.example", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="192.0.2.200, 203.0.113.66",
    )
    assert LOCKED in response.content.decode()


def test_without_trusted_proxies_x_forwarded_for_is_ignored(personas):
    client = Client(REMOTE_ADDR="203.0.113.66")
    for attempt in range(FAILURES_PER_ADDRESS):
        client.post(
            reverse("account_login"),
            {"login": f"made-up-{attempt}@a.example", "password": "guess"},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{attempt + 1}",
        )
    response = client.post(
        reverse("account_login"),
        {"login": "viewer@a.example", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert LOCKED in response.content.decode()


def test_a_trusted_client_address_header_names_the_client(personas, settings, security_events):
    settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = "X-Real-IP"
    attacker = Client(REMOTE_ADDR=PROXY, HTTP_X_REAL_IP="203.0.113.66")
    officer = Client(REMOTE_ADDR=PROXY, HTTP_X_REAL_IP="198.51.100.7")

    fail_from(attacker)
    assert LOCKED in sign_in(attacker, "viewer@a.example").content.decode()
    assert sign_in(officer, "viewer@a.example").status_code == 302
    assert {event["client"] for event in security_events("signin.failed")} == {"203.0.113.66"}
    [signin] = security_events("signin")
    assert signin["client"] == "198.51.100.7"


def test_security_events_name_the_forwarded_client(personas, one_proxy, security_events):
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.66")
    sign_in(client, "viewer@a.example", "guess")
    sign_in(client, "viewer@a.example")

    [failed] = security_events("signin.failed")
    [signin] = security_events("signin")
    assert failed["client"] == signin["client"] == "203.0.113.66"


def test_an_address_blocked_for_failures_stays_blocked_as_long_as_the_message_says(personas, clock):
    client = Client(REMOTE_ADDR="203.0.113.66")
    fail_from(client)
    message = f"Try again in {settings.LOGIN_LOCKOUT_MINUTES} minutes."

    page = sign_in(client, "viewer@a.example").content.decode()
    assert LOCKED in page and message in page
    clock.now += 61
    assert message in sign_in(client, "viewer@a.example").content.decode()
    clock.now += settings.LOGIN_LOCKOUT_MINUTES * 60 - 61
    assert sign_in(client, "viewer@a.example").status_code == 302


def test_a_locked_account_stays_locked_as_long_as_the_message_says(personas, clock):
    client = Client(REMOTE_ADDR="203.0.113.66")
    for _ in range(settings.LOGIN_FAILURES_LIMIT):
        sign_in(client, "viewer@a.example", "guess")
    message = f"Try again in {settings.LOGIN_LOCKOUT_MINUTES} minutes."

    assert message in sign_in(client, "viewer@a.example").content.decode()
    clock.now += settings.LOGIN_LOCKOUT_MINUTES * 60 - 1
    assert message in sign_in(client, "viewer@a.example").content.decode()
    clock.now += 1
    assert sign_in(client, "viewer@a.example").status_code == 302
