"""Single sign-on against a real OpenID Connect provider on 127.0.0.1 (tests/oidc_provider).

Each refusal says why on the page, writes an ``sso.refused`` security event with its reason, and
leaves no user or social account behind.
"""

import time

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.test import Client
from django.urls import reverse

from infraplan.accounts.models import Registration, RegistrationStatus, Role, User
from infraplan.accounts.services import membership_set, registration_decide
from infraplan.audit.models import AuditEntry
from infraplan.sso.session import SSO_MFA_SESSION_KEY, SSO_SESSION_KEY
from infraplan.sso.tests.support import (
    ACCOUNTS,
    CALLBACK,
    PROVIDER_NAME,
    TENANT_A,
    callback,
    start,
)
from infraplan.tokens.services import user_deactivate

pytestmark = pytest.mark.django_db(transaction=False)


def signed_in_user(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def no_approval(personas) -> None:
    personas.organisation_a.requires_approval = False
    personas.organisation_a.save(update_fields=["requires_approval"])


def age(client: Client) -> None:
    """Make the provider's last confirmation of this session older than the limit."""
    session = client.session
    record = session[SSO_SESSION_KEY]
    record["confirmed_at"] = int(time.time()) - settings.SSO_REAUTHENTICATE_AFTER - 1
    session[SSO_SESSION_KEY] = record
    session.save()


def assert_refused(response, reason: str, security_events, text: str) -> None:
    assert response.status_code == 403
    assert text in response.content.decode()
    (event,) = security_events("sso.refused")
    assert event["reason"] == reason
    assert event["outcome"] == "failure"
    assert event["provider"] == PROVIDER_NAME


def test_the_sign_in_page_offers_the_provider(oidc):
    page = Client().get(reverse("account_login")).content.decode()
    assert f"Sign in with {PROVIDER_NAME}" in page
    assert 'action="/accounts/oidc/testidp/login/' in page


def test_first_sign_in_waits_for_approval_then_signs_in(
    oidc, sign_in, personas, security_events, mailoutbox
):
    client, browser = Client(), requests.Session()
    response = sign_in(ACCOUNTS.officer, client, browser)

    assert response.status_code == 200
    assert "Your account is waiting for approval" in response.content.decode()
    assert signed_in_user(client) is None
    user = User.objects.get(email="officer@a.example")
    assert not user.is_active
    assert not user.has_usable_password()
    account = SocialAccount.objects.get(user=user)
    assert account.provider == "testidp"
    assert account.uid == f"{oidc.issuer}|{TENANT_A}|{ACCOUNTS.officer.oid}"
    registration = Registration.objects.get(user=user)
    assert (registration.organisation, registration.via, registration.status) == (
        personas.organisation_a, "sso:testidp", RegistrationStatus.PENDING,
    )  # fmt: skip
    assert AuditEntry.objects.filter(action="sso.account.create", target_id=str(account.pk))
    assert security_events("sso.refused")[0]["reason"] == "pending"

    registration_decide(
        actor=personas.admin_a, registration=registration, approve=True, role=Role.CONTRIBUTOR
    )
    response = sign_in(ACCOUNTS.officer, client, browser)

    assert response.status_code == 302
    assert signed_in_user(client) == user
    assert client.session[SSO_SESSION_KEY]["uid"] == account.uid
    assert User.objects.filter(email="officer@a.example").count() == 1
    assert SocialAccount.objects.count() == 1
    (event,) = security_events("sso.signin")
    assert event["user"] == "officer@a.example"
    assert event["reauthentication"] is False


def test_an_organisation_without_approval_lets_a_first_sign_in_straight_in(oidc, sign_in, personas):
    no_approval(personas)
    client = Client()
    response = sign_in(ACCOUNTS.officer, client)

    assert response.status_code == 302
    user = signed_in_user(client)
    assert user.email == "officer@a.example"
    assert user.memberships.get().organisation == personas.organisation_a
    assert user.full_name == "Olu Officer"


def test_a_tenant_no_organisation_accepts_is_refused(oidc, sign_in, security_events):
    users = User.objects.count()
    response = sign_in(ACCOUNTS.outsider)

    assert_refused(response, "tenant", security_events, "is not one this service accepts")
    assert security_events("sso.refused")[0]["tenant"] == ACCOUNTS.outsider.tid
    assert User.objects.count() == users
    assert not SocialAccount.objects.exists()


def test_an_email_that_matches_a_local_account_is_never_linked(
    oidc, sign_in, personas, security_events
):
    users = User.objects.count()
    client = Client()
    response = sign_in(ACCOUNTS.clash, client)

    assert_refused(response, "email", security_events, "cannot be joined to a single sign-on")
    assert signed_in_user(client) is None
    assert User.objects.count() == users
    assert not SocialAccount.objects.exists()
    personas.viewer_a.refresh_from_db()
    assert personas.viewer_a.has_usable_password()


@pytest.mark.parametrize(
    ("account", "mfa"), [(ACCOUNTS.admin, True), (ACCOUNTS.officer, False)], ids=["mfa", "pwd"]
)
def test_the_providers_mfa_claim_is_kept_in_the_session(
    oidc, sign_in, personas, security_events, account, mfa
):
    no_approval(personas)
    client = Client()
    assert sign_in(account, client).status_code == 302
    assert client.session[SSO_MFA_SESSION_KEY] is mfa
    assert security_events("sso.signin")[0]["mfa"] is mfa


@pytest.mark.parametrize(
    ("account", "status"), [(ACCOUNTS.admin, 200), (ACCOUNTS.officer, 302)], ids=["mfa", "pwd"]
)
def test_an_sso_admin_needs_the_providers_mfa_claim_or_local_two_factor(
    oidc, sign_in, personas, account, status
):
    no_approval(personas)
    client = Client()
    sign_in(account, client)
    membership_set(
        actor=personas.platform_admin, user=signed_in_user(client),
        organisation=personas.organisation_a, role=Role.ORG_ADMIN,
    )  # fmt: skip

    response = client.get(reverse("registration-list"), HTTP_ACCEPT="text/html")
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith(reverse("mfa_activate_totp"))


@pytest.mark.parametrize(
    ("mode", "text"),
    [
        ("issuer", "issued by another service"),
        ("audience", "issued for another service"),
        ("nonce", "does not belong to this sign-in"),
        ("expired", "has expired"),
        ("signature", "signature is not valid"),
    ],
)
def test_a_bad_id_token_is_refused(oidc, sign_in, personas, security_events, mode, text):
    no_approval(personas)
    users = User.objects.count()
    oidc.misbehave(mode)
    client = Client()
    response = sign_in(ACCOUNTS.officer, client)

    assert_refused(response, mode, security_events, text)
    assert signed_in_user(client) is None
    assert User.objects.count() == users
    assert not SocialAccount.objects.exists()


def test_a_callback_with_a_wrong_state_is_refused(oidc, personas, security_events):
    no_approval(personas)
    client = Client()
    url = oidc.authorize(
        start(client), browser=requests.Session(), account=ACCOUNTS.officer, until=CALLBACK
    )
    response = callback(client, url.replace("state=", "state=forged"))

    assert_refused(response, "state", security_events, "not one this browser started")
    assert not SocialAccount.objects.exists()
    assert not User.objects.filter(email="officer@a.example").exists()


def test_a_callback_started_in_another_browser_is_refused(oidc, personas, security_events):
    """Login CSRF: a callback from someone else's sign-in carries a state this session never
    issued."""
    no_approval(personas)
    url = oidc.authorize(
        start(Client()), browser=requests.Session(), account=ACCOUNTS.officer, until=CALLBACK
    )
    victim = Client()
    response = callback(victim, url)

    assert_refused(response, "state", security_events, "not one this browser started")
    assert signed_in_user(victim) is None


def test_connecting_an_sso_account_to_a_signed_in_account_is_refused(
    oidc, personas, client_as, security_events
):
    client = client_as(personas.viewer_a)
    url = oidc.authorize(
        start(client, process="connect"), browser=requests.Session(), account=ACCOUNTS.officer,
        until=CALLBACK,
    )  # fmt: skip
    response = callback(client, url)

    assert_refused(response, "process", security_events, "cannot be connected")
    assert not SocialAccount.objects.exists()


def test_reauthentication_after_the_limit_goes_back_to_the_provider(
    oidc, sign_in, personas, security_events
):
    no_approval(personas)
    client, browser = Client(), requests.Session()
    sign_in(ACCOUNTS.officer, client, browser)
    user = signed_in_user(client)
    age(client)

    response = client.get(reverse("dataset-list"), HTTP_ACCEPT="text/html")
    assert response.status_code == 302
    assert response["Location"].startswith(oidc.issuer)
    assert "prompt=none" in response["Location"]

    url = oidc.authorize(response["Location"], browser=browser, until=CALLBACK)
    response = callback(client, url)
    assert response.status_code == 302
    assert response["Location"] == reverse("dataset-list")
    assert signed_in_user(client) == user
    assert time.time() - client.session[SSO_SESSION_KEY]["confirmed_at"] < 60
    assert client.get(reverse("dataset-list"), HTTP_ACCEPT="text/html").status_code == 200
    assert [e["reauthentication"] for e in security_events("sso.signin")] == [False, True]


def test_a_leaver_disabled_at_the_provider_loses_access(
    oidc, sign_in, personas, restricted, security_events
):
    no_approval(personas)
    client, browser = Client(), requests.Session()
    sign_in(ACCOUNTS.officer, client, browser)
    tile = reverse("tile", kwargs={"slug": restricted.slug, "z": 12, "x": 2057, "y": 1368})
    assert client.get(tile).status_code in (200, 204)

    oidc.disable(ACCOUNTS.officer)
    age(client)
    # Requests that cannot follow a redirect are served as if nobody were signed in.
    assert client.get(tile).status_code == 404
    response = client.get(reverse("dataset-list"), HTTP_ACCEPT="text/html")
    url = oidc.authorize(response["Location"], browser=browser, until=CALLBACK)
    response = callback(client, url)

    assert_refused(response, "disabled", security_events, "no longer confirms your account")
    assert signed_in_user(client) is None
    assert client.get(tile).status_code == 404


def test_reauthentication_as_someone_else_ends_the_session(
    oidc, sign_in, personas, security_events
):
    no_approval(personas)
    client = Client()
    sign_in(ACCOUNTS.officer, client)
    other_browser = requests.Session()
    sign_in(ACCOUNTS.admin, Client(), other_browser)
    age(client)

    response = client.get(reverse("dataset-list"), HTTP_ACCEPT="text/html")
    url = oidc.authorize(response["Location"], browser=other_browser, until=CALLBACK)
    response = callback(client, url)

    assert_refused(response, "reauthentication", security_events, "confirmed a different account")
    assert signed_in_user(client) is None


def test_deactivation_by_an_admin_ends_sso_sessions(oidc, sign_in, personas, security_events):
    no_approval(personas)
    client, browser = Client(), requests.Session()
    sign_in(ACCOUNTS.officer, client, browser)
    user = signed_in_user(client)

    user_deactivate(user=user, actor=personas.platform_admin)

    assert signed_in_user(client) is None
    response = sign_in(ACCOUNTS.officer, client, browser)
    assert_refused(response, "disabled", security_events, "has been deactivated")
    assert signed_in_user(client) is None


def test_a_session_whose_provider_was_removed_ends_at_reauthentication(
    oidc, sign_in, personas, settings
):
    no_approval(personas)
    client = Client()
    sign_in(ACCOUNTS.officer, client)
    age(client)
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {**settings.SOCIALACCOUNT_PROVIDERS["openid_connect"], "APPS": []}
    }

    response = client.get(reverse("dataset-list"), HTTP_ACCEPT="text/html")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_login")
    assert signed_in_user(client) is None
