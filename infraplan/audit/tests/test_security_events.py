"""Security events for role changes and for restricted data leaving the service as a picture or
a table (sign-in and token events are tested with their features); no key from a link in an
email is ever written to the log."""

import json

import pytest
from django.urls import reverse

from infraplan.accounts.services import membership_set
from infraplan.accounts.testing import link_in
from infraplan.audit.security import security_event

pytestmark = pytest.mark.django_db


def test_a_role_change_is_a_security_event(personas, security_events):
    membership_set(
        actor=personas.admin_a, user=personas.viewer_a, organisation=personas.organisation_a,
        role="data_manager",
    )  # fmt: skip
    membership_set(
        actor=personas.platform_admin, user=personas.member_b,
        organisation=personas.organisation_a, role="viewer",
    )  # fmt: skip
    # Setting the role someone already has changes nothing and says nothing.
    membership_set(
        actor=personas.admin_a, user=personas.viewer_a, organisation=personas.organisation_a,
        role="data_manager",
    )  # fmt: skip

    changed, granted = security_events("role.changed")
    assert (changed["user"], changed["subject"], changed["organisation"]) == (
        "admin@a.example", "viewer@a.example", "org-a",
    )  # fmt: skip
    assert (changed["before"], changed["after"]) == ("viewer", "data_manager")
    assert (granted["before"], granted["after"], granted["user"]) == (
        None, "viewer", "platform@admin.example",
    )  # fmt: skip


@pytest.mark.parametrize("url", ["/map.png?layers={layers}", "/map/features/?layers={layers}"])
def test_a_picture_or_table_of_restricted_data_is_a_security_event(
    personas, client_as, districts, restricted, security_events, url
):
    member, outsider = client_as(personas.viewer_a), client_as(personas.member_b)

    assert member.get(url.format(layers="districts")).status_code == 200
    assert outsider.get(url.format(layers="districts,a-only-sites")).status_code == 200
    assert not security_events("export.restricted")  # public only: nothing restricted left

    assert member.get(url.format(layers="districts,a-only-sites")).status_code == 200
    (event,) = security_events("export.restricted")
    assert event["user"] == "viewer@a.example"
    assert event["datasets"] == ["a-only-sites"]
    assert event["format"] == ("png" if "png" in url else "table")


def test_an_email_confirmation_key_stays_out_of_the_log(
    personas, client, mailoutbox, security_events
):
    password = "a long and unusual passphrase"
    client.post(
        "/accounts/signup/",
        {"full_name": "New Officer", "email": "new.officer@a.example",
         "password1": password, "password2": password},
    )  # fmt: skip
    link = link_in(mailoutbox[0], "/accounts/confirm-email/")
    key = link.removeprefix("/accounts/confirm-email/").strip("/")

    assert client.post(link).status_code == 302

    (started,) = security_events("registration.started")
    assert started["path"] == "/accounts/confirm-email/…/"
    assert all(key not in json.dumps(event) for event in security_events())


def test_a_password_reset_key_stays_out_of_the_log(personas, client, mailoutbox, rf):
    client.post(reverse("account_reset_password"), {"email": "viewer@a.example"})
    link = link_in(mailoutbox[-1], "/accounts/password/reset/key/")
    key = link.removeprefix("/accounts/password/reset/key/").strip("/")

    event = security_event("signin.failed", outcome="failure", request=rf.get(link))

    assert event["path"] == "/accounts/password/reset/key/…/"
    assert key not in json.dumps(event)
    # Paths without a key are logged as they are.
    assert security_event("signin", request=rf.get("/accounts/login/"))["path"] == (
        "/accounts/login/"
    )
