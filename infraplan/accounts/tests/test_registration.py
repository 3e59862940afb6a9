"""Registration with approval: register, verify the address, wait, be approved or rejected.

Every step through the real pages and the real emails (Django's locmem outbox).
"""

import time

import pytest
from allauth.account import app_settings as allauth_settings
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import signing
from django.test import Client
from django.urls import reverse

from infraplan.accounts.models import Membership, Registration, User
from infraplan.accounts.testing import link_in
from infraplan.audit.models import AuditEntry
from infraplan.core.testing.personas import PASSWORD

pytestmark = pytest.mark.django_db


def verify(client: Client, message) -> object:
    """Follow the verification link in ``message`` and confirm, as the person would."""
    link = link_in(message, "/accounts/confirm-email/")
    page = client.get(link)
    assert page.status_code == 200 and "Confirm" in page.content.decode()
    return client.post(link)


def sign_in(client: Client, email: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_registration_waits_for_approval_and_the_admin_approves_it(
    personas, register, client, client_as, mailoutbox, security_events
):
    response = register("new.officer@a.example")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="new.officer@a.example")
    assert user.full_name == "New Officer"
    assert not Registration.objects.exists()  # nothing to approve until the address is proven
    [verification] = mailoutbox
    assert verification.to == ["new.officer@a.example"]
    # The service greets by its name, not by the host the request came in by.
    service = settings.AUTHORITY_PROFILE.authority.service_name
    assert verification.body.startswith(f"Hello from {service}!")
    assert f"Thank you for using {service}!\n127.0.0.1:8000" in verification.body

    response = verify(client, verification)
    assert response.status_code == 302 and response["Location"] == reverse("registration-waiting")
    assert "waiting for approval" in client.get(response["Location"]).content.decode()
    registration = Registration.objects.get(user=user)
    assert (registration.status, registration.organisation, registration.via) == (
        "pending", personas.organisation_a, "local",
    )  # fmt: skip
    user.refresh_from_db()
    assert not user.is_active
    [to_approvers] = mailoutbox[1:]
    assert sorted(to_approvers.to) == ["admin@a.example", "platform@admin.example"]
    assert "new.officer@a.example" in to_approvers.subject
    assert link_in(to_approvers, "/accounts/approvals/") == reverse("registration-list")
    assert AuditEntry.objects.filter(action="registration.start", target_id=str(registration.pk))
    [started] = security_events("registration.started")
    assert started["user"] == "new.officer@a.example" and started["organisation"] == "org-a"

    # Waiting: the right password shows the waiting page; nobody is signed in.
    response = sign_in(client, "new.officer@a.example")
    assert response.status_code == 200
    assert "Waiting for approval" in response.content.decode()
    assert not client.get(reverse("home")).context["user"].is_authenticated
    assert security_events("signin.failed")[-1]["reason"] == "inactive"

    admin = client_as(personas.admin_a)
    listing = admin.get(reverse("registration-list")).content.decode()
    assert "new.officer@a.example" in listing and "Registered with a password" in listing
    response = admin.post(
        reverse("registration-decide", args=[registration.pk]),
        {f"r{registration.pk}-decision": "approve", f"r{registration.pk}-role": "contributor"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    registration.refresh_from_db()
    assert user.is_active and registration.status == "approved"
    assert registration.decided_by == personas.admin_a and registration.decided_at
    assert Membership.objects.get(user=user).role == "contributor"
    approved = mailoutbox[-1]
    assert approved.to == ["new.officer@a.example"] and "approved" in approved.subject
    assert "Contributor" in approved.body
    assert link_in(approved, "/accounts/login/") == reverse("account_login")
    entry = AuditEntry.objects.get(action="registration.approve")
    assert entry.actor_id == personas.admin_a.pk and entry.after["role"] == "contributor"
    [event] = security_events("registration.approved")
    assert event["user"] == "admin@a.example" and event["applicant"] == "new.officer@a.example"

    response = sign_in(client, "new.officer@a.example")
    assert response.status_code == 302
    assert client.get(reverse("home")).context["user"] == user


def test_rejection_needs_a_reason_and_is_explained_to_the_applicant(
    personas, register, client, client_as, mailoutbox, security_events
):
    register("applicant@a.example")
    verify(client, mailoutbox[0])
    registration = Registration.objects.get(user__email="applicant@a.example")
    admin = client_as(personas.platform_admin)
    url = reverse("registration-decide", args=[registration.pk])

    response = admin.post(url, {f"r{registration.pk}-decision": "reject"})
    assert response.status_code == 400
    assert "Enter the reason for rejecting this registration" in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == "pending" and len(mailoutbox) == 2  # nothing decided, sent

    too_long = {f"r{registration.pk}-decision": "reject", f"r{registration.pk}-reason": "x" * 2001}
    response = admin.post(url, too_long)
    page = response.content.decode()
    assert response.status_code == 400
    assert "at most 2000 characters" in page
    assert "Enter the reason for rejecting this registration" not in page  # it was given

    reason = "Please register with your own council address, not a shared mailbox."
    response = admin.post(
        url, {f"r{registration.pk}-decision": "reject", f"r{registration.pk}-reason": reason}
    )
    assert response.status_code == 302
    registration.refresh_from_db()
    assert (registration.status, registration.reason) == ("rejected", reason)
    assert not registration.user.is_active
    assert not Membership.objects.filter(user=registration.user).exists()
    rejected = mailoutbox[-1]
    assert rejected.to == ["applicant@a.example"] and reason in rejected.body
    assert AuditEntry.objects.get(action="registration.reject").after["reason"] == reason
    assert security_events("registration.rejected")[0]["user"] == "platform@admin.example"

    page = sign_in(client, "applicant@a.example").content.decode()
    assert "was not approved" in page and "shared mailbox" in page
    assert not client.get(reverse("home")).context["user"].is_authenticated

    # Decided once: a second decision is refused, saying so (test_approvals_list.py).
    response = admin.post(url, {f"r{registration.pk}-decision": "approve"})
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.status == "rejected" and not registration.user.is_active


def test_an_organisation_admin_decides_only_for_their_own_organisation(
    personas, register, client, client_as, mailoutbox
):
    register("officer@b.example")
    verify(client, mailoutbox[0])
    registration = Registration.objects.get(user__email="officer@b.example")
    # Organisation B has no admin of its own: only platform admins are asked.
    assert mailoutbox[1].to == ["platform@admin.example"]
    admin_a = client_as(personas.admin_a)
    assert "officer@b.example" not in admin_a.get(reverse("registration-list")).content.decode()
    response = admin_a.post(
        reverse("registration-decide", args=[registration.pk]),
        {f"r{registration.pk}-decision": "approve"},
    )
    assert response.status_code == 404
    registration.refresh_from_db()
    assert registration.status == "pending"
    for persona in ("viewer_a", "data_manager_a", "member_b"):
        user = getattr(personas, persona)
        assert client_as(user).get(reverse("registration-list")).status_code == 404


def test_an_organisation_without_approval_lets_verified_people_in(
    personas, register, client, mailoutbox
):
    organisation = personas.organisation_b
    organisation.requires_approval = False
    organisation.save()
    register("officer@b.example")
    response = verify(client, mailoutbox[0])
    assert response.status_code == 302 and response["Location"] != reverse("registration-waiting")
    user = User.objects.get(email="officer@b.example")
    assert user.is_active
    assert Registration.objects.get(user=user).status == "approved"
    assert Membership.objects.get(user=user, organisation=organisation).role == "viewer"
    assert len(mailoutbox) == 1  # no admin is asked
    assert sign_in(client, "officer@b.example").status_code == 302


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("officer@gmail.com", "gmail.com is not the email domain of any organisation"),
        ("officer@a.example.evil.test", "a.example.evil.test is not the email domain"),
        ("not-an-email-address", "Enter an email address in the correct format"),
        ("officer@", "Enter an email address in the correct format"),
    ],
)
def test_unknown_domains_and_malformed_addresses_are_refused(
    personas, register, mailoutbox, email, message
):
    users = User.objects.count()
    response = register(email)
    assert response.status_code == 200
    page = response.content.decode()
    assert "There is a problem" in page and message in page
    assert User.objects.count() == users
    assert not EmailAddress.objects.filter(email=email).exists()
    assert mailoutbox == []


def test_short_and_common_passwords_are_refused_and_long_ones_welcome(
    personas, register, mailoutbox
):
    page = register("officer@a.example", password="short-pass1").content.decode()
    assert "This password is too short. It must contain at least 12 characters." in page
    page = register("officer@a.example", password="password1234").content.decode()
    assert "This password is too common." in page
    assert not User.objects.filter(email="officer@a.example").exists()
    # No composition rules: a long passphrase of plain words (and longer than 64) is fine.
    passphrase = "paper kettle orchard lantern " * 4
    assert register("officer@a.example", password=passphrase).status_code == 302
    assert User.objects.get(email="officer@a.example").check_password(passphrase)


def test_the_form_gives_the_password_guidance(client):
    page = client.get(reverse("account_signup")).content.decode()
    assert "Use at least 12 characters" in page and "there are no other rules" in page


def test_a_second_registration_for_an_address_reveals_nothing(personas, register, mailoutbox):
    """A taken address gets the same response as a new one; its owner is emailed instead."""
    fresh = register("fresh@a.example")
    taken = register("viewer@a.example", full_name="Someone Else")
    assert (taken.status_code, taken["Location"]) == (fresh.status_code, fresh["Location"])
    assert User.objects.filter(email="viewer@a.example").count() == 1
    assert User.objects.get(email="viewer@a.example").full_name == "viewer"  # unchanged
    notice = mailoutbox[-1]
    assert notice.to == ["viewer@a.example"]
    assert "confirm-email" not in notice.body  # no verification link for a taken address
    assert "already" in notice.body.lower()


def test_an_expired_verification_link_is_refused(personas, register, client, mailoutbox):
    register("late@a.example")
    address = EmailAddress.objects.get(email="late@a.example")

    class FourDaysAgo(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - 4 * 24 * 3600)

    expired_key = FourDaysAgo(salt=allauth_settings.SALT).sign_object(address.pk)
    url = reverse("account_confirm_email", args=[expired_key])
    page = client.get(url).content.decode()
    assert "This link has expired or has been used" in page
    assert client.post(url).status_code == 404
    address.refresh_from_db()
    assert not address.verified
    assert not Registration.objects.exists()


def test_a_verification_link_works_once(personas, register, client, mailoutbox):
    register("once@a.example")
    verify(client, mailoutbox[0])
    assert Registration.objects.count() == 1
    link = link_in(mailoutbox[0], "/accounts/confirm-email/")
    assert "This link has expired or has been used" in client.get(link).content.decode()
    assert client.post(link).status_code == 404
    assert Registration.objects.count() == 1
    assert len(mailoutbox) == 2  # the admins were told once


def test_registration_start_for_single_sign_on(personas, mailoutbox, security_events):
    """The contract single sign-on uses: an account the provider vouched for waits too."""
    from infraplan.accounts.services import registration_start

    user = User.objects.create_user("sso.officer@a.example", None)
    registration = registration_start(
        user=user, organisation=personas.organisation_a, via="sso:entra"
    )
    user.refresh_from_db()
    assert (registration.status, registration.via, user.is_active) == (
        "pending", "sso:entra", False,
    )  # fmt: skip
    assert registration_start(user=user, organisation=personas.organisation_a, via="sso:entra") == (
        registration
    )  # asking again changes nothing
    assert Registration.objects.filter(user=user).count() == 1
    assert len(mailoutbox) == 1
    assert security_events("registration.started")[0]["via"] == "sso:entra"
    with pytest.raises(ValueError, match="via must be"):
        registration_start(user=user, organisation=personas.organisation_a, via="ldap")
