"""Two-factor authentication for admins: the one check, used by a decorator and a middleware.

Organisation admins and platform admins must have presented a second factor in this session
before any admin function: a TOTP or recovery code (django-allauth's MFA records it among the
session's authentication methods) or, after single sign-on, the provider's MFA claim (the SSO
app sets ``SSO_MFA_SESSION_KEY``).
"""

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from .models import Role

SSO_MFA_SESSION_KEY = "infraplan_sso_mfa"


def two_factor_required(user) -> bool:
    """Whether ``user`` holds a role that needs a second factor: platform or organisation admin."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or user.memberships.filter(role=Role.ORG_ADMIN).exists()


def two_factor_presented(request: HttpRequest) -> bool:
    """Whether this session's user presented a second factor when signing in (or since)."""
    if request.session.get(SSO_MFA_SESSION_KEY) is True:
        return True
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


def two_factor_cleared(request: HttpRequest) -> bool:
    """Whether the request's user may use admin functions as far as the second factor goes:
    they need none, or presented it."""
    return not two_factor_required(request.user) or two_factor_presented(request)


def two_factor_url(request: HttpRequest) -> str:
    """Where an admin goes for a second factor: to present it and come back to this page, or,
    without one, to set one up. Setting up ends on the recovery codes page (to be saved); the
    admin then comes back and is asked for a code like anyone who has an app."""
    if is_mfa_enabled(request.user):
        query = urlencode({"next": request.get_full_path()})
        return f"{reverse('mfa_reauthenticate')}?{query}"
    return reverse("mfa_activate_totp")


def two_factor_redirect(request: HttpRequest) -> HttpResponse | None:
    """None if the request may go on; else where an admin without a second factor must go:
    to set one up, or, if they have one, to present it."""
    if two_factor_cleared(request):
        return None
    if is_mfa_enabled(request.user):
        messages.info(request, "Enter a code from your authenticator app to use admin functions.")
    else:
        messages.info(
            request,
            "Administrators must use two-factor authentication. Set up an authenticator app, "
            "then enter one of its codes to continue.",
        )
    return HttpResponseRedirect(two_factor_url(request))


def admin_two_factor(view: Callable) -> Callable:
    """Decorator for admin views: send admins without a second factor to set up or present one."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return two_factor_redirect(request) or view(request, *args, **kwargs)

    return wrapped


class AdminTwoFactorMiddleware:
    """The same check for admin areas that are not our views (Django's admin site) or belong
    to other apps: every path under ``settings.TWO_FACTOR_PATH_PREFIXES``."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(tuple(settings.TWO_FACTOR_PATH_PREFIXES)):
            response = two_factor_redirect(request)
            if response is not None:
                return response
        return self.get_response(request)
