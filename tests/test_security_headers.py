"""The security baseline on real responses: through the test client and through a live server."""

import urllib.error
import urllib.request

import pytest
from django.test import Client, override_settings

BASELINE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains; preload"


def assert_baseline(headers) -> None:
    for name, value in BASELINE.items():
        assert headers.get(name) == value, name
    policy = headers.get("Content-Security-Policy")
    assert "script-src 'self'" in policy  # and the page's nonce, when the page uses one
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/privacy/", "/accounts/login/", "/healthz"])
def test_every_response_carries_the_baseline(path):
    assert_baseline(Client().get(path).headers)


@pytest.mark.django_db
def test_hsts_is_sent_on_https_only():
    assert Client().get("/privacy/").headers.get("Strict-Transport-Security") is None
    response = Client().get("/privacy/", secure=True)
    assert response.headers["Strict-Transport-Security"] == HSTS


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https_except_the_health_probe():
    with override_settings(SECURE_SSL_REDIRECT=True):
        response = Client().get("/privacy/?x=1")
        assert response.status_code == 301
        assert response["Location"] == "https://testserver/privacy/?x=1"
        assert Client().get("/healthz").status_code in (200, 503)
        assert Client().get("/privacy/", secure=True).status_code == 200


@pytest.mark.django_db
def test_a_form_post_without_its_csrf_token_is_refused(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.viewer_a)
    assert client.post("/accounts/tokens/new/", {"name": "x"}).status_code == 403
    assert client.post("/accounts/logout/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_live_server_sends_the_baseline(live_server):
    with urllib.request.urlopen(f"{live_server.url}/privacy/", timeout=10) as response:  # noqa: S310
        assert response.status == 200
        assert_baseline(response.headers)
        body = response.read().decode()
    assert "<script>" not in body  # no inline script: every script is a file of ours
