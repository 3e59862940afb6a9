"""Our OpenID Connect provider for django-allauth: nonce, full ID token checks, stable keys.

Settings name this class as the ``openid_connect`` provider's ``provider_class``, so every app
in ``SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"]`` uses it, and allauth takes the login
and callback routes from this package's ``urls.py`` (it looks beside the provider class).
"""

import secrets
from typing import Any

from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount.models import SocialApp, SocialToken
from allauth.socialaccount.providers.oauth2.views import (
    OAuth2CallbackView,
    OAuth2LoginView,
)
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.http import Http404, HttpRequest, HttpResponse

from .errors import SignInRefused
from .tokens import id_token_verify


class Adapter(OpenIDConnectOAuth2Adapter):
    """Verifies the ID token itself and builds the sign-in from its claims alone (no userinfo
    call: Entra ID's userinfo lives on Microsoft Graph and carries fewer claims)."""

    state: dict[str, Any] | None = None

    def complete_login(self, request: HttpRequest, app: SocialApp, token: SocialToken, **kwargs):
        id_token = kwargs["response"].get("id_token")
        if not id_token:
            raise SignInRefused("token", "The sign-in service sent no ID token.")
        claims = id_token_verify(
            token=id_token,
            keys_url=self.openid_config["jwks_uri"],
            issuer=self.openid_config["issuer"],
            client_id=app.client_id,
            nonce=(self.state or {}).get("nonce"),
        )
        return self.get_provider().sociallogin_from_response(request, {"id_token": claims})


class Provider(OpenIDConnectProvider):
    oauth2_adapter_class = Adapter

    def extract_uid(self, data: dict) -> str:
        """The account key: issuer, tenant and object id for Entra ID (``oid`` is the same
        person across applications, ``sub`` is not), else issuer and subject. Never the email."""
        claims = data["id_token"]
        if claims.get("tid") and claims.get("oid"):
            return f"{claims['iss']}|{claims['tid']}|{claims['oid']}"
        return f"{claims['iss']}|{claims['sub']}"

    def redirect(self, request: HttpRequest, process, next_url=None, data=None, **kwargs):
        """Send a fresh nonce with every authorisation request and keep it in the sign-in's
        state, where the callback finds it."""
        nonce = secrets.token_urlsafe(32)
        auth_params = kwargs.pop("auth_params", None)
        auth_params = dict(self.get_auth_params() if auth_params is None else auth_params)
        auth_params["nonce"] = nonce
        return super().redirect(
            request, process, next_url, data, auth_params=auth_params, nonce=nonce, **kwargs
        )


class CallbackView(OAuth2CallbackView):
    def _get_state(self, request: HttpRequest, provider):
        # allauth consumes the state before it completes the login; hand it to the adapter,
        # which needs the nonce it holds.
        state, response = super()._get_state(request, provider)
        self.adapter.state = state
        return state, response


@login_not_required
def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        return OAuth2LoginView.adapter_view(Adapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None


@login_not_required
def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        return CallbackView.adapter_view(Adapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
