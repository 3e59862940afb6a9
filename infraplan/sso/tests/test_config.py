"""Providers from the environment, and the tenant allow-list from the authority profile."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from infraplan.audit.models import AuditEntry
from infraplan.sso.conf import form_action_origins, openid_connect_apps
from infraplan.sso.models import AllowedTenant
from infraplan.sso.selectors import organisation_for_sign_in
from infraplan.sso.services import allowed_tenants_sync

ENTRA = "https://login.microsoftonline.com/4f1d0c8e-7a3b-4c2e-9d61-2b8e5f0a9c11/v2.0"


@pytest.fixture
def entra_env(monkeypatch, tmp_path):
    secret = tmp_path / "entra-secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("SSO_PROVIDERS", "entra,county-idp")
    monkeypatch.setenv("SSO_ENTRA_NAME", "Microsoft Entra ID")
    monkeypatch.setenv("SSO_ENTRA_SERVER_URL", ENTRA)
    monkeypatch.setenv("SSO_ENTRA_CLIENT_ID", "app-id")
    monkeypatch.setenv("SSO_ENTRA_CLIENT_SECRET_FILE", str(secret))
    monkeypatch.setenv("SSO_COUNTY_IDP_NAME", "County sign-in")
    monkeypatch.setenv("SSO_COUNTY_IDP_SERVER_URL", "https://id.example.org/realms/county")
    monkeypatch.setenv("SSO_COUNTY_IDP_CLIENT_ID", "infraplan")
    monkeypatch.setenv("SSO_COUNTY_IDP_CLIENT_SECRET", "direct")
    monkeypatch.setenv("SSO_COUNTY_IDP_MFA_ACR", "gold,platinum")


def test_several_providers_side_by_side(entra_env):
    entra, county = openid_connect_apps()
    assert entra["provider_id"] == "entra"
    assert entra["secret"] == "from-a-file"
    assert entra["settings"]["server_url"] == ENTRA
    assert entra["settings"]["fetch_userinfo"] is False
    assert county["provider_id"] == "county-idp"
    assert county["secret"] == "direct"
    assert county["settings"]["mfa_acr_values"] == ["gold", "platinum"]


def test_no_providers_by_default(monkeypatch):
    monkeypatch.delenv("SSO_PROVIDERS", raising=False)
    assert openid_connect_apps() == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SSO_ENTRA_SERVER_URL", "http://login.example.org/v2.0", "must be an https URL"),
        ("SSO_PROVIDERS", "Entra ID", "must be a short lower-case id"),
        ("SSO_ENTRA_CLIENT_ID", "", "SSO_ENTRA_CLIENT_ID must be set"),
    ],
)
def test_bad_configuration_names_the_setting(entra_env, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        openid_connect_apps()


def test_a_secret_in_both_places_is_refused(entra_env, monkeypatch):
    monkeypatch.setenv("SSO_ENTRA_CLIENT_SECRET", "also-here")
    with pytest.raises(ImproperlyConfigured, match="SSO_ENTRA_CLIENT_SECRET or"):
        openid_connect_apps()


@pytest.mark.django_db
def test_allowed_tenants_follow_the_profile(settings, personas):
    tenant, other = "4f1d0c8e-7a3b-4c2e-9d61-2b8e5f0a9c11", "https://id.example.org/realms/a"
    profile = settings.AUTHORITY_PROFILE
    entry = profile.organisations[0].model_copy(
        update={"slug": "org-a", "sso_tenants": [tenant, other]}
    )
    settings.AUTHORITY_PROFILE = profile.model_copy(update={"organisations": [entry]})

    allowed_tenants_sync(actor=None)
    assert set(AllowedTenant.objects.values_list("organisation__slug", "tenant")) == {
        ("org-a", tenant), ("org-a", other),
    }  # fmt: skip
    assert AuditEntry.objects.filter(action="sso.tenant.allow").count() == 2

    entry = entry.model_copy(update={"sso_tenants": [tenant]})
    settings.AUTHORITY_PROFILE = profile.model_copy(update={"organisations": [entry]})
    allowed_tenants_sync(actor=None)
    assert list(AllowedTenant.objects.values_list("tenant", flat=True)) == [tenant]
    assert AuditEntry.objects.filter(action="sso.tenant.remove").count() == 1


def test_the_profile_refuses_a_malformed_tenant(tmp_path, settings):
    from infraplan.core.profile import load_profile

    text = settings.AUTHORITY_PROFILE_PATH.read_text().replace(
        'email_domains = ["kent.gov.uk"]', 'email_domains = ["kent.gov.uk"]\nsso_tenants = ["kent"]'
    )
    path = tmp_path / "profile.toml"
    path.write_text(text)
    with pytest.raises(ImproperlyConfigured, match=r"organisations\.0\.sso_tenants"):
        load_profile(path)


def test_the_sign_in_form_may_go_on_to_each_providers_origin(entra_env):
    assert form_action_origins(openid_connect_apps()) == [
        "https://login.microsoftonline.com", "https://id.example.org",
    ]  # fmt: skip


@pytest.mark.django_db
def test_organisations_sharing_a_tenant_are_told_apart_by_email_domain(personas):
    shared = "https://id.example.org/realms/shared"
    for organisation in (personas.organisation_a, personas.organisation_b):
        AllowedTenant.objects.create(organisation=organisation, tenant=shared)

    assert organisation_for_sign_in(tenant=shared, email="x@b.example") == personas.organisation_b
    assert organisation_for_sign_in(tenant=shared, email="x@a.example") == personas.organisation_a
    assert organisation_for_sign_in(tenant=shared, email="x@c.example") is None
    assert organisation_for_sign_in(tenant="unknown", email="x@a.example") is None
    personas.organisation_b.is_active = False
    personas.organisation_b.save()
    assert organisation_for_sign_in(tenant=shared, email="x@c.example") == personas.organisation_a
