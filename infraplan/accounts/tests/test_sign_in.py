"""Signing in: security events for every attempt, lockout after repeated failures, sessions
that end after a fixed time, and the admin's sign-in sent through the service's."""

import time

import pytest
from django.conf import settings
from django.urls import reverse

from infraplan.accounts.middleware import SIGNED_IN_AT_SESSION_KEY
from infraplan.accounts.models import User
from infraplan.accounts.testing import link_in
from infraplan.core.testing.personas import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, email: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_sign_in_and_failure_are_security_events(personas, client, security_events):
    page = sign_in(client, "viewer@a.example", "not the password").content.decode()
    assert "The email address or password is not correct." in page
    [failed] = security_events("signin.failed")
    assert failed["outcome"] == "failure" and failed["email"] == "viewer@a.example"
    assert failed["client"] == "127.0.0.1"
    assert "not the password" not in str(security_events())  # never the password
    assert sign_in(client, "viewer@a.example").status_code == 302
    [signin] = security_events("signin")
    assert signin["user"] == "viewer@a.example" and signin["outcome"] == "success"


def test_an_unknown_address_fails_like_a_wrong_password(personas, client, security_events):
    unknown = sign_in(client, "nobody@a.example").content.decode()
    wrong = sign_in(client, "viewer@a.example", "not the password").content.decode()
    message = "The email address or password is not correct."
    assert message in unknown and message in wrong
    assert [event["email"] for event in security_events("signin.failed")] == [
        "nobody@a.example", "viewer@a.example",
    ]  # fmt: skip


def test_an_account_is_locked_after_repeated_failures(personas, client, security_events):
    for _ in range(settings.LOGIN_FAILURES_LIMIT):
        assert sign_in(client, "viewer@a.example", "guess").status_code == 200
    assert len(security_events("signin.failed")) == settings.LOGIN_FAILURES_LIMIT
    # Locked: even the right password is refused, and nobody is signed in.
    response = sign_in(client, "viewer@a.example")
    assert response.status_code == 200
    assert (
        "Too many failed attempts to sign in. Try again in 15 minutes" in response.content.decode()
    )
    assert not client.get(reverse("home")).context["user"].is_authenticated
    [locked] = security_events("signin.locked_out")
    assert locked["email"] == "viewer@a.example" and locked["outcome"] == "failure"
    # Other accounts are not locked by it.
    assert sign_in(client, "contributor@a.example").status_code == 302


def test_sessions_end_a_fixed_time_after_sign_in(personas, client):
    assert sign_in(client, "viewer@a.example").status_code == 302
    assert client.get(reverse("account-profile")).status_code == 200
    session = client.session
    session[SIGNED_IN_AT_SESSION_KEY] = time.time() - settings.SESSION_COOKIE_AGE - 1
    session.save()
    response = client.get(reverse("account-profile"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert not client.get(reverse("home")).context["user"].is_authenticated


def test_the_admin_sign_in_is_the_service_sign_in(client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_registration_is_rate_limited_per_client(personas, client, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "2/h/ip"}
    for index in range(2):
        response = client.post(reverse("account_signup"), {"email": f"x{index}@gmail.com"})
        assert response.status_code == 200  # refused for its address, but counted
    response = client.post(
        reverse("account_signup"),
        {"full_name": "Late", "email": "late@a.example", "password1": PASSWORD,
         "password2": PASSWORD},
    )  # fmt: skip
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert not User.objects.filter(email="late@a.example").exists()


def test_password_reset_is_rate_limited_per_address(personas, client, mailoutbox):
    for _ in range(3):
        response = client.post(reverse("account_reset_password"), {"email": "viewer@a.example"})
        assert response.status_code == 302
    assert len(mailoutbox) == 3
    response = client.post(reverse("account_reset_password"), {"email": "viewer@a.example"})
    assert response.status_code == 429
    assert len(mailoutbox) == 3
    # Someone else's reset is not held up by it.
    response = client.post(reverse("account_reset_password"), {"email": "member@b.example"})
    assert response.status_code == 302 and len(mailoutbox) == 4


def test_password_reset_takes_any_address_and_reveals_nothing(
    personas, client, register, mailoutbox
):
    """Platform admins and accounts made on the command line may have an address on no
    organisation's domain; they can still reset their password. Only sign-up checks the domain."""
    response = client.post(reverse("account_reset_password"), {"email": "platform@admin.example"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    [message] = mailoutbox
    assert message.to == ["platform@admin.example"]
    assert "/accounts/password/reset/key/" in message.body

    # An address with no account gets the same answer, and no reset link.
    response = client.post(reverse("account_reset_password"), {"email": "nobody@admin.example"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    assert "/accounts/password/reset/key/" not in "".join(m.body for m in mailoutbox[1:])

    page = register("newcomer@admin.example").content.decode()
    assert "admin.example is not the email domain of any organisation" in page
    assert not User.objects.filter(email="newcomer@admin.example").exists()


def test_an_address_added_to_an_account_is_a_work_address_too(personas, client_as, mailoutbox):
    client = client_as(personas.viewer_a)
    refused = client.post(
        reverse("account_email"), {"action_add": "", "email": "someone@gmail.com"}
    )
    assert "gmail.com is not the email domain of any organisation" in refused.content.decode()
    added = client.post(reverse("account_email"), {"action_add": "", "email": "second@a.example"})
    assert added.status_code == 302
    assert list(personas.viewer_a.emailaddress_set.values_list("email", flat=True).order_by("email")) == [
        "second@a.example", "viewer@a.example"
    ]  # fmt: skip


def test_resetting_a_forgotten_password(personas, client, mailoutbox, security_events):
    client.post(reverse("account_reset_password"), {"email": "viewer@a.example"})
    [message] = mailoutbox
    link = link_in(message, "/accounts/password/reset/key/")
    form_page = client.get(link, follow=True)
    assert "Use at least 12 characters" in form_page.content.decode()
    new = "another long passphrase entirely"
    response = client.post(form_page.redirect_chain[-1][0], {"password1": new, "password2": new})
    assert response.status_code == 302
    assert sign_in(client, "viewer@a.example", new).status_code == 302
    assert security_events("password.reset")[0]["user"] == "viewer@a.example"
    # The link works once.
    client.post(reverse("account_logout"))
    assert "has expired or has been used" in client.get(link, follow=True).content.decode()
