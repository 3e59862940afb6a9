"""Periodic re-authentication of single sign-on sessions (``SSO_REAUTHENTICATE_AFTER``).

When the provider last confirmed the account longer ago than the setting allows, the next page
the person opens sends them through the provider again (``prompt=none``, so no page is shown
while their account is good). A request that cannot follow a redirect (a form post, a tile,
a JSON fetch) is served as if nobody were signed in until that happens, so a leaver disabled
at the provider never reads restricted data past the limit.
"""

from collections.abc import Callable

from allauth.socialaccount.models import SocialApp
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from .session import reauthentication_due, reauthentication_redirect, sso_session_end

# The routes that carry out a sign-in or sign-out must run while re-authentication is due.
EXEMPT_ROUTES = {"openid_connect_login", "openid_connect_callback", "account_logout"}


class ReauthenticationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if request.resolver_match.url_name in EXEMPT_ROUTES or not reauthentication_due(request):
            return None
        navigation = request.method in {"GET", "HEAD"} and "text/html" in request.headers.get(
            "Accept", ""
        )
        if not navigation:
            request.user = AnonymousUser()
            return None
        try:
            return reauthentication_redirect(request)
        except SocialApp.DoesNotExist:
            # The provider has been removed from the configuration: nobody can confirm the
            # account any more, so the session ends.
            sso_session_end(request)
            return redirect("account_login")
