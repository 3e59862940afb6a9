"""Receivers: a completed single sign-on starts the session's SSO record and is logged."""

from allauth.account.signals import user_logged_in
from django.dispatch import receiver

from infraplan.audit.security import security_event

from .oidc import Provider
from .session import sso_session_start


@receiver(user_logged_in)
def sso_signed_in(sender, request, user, sociallogin=None, **kwargs) -> None:
    if sociallogin is None or not isinstance(sociallogin.provider, Provider):
        return
    sso_session_start(request, sociallogin)
    security_event(
        "sso.signin", request=request, user=user, provider=sociallogin.provider.name,
        reauthentication=bool(sociallogin.state.get("reauthenticate")),
        mfa=request.session["infraplan_sso_mfa"],
    )  # fmt: skip
