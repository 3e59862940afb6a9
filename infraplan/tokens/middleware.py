"""API tokens on every view: ``Authorization: Bearer <token>``, or a token as the password of
HTTP Basic (what QGIS and GDAL send). Never in a query string.

The middleware sits after Django's AuthenticationMiddleware. A request with a good token runs as
the token's owner, whatever session cookie it also carries, and without the CSRF check: a
browser never adds an ``Authorization: Bearer`` header by itself, and the service never asks a
browser for Basic credentials (its challenge names only Bearer), so a cross-site request cannot
carry a token. A bad token is refused there and then, never treated as anonymous: a client whose
token expired should hear so, not see less data.
"""

import base64
import binascii
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from infraplan.audit.security import security_event

from .models import ApiToken
from .services import DISPLAY_LENGTH, TOKEN_PATTERN, token_hash, token_mark_used

QUERY_NAMES = {"token", "access_token", "api_token", "api_key", "apikey"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
REALM = 'Bearer realm="api"'


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str  # for the security event
    message: str  # for the client; "{tokens_url}" stands for the tokens page's address
    error: str = "invalid_token"  # RFC 6750 error code

    def message_for(self, request: HttpRequest) -> str:
        if "{tokens_url}" not in self.message:
            return self.message
        # The tokens page is the service's, whichever URLconf this request is routed by.
        page = reverse("token-list", urlconf=settings.ROOT_URLCONF)
        return self.message.format(tokens_url=request.build_absolute_uri(page))


MALFORMED = Refusal(401, "malformed", "The Authorization header does not hold an API token.")
# Basic with something other than a token as its password: nearly always the account password,
# which a dialogue asking for "user name and password" (QGIS's Basic, say) invites.
NOT_A_TOKEN_PASSWORD = Refusal(
    401, "basic_password_not_token", "Use an API token as the password (make one at "
    "{tokens_url}), not your account password.",
)  # fmt: skip
# "Authorization: Token <secret>", as Django REST framework's own tokens and some other services
# take them: not a scheme this service reads, yet plainly meant as a credential, so refused
# rather than served as anonymous (which would look like missing data, not a wrong header).
TOKEN_SCHEME = Refusal(
    401, "token_scheme", "Send the token as 'Authorization: Bearer <token>' (or as the password "
    "of HTTP Basic).",
)  # fmt: skip
UNKNOWN = Refusal(401, "unknown", "This API token is not recognised.")
REVOKED = Refusal(401, "revoked", "This API token has been revoked.")
EXPIRED = Refusal(401, "expired", "This API token has expired.")
INACTIVE = Refusal(401, "user_inactive", "The account this API token belongs to is not active.")
READ_ONLY = Refusal(
    403, "scope", "This API token may only read; this request would change data. Use a "
    "read-and-write token.", error="insufficient_scope",
)  # fmt: skip
ACCOUNT_PAGES = Refusal(
    403, "account_pages", "API tokens are for data, not for account pages: sign in to change "
    "the account, its addresses, password, two-factor authentication or tokens.",
    error="insufficient_scope",
)  # fmt: skip
# Account pages and the admin refuse tokens: through them a token could make its holder a new
# token that outlives it, or add an address to send a password reset to.
ACCOUNT_PATH_PREFIXES = ("/accounts/", "/admin/")
IN_QUERY = Refusal(
    400, "query_string", "API tokens are not accepted in the address (query string), where "
    "they would be written into logs and browser history. Send the token in an "
    "'Authorization: Bearer' header or as the password of HTTP Basic authentication.",
    error="invalid_request",
)  # fmt: skip


def credential_from(header: str) -> str | Refusal | None:
    """The token an Authorization header carries (Bearer, or Basic's password); a Refusal for
    a header plainly meant to carry one that cannot (a password in Basic, a ``Token`` scheme, a
    bare token); None for other schemes, which this service does not handle. A malformed Bearer
    or Basic value gives ``""``."""
    scheme, _, value = header.strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer":
        return value
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        # The username is not checked: the token alone says whose it is, and QGIS users type
        # whatever the dialogue asks for.
        _, separator, password = decoded.partition(":")
        if not separator:
            return ""
        return password if TOKEN_PATTERN.match(password) else NOT_A_TOKEN_PASSWORD
    if scheme == "token" or TOKEN_PATTERN.match(scheme) or TOKEN_PATTERN.match(value):
        return TOKEN_SCHEME
    return None


def token_find(credential: str) -> ApiToken | Refusal:
    """The live token ``credential`` is, or why it is refused."""
    if not TOKEN_PATTERN.match(credential):
        return MALFORMED
    digest = token_hash(credential)
    candidates = ApiToken.objects.select_related("user").filter(prefix=credential[:DISPLAY_LENGTH])
    token = next(
        (each for each in candidates if hmac.compare_digest(each.secret_hash, digest)), None
    )
    if token is None:
        return UNKNOWN
    if token.revoked_at is not None:
        return REVOKED
    if token.expires_at <= timezone.now():
        return EXPIRED
    if not token.user.is_active:
        return INACTIVE
    return token


def _looks_like_token(request: HttpRequest) -> bool:
    return any(name.lower() in QUERY_NAMES for name in request.GET) or any(
        TOKEN_PATTERN.match(value) for values in request.GET.lists() for value in values[1]
    )


def _refuse(request: HttpRequest, refusal: Refusal, token: ApiToken | None) -> HttpResponse:
    detail = {"reason": refusal.reason}
    if token is not None:
        detail |= {"token_id": token.pk, "token_prefix": token.prefix}
    security_event(
        "token.refused", outcome="failure", request=request,
        user=token.user if token is not None else None, **detail,
    )  # fmt: skip
    message = refusal.message_for(request)
    response = HttpResponse(
        json.dumps({"error": refusal.error, "message": message}),
        status=refusal.status,
        content_type="application/json",
    )
    if refusal.status in (401, 403):
        description = message.replace('"', "'")
        response["WWW-Authenticate"] = (
            f'{REALM}, error="{refusal.error}", error_description="{description}"'
        )
    response["Cache-Control"] = "no-store"
    return response


class TokenAuthenticationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _looks_like_token(request):
            return _refuse(request, IN_QUERY, None)
        header = request.headers.get("Authorization")
        credential = credential_from(header) if header else None
        if credential is None:
            return self.get_response(request)
        if isinstance(credential, Refusal):
            return _refuse(request, credential, None)
        found = token_find(credential)
        if isinstance(found, Refusal):
            return _refuse(request, found, None)
        if request.path_info.startswith(ACCOUNT_PATH_PREFIXES):
            return _refuse(request, ACCOUNT_PAGES, found)
        if request.method not in SAFE_METHODS and not found.allows_writes:
            return _refuse(request, READ_ONLY, found)
        user = found.user

        async def auser():
            return user

        request.user = user
        request.auser = auser
        request.api_token = found
        request._dont_enforce_csrf_checks = True
        token_mark_used(token=found)
        security_event(
            "token.used", request=request, user=user, token_id=found.pk,
            token_prefix=found.prefix, scope=found.scope, method=request.method,
        )  # fmt: skip
        return self.get_response(request)
