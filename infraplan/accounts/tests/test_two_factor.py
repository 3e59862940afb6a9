"""Two-factor authentication: enrolment with a real TOTP code, signing in with one and with a
recovery code, and admins sent to set up or present a second factor before admin functions."""

import pytest
from allauth.core import context as allauth_context
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client, RequestFactory
from django.urls import reverse

from infraplan.accounts.testing import totp_code
from infraplan.accounts.two_factor import SSO_MFA_SESSION_KEY
from infraplan.audit.models import AuditEntry
from infraplan.core.testing.personas import PASSWORD

pytestmark = pytest.mark.django_db


def enrol(user) -> tuple[str, list[str]]:
    """Give ``user`` an authenticator app and recovery codes, as enrolment does."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).get_unused_codes()
    return secret, codes


def password_step(client: Client, email: str):
    return client.post(reverse("account_login"), {"login": email, "password": PASSWORD})


def signed_in_user(client: Client):
    return client.get(reverse("home")).context["user"]


def test_enrolment_with_a_real_code_then_sign_in_with_the_app(
    personas, client, security_events, django_capture_on_commit_callbacks
):
    assert password_step(client, "viewer@a.example").status_code == 302
    # Changing how you sign in first asks for your password again.
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response["Location"] == reverse("mfa_activate_totp")
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = page.context["form"].secret
    response = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert "The code is not correct" in response.content.decode()
    assert not Authenticator.objects.filter(user=personas.viewer_a).exists()

    with django_capture_on_commit_callbacks() as after_commit:
        response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    # allauth signals (and emails) once the request's transaction commits, still in the request.
    with allauth_context.request_context(RequestFactory().post(reverse("mfa_activate_totp"))):
        for callback in after_commit:
            callback()
    assert response.status_code == 302
    types = set(Authenticator.objects.filter(user=personas.viewer_a).values_list("type", flat=True))
    assert types == {"totp", "recovery_codes"}
    assert AuditEntry.objects.filter(action="mfa.added", target_id=str(personas.viewer_a.pk))
    assert security_events("mfa.added")[0]["type"] == "totp"

    client.post(reverse("account_logout"))
    response = password_step(client, "viewer@a.example")
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate")
    assert not signed_in_user(client).is_authenticated  # the password alone is not enough
    response = client.post(reverse("mfa_authenticate"), {"code": "123456"})
    assert "The code is not correct" in response.content.decode()
    # One period of clock drift either way is accepted, not more.
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret, 2)})
    assert "The code is not correct" in response.content.decode()
    assert security_events("signin.failed")[-1]["reason"] == "second factor"
    code = totp_code(secret, 1)
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 302
    assert signed_in_user(client) == personas.viewer_a

    # A code that signed someone in cannot be replayed.
    client.post(reverse("account_logout"))
    password_step(client, "viewer@a.example")
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    assert "The code is not correct" in response.content.decode()
    assert not signed_in_user(client).is_authenticated


def test_sign_in_with_a_recovery_code_which_works_once(personas, client):
    _, codes = enrol(personas.viewer_a)
    password_step(client, "viewer@a.example")
    assert client.post(reverse("mfa_authenticate"), {"code": codes[0]}).status_code == 302
    assert signed_in_user(client) == personas.viewer_a

    client.post(reverse("account_logout"))
    password_step(client, "viewer@a.example")
    response = client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert "The code is not correct" in response.content.decode()
    assert not signed_in_user(client).is_authenticated


@pytest.mark.parametrize(
    ("persona", "url"),
    [
        ("admin_a", "/accounts/approvals/"),
        ("platform_admin", "/accounts/approvals/"),
        ("platform_admin", "/admin/"),
        ("platform_admin", "/audit/"),
    ],
)
def test_an_admin_without_two_factor_must_set_it_up_first(personas, client_as, persona, url):
    client = client_as(getattr(personas, persona), two_factor=False)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_an_admin_with_an_app_must_present_it_in_this_session(personas, client_as):
    secret, _ = enrol(personas.admin_a)
    client = client_as(personas.admin_a, two_factor=False)
    response = client.get(reverse("registration-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))
    response = client.post(response["Location"], {"code": totp_code(secret)})
    assert response.status_code == 302 and response["Location"] == reverse("registration-list")
    assert client.get(reverse("registration-list")).status_code == 200


def test_an_admin_signing_in_with_two_factor_goes_straight_in(personas, client):
    secret, _ = enrol(personas.admin_a)
    password_step(client, "admin@a.example")
    client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert client.get(reverse("registration-list")).status_code == 200


def test_the_single_sign_on_providers_mfa_claim_counts(personas, client_as):
    client = client_as(personas.admin_a, two_factor=False)
    session = client.session
    session[SSO_MFA_SESSION_KEY] = True
    session.save()
    assert client.get(reverse("registration-list")).status_code == 200


def test_people_who_are_not_admins_are_not_asked(personas, client_as):
    client = client_as(personas.data_manager_a, two_factor=False)
    assert client.get(reverse("account-profile")).status_code == 200
    assert client.get(reverse("registration-list")).status_code == 404
