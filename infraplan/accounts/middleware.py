"""Sessions with an absolute lifetime: signed out SESSION_COOKIE_AGE seconds after signing in,
however active the session has been since."""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse

SIGNED_IN_AT_SESSION_KEY = "infraplan_signed_in_at"


class SessionLifetimeMiddleware:
    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        # A request with an API token is that token's user, whatever its session cookie says.
        if getattr(request, "api_token", None) is None and session.get(SESSION_KEY) is not None:
            signed_in_at = session.get(SIGNED_IN_AT_SESSION_KEY)
            now = time.time()
            if signed_in_at is None:
                session[SIGNED_IN_AT_SESSION_KEY] = now
            elif now - signed_in_at > settings.SESSION_COOKIE_AGE:
                logout(request)
        return self.get_response(request)
