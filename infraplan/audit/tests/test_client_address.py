"""The client's address, one rule for the rate limits, security events and the usage log: the
proxies of the deployment's own are trusted as far as settings say, and no further."""

import pytest
from django.test import RequestFactory

from infraplan.audit.security import client_address, security_event

PROXY = "10.0.0.1"


def request(**meta: str):
    return RequestFactory().get("/", REMOTE_ADDR=PROXY, **meta)


def test_with_no_proxy_trusted_it_is_the_connection_s_address():
    assert client_address(request(HTTP_X_FORWARDED_FOR="203.0.113.9")) == PROXY
    assert client_address(request(HTTP_X_REAL_IP="203.0.113.9")) == PROXY


@pytest.mark.parametrize(
    ("proxies", "forwarded", "client"),
    [
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "192.0.2.1, 203.0.113.9", "203.0.113.9"),  # the left-most is the client's to write
        (1, "192.0.2.1,203.0.113.9", "203.0.113.9"),
        (2, "192.0.2.1, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (1, "2001:db8::9", "2001:db8::9"),
    ],
)
def test_behind_trusted_proxies_it_is_the_address_they_were_given(
    settings, proxies, forwarded, client
):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxies
    assert client_address(request(HTTP_X_FORWARDED_FOR=forwarded)) == client


def test_behind_a_trusted_proxy_a_request_without_x_forwarded_for_is_the_connection_s(settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    assert client_address(request()) == PROXY


def test_a_trusted_header_names_the_client(settings):
    settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = "X-Real-IP"
    assert client_address(request(HTTP_X_REAL_IP="203.0.113.9")) == "203.0.113.9"
    # Without the header, or with something other than an address in it, the client is unknown.
    assert client_address(request(HTTP_X_FORWARDED_FOR="203.0.113.9")) is None
    assert client_address(request(HTTP_X_REAL_IP="somewhere")) is None


def test_a_security_event_names_the_forwarded_client(settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    event = security_event("signin", request=request(HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.9"))
    assert event["client"] == "203.0.113.9"


def test_an_event_without_a_request_names_no_client():
    assert security_event("user.deactivated")["client"] is None
