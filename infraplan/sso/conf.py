"""Single sign-on providers from the environment, for allauth's openid_connect APPS list.

``SSO_PROVIDERS`` names them (comma-separated short ids, e.g. ``entra,keycloak``); each id
``X`` then reads ``SSO_X_NAME`` (the button's label), ``SSO_X_SERVER_URL`` (the issuer, whose
``/.well-known/openid-configuration`` is read), ``SSO_X_CLIENT_ID``, ``SSO_X_CLIENT_SECRET`` or
``SSO_X_CLIENT_SECRET_FILE``, and optionally ``SSO_X_MFA_ACR`` (``acr`` values that mean
multi-factor). See docs/sso.md.
"""

import re
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from infraplan.core import env

PROVIDER_ID = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _server_url(name: str) -> str:
    url = env.string(name).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS):
        raise ImproperlyConfigured(f"{name} must be an https URL, not {url!r}.")
    return url


def openid_connect_apps() -> list[dict]:
    """One allauth APPS entry per provider named in ``SSO_PROVIDERS`` (none when unset)."""
    apps = []
    for provider_id in env.string_list("SSO_PROVIDERS", default=[]):
        if not PROVIDER_ID.match(provider_id):
            raise ImproperlyConfigured(
                f"SSO_PROVIDERS: {provider_id!r} must be a short lower-case id such as 'entra'."
            )
        prefix = "SSO_" + provider_id.upper().replace("-", "_")
        apps.append(
            {
                "provider_id": provider_id,
                "name": env.string(f"{prefix}_NAME"),
                "client_id": env.string(f"{prefix}_CLIENT_ID"),
                "secret": env.secret(f"{prefix}_CLIENT_SECRET"),
                "settings": {
                    "server_url": _server_url(f"{prefix}_SERVER_URL"),
                    "fetch_userinfo": False,
                    "oauth_pkce_enabled": True,
                    "token_auth_method": "client_secret_post",
                    "mfa_acr_values": env.string_list(f"{prefix}_MFA_ACR", default=[]),
                },
            }
        )
    return apps


def form_action_origins(apps: list[dict]) -> list[str]:
    """The origins the sign-in button's form may be redirected to (the providers' sign-in
    pages), for the Content-Security-Policy's ``form-action``: browsers apply it to the
    redirect that follows a form post too."""
    origins = []
    for app in apps:
        parts = urlsplit(app["settings"]["server_url"])
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in origins:
            origins.append(origin)
    return origins
