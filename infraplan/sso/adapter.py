"""allauth's social account adapter for single sign-on: who may sign in, and as whom.

Every check here runs after the ID token is verified (``oidc.Adapter``) and before allauth
signs anyone in; a refusal is rendered at once, written as an ``sso.refused`` security event,
and leaves no user or social account behind.
"""

from typing import NoReturn

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from allauth.socialaccount.providers.base import AuthProcess
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest
from django.shortcuts import render

from infraplan.accounts.models import RegistrationStatus, User
from infraplan.audit.security import security_event

from .errors import SignInRefused
from .selectors import organisation_for_sign_in, tenant_of
from .services import sso_account_create
from .session import SSO_SESSION_KEY, sso_session_end


def _refuse(request: HttpRequest, provider_name: str, refusal: SignInRefused) -> NoReturn:
    security_event(
        "sso.refused", outcome="failure", request=request, provider=provider_name,
        reason=refusal.reason, **refusal.detail,
    )  # fmt: skip
    response = render(
        request,
        "sso/refused.html",
        {"provider_name": provider_name, "refusal": refusal},
        status=403,
    )
    raise ImmediateHttpResponse(response)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        # Accounts are made by pre_social_login below, never by allauth's signup form.
        return False

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ) -> None:
        """Refusals before a sign-in exists: a bad state, an ID token that fails a check, or
        an error from the provider (during re-authentication: the account was refused, so the
        session ends)."""
        extra_context = extra_context or {}
        state = extra_context.get("state") or {}
        if isinstance(exception, SignInRefused):
            refusal = exception
        elif state.get("reauthenticate"):
            sso_session_end(request)
            refusal = SignInRefused(
                "disabled",
                "Your organisation's sign-in service no longer confirms your account, so you "
                "have been signed out. Sign in again; if that fails, contact your IT team.",
                provider_error=request.GET.get("error", ""),
            )
        elif "state" not in extra_context:
            refusal = SignInRefused(
                "state",
                "This sign-in link is not one this browser started, or it has expired. "
                "Start again from the sign-in page.",
            )
        elif exception is not None:
            refusal = SignInRefused(
                "provider",
                "The sign-in service could not be reached or did not complete the sign-in. "
                "Try again in a few minutes.",
                error=type(exception).__name__,
            )
        else:
            refusal = SignInRefused(
                "provider",
                "The sign-in service did not sign you in. Start again from the sign-in page.",
                provider_error=request.GET.get("error", ""),
            )
        _refuse(request, provider.name, refusal)

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        provider = sociallogin.provider
        claims = sociallogin.account.extra_data["id_token"]
        state = sociallogin.state
        if state.get("process", AuthProcess.LOGIN) != AuthProcess.LOGIN:
            _refuse(request, provider.name, SignInRefused(
                "process", "Single sign-on accounts cannot be connected to another account."
            ))  # fmt: skip
        if state.get("reauthenticate"):
            signed_in = request.session.get(SSO_SESSION_KEY) or {}
            if (signed_in.get("provider"), signed_in.get("uid")) != (
                sociallogin.account.provider,
                sociallogin.account.uid,
            ):
                sso_session_end(request)
                _refuse(request, provider.name, SignInRefused(
                    "reauthentication",
                    "The sign-in service confirmed a different account, so you have been "
                    "signed out. Sign in again.",
                ))  # fmt: skip
        email = str(claims.get("email") or claims.get("preferred_username") or "").lower()
        try:
            validate_email(email)
        except ValidationError:
            _refuse(request, provider.name, SignInRefused(
                "email",
                "The sign-in service did not send your email address. Ask your IT team to "
                "include the email claim in the ID token.",
            ))  # fmt: skip
        tenant = tenant_of(claims)
        organisation = organisation_for_sign_in(tenant=tenant, email=email)
        if organisation is None:
            _refuse(request, provider.name, SignInRefused(
                "tenant",
                "Your organisation's directory is not one this service accepts for single "
                "sign-on. Ask your organisation's admin, or sign in with your password.",
                tenant=tenant,
            ))  # fmt: skip
        if sociallogin.is_existing:
            self._existing_user_check(request, provider.name, sociallogin.user)
            return
        if User.objects.filter(email__iexact=email).exists():
            # Never linked by email: an address is not proof of identity across providers.
            _refuse(request, provider.name, SignInRefused(
                "email",
                f"An account with the email address {email} already exists. It cannot be "
                "joined to a single sign-on account automatically: sign in with its password, "
                "or ask a platform admin for help.",
            ))  # fmt: skip
        user = sso_account_create(
            sociallogin=sociallogin, organisation=organisation, email=email,
            full_name=str(claims.get("name", ""))[:200], request=request,
        )  # fmt: skip
        self._existing_user_check(request, provider.name, user)

    def _existing_user_check(self, request: HttpRequest, provider_name: str, user: User) -> None:
        if user.is_active:
            return
        pending = user.registrations.filter(status=RegistrationStatus.PENDING).first()
        if pending is not None:
            security_event(
                "sso.refused", outcome="failure", request=request, user=user,
                provider=provider_name, reason="pending",
            )  # fmt: skip
            get_account_adapter(request).logout(request)
            raise ImmediateHttpResponse(
                render(request, "sso/pending.html", {"registration": pending})
            )
        get_account_adapter(request).logout(request)
        _refuse(request, provider_name, SignInRefused(
            "disabled", "This account has been deactivated. Contact your organisation's admin."
        ))  # fmt: skip
