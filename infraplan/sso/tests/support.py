"""Test support: the test provider's accounts and the platform's settings for it."""

from types import SimpleNamespace
from urllib.parse import urlsplit

from django.test import Client
from django.urls import reverse

from tests.oidc_provider.provider import Account, OIDCTestProvider

PROVIDER_ID = "testidp"
PROVIDER_NAME = "Test ID"
CLIENT_ID = "infraplan-tests"
CLIENT_SECRET = "a-client-secret-for-tests-only"
CALLBACK_PATH = f"/accounts/oidc/{PROVIDER_ID}/login/callback/"
CALLBACK = f"http://testserver{CALLBACK_PATH}"  # as the Django test client's host
TENANT_A = "4f1d0c8e-7a3b-4c2e-9d61-2b8e5f0a9c11"
OTHER_TENANT = "9a7e3b21-0c4d-4f8a-b5e6-7d2c1f0e8a33"

ACCOUNTS = SimpleNamespace(
    officer=Account(sub="officer", email="officer@a.example", password="pw-officer",
                    tid=TENANT_A, oid="8b0c9a41-1f2e-4d3c-a5b6-c7d8e9f00112", name="Olu Officer"),
    admin=Account(sub="sso-admin", email="sso-admin@a.example", password="pw-admin",
                  tid=TENANT_A, oid="1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5", name="Ada Admin",
                  amr=("pwd", "mfa")),
    outsider=Account(sub="outsider", email="someone@elsewhere.example", password="pw-outsider",
                     tid=OTHER_TENANT, oid="2d3e4f5a-6b7c-4d8e-9fa0-b1c2d3e4f5a6", name="Out Sider"),
    clash=Account(sub="clash", email="viewer@a.example", password="pw-clash",
                  tid=TENANT_A, oid="3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7", name="Not The Viewer"),
)  # fmt: skip


def provider_start(*, redirect_uri: str) -> OIDCTestProvider:
    return OIDCTestProvider(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[redirect_uri],
        accounts=list(vars(ACCOUNTS).values()),
    )  # fmt: skip


def providers_setting(current: dict, provider: OIDCTestProvider) -> dict:
    """``SOCIALACCOUNT_PROVIDERS`` with the test provider as the only single sign-on app."""
    return {
        **current,
        "openid_connect": {
            **current["openid_connect"],
            "APPS": [
                {
                    "provider_id": PROVIDER_ID,
                    "name": PROVIDER_NAME,
                    "client_id": CLIENT_ID,
                    "secret": CLIENT_SECRET,
                    "settings": {
                        "server_url": provider.issuer,
                        "fetch_userinfo": False,
                        "oauth_pkce_enabled": True,
                        "token_auth_method": "client_secret_post",
                        "mfa_acr_values": [],
                    },
                }
            ],
        },
    }


def start(client: Client, **params) -> str:
    """Press the sign-in button: the authorisation request URL at the provider."""
    response = client.post(
        reverse("openid_connect_login", kwargs={"provider_id": PROVIDER_ID}), params
    )
    assert response.status_code == 302, response.status_code
    assert response["Location"].startswith("http://127.0.0.1:")
    return response["Location"]


def callback(client: Client, url: str):
    """Follow the provider's redirect back to the platform, as a browser would."""
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}", HTTP_ACCEPT="text/html")


def csp_setting(current: dict, provider: OIDCTestProvider) -> dict:
    """``SECURE_CSP`` letting the sign-in button's form go on to the test provider."""
    return {**current, "form-action": [*current["form-action"], provider.issuer]}
