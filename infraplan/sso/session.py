"""What a session remembers about its single sign-on, and re-authentication with the provider.

``request.session["infraplan_sso"]`` holds the provider, the account key and when the provider
last confirmed the account (``confirmed_at``, seconds since the epoch).
``request.session["infraplan_sso_mfa"]`` is True when the provider's ID token showed
multi-factor authentication; the admin two-factor check honours it.
"""

import time

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.models import SocialLogin
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .selectors import claims_show_mfa

SSO_SESSION_KEY = "infraplan_sso"
SSO_MFA_SESSION_KEY = "infraplan_sso_mfa"


def sso_session_start(request: HttpRequest, sociallogin: SocialLogin) -> None:
    """Record a sign-in (or a re-authentication) the provider has just confirmed."""
    claims = sociallogin.account.extra_data["id_token"]
    app = sociallogin.provider.app
    request.session[SSO_SESSION_KEY] = {
        "provider": sociallogin.account.provider,
        "uid": sociallogin.account.uid,
        "confirmed_at": int(time.time()),
        "login_hint": claims.get("preferred_username") or claims.get("email") or "",
    }
    request.session[SSO_MFA_SESSION_KEY] = claims_show_mfa(
        claims, mfa_acr_values=list(app.settings.get("mfa_acr_values", []))
    )


def sso_session_end(request: HttpRequest) -> None:
    """Sign the person out (this ends the session and its SSO record with it)."""
    get_account_adapter(request).logout(request)


def reauthentication_due(request: HttpRequest) -> bool:
    record = request.session.get(SSO_SESSION_KEY)
    if not record or not request.user.is_authenticated or getattr(request, "api_token", None):
        return False  # an API token's request is the token's user, not the session's
    return time.time() - record["confirmed_at"] >= settings.SSO_REAUTHENTICATE_AFTER


def reauthentication_redirect(request: HttpRequest) -> HttpResponse:
    """Send the browser to the provider without a prompt (``prompt=none``): it answers at once
    with a new ID token if the account is still enabled and signed in there, or with an error,
    which ends the session (see ``SocialAccountAdapter.on_authentication_error``)."""
    record = request.session[SSO_SESSION_KEY]
    provider = get_social_adapter().get_provider(request, provider=record["provider"])
    auth_params = {**provider.get_auth_params(), "prompt": "none"}
    if record.get("login_hint"):
        auth_params["login_hint"] = record["login_hint"]
    return provider.redirect(
        request,
        process="login",
        next_url=request.get_full_path(),
        auth_params=auth_params,
        reauthenticate=True,
    )
