"""Security events as JSON lines, for a council's monitoring system (a SIEM reads the file).

Sign-ins and their failures, lockouts, registrations and approvals, role changes, token use and
restricted exports each call ``security_event``. One event is one line of JSON on the
``infraplan.security`` logger, which settings send to ``SECURITY_EVENT_LOG`` (a file path) or,
when that is unset, to standard error beside the other logs.

Unlike the usage log, an event carries the client's address: a monitoring team needs it to see
an attack, and the privacy notice says so.
"""

import json
import logging
from functools import lru_cache
from typing import Any

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import Resolver404, resolve
from django.utils import timezone

logger = logging.getLogger("infraplan.security")


def client_address(request: HttpRequest | None) -> str | None:
    """The client's address: the one the sign-in rate limits count, for every other use too.

    django-allauth's rule, so that the three never disagree: REMOTE_ADDR, unless settings trust
    proxies (``TRUSTED_PROXY_COUNT``: the X-Forwarded-For entry just before the proxies' own,
    never one further left, which the client wrote; ``TRUSTED_CLIENT_IP_HEADER``: that header).
    None when there is no request, or when it holds no valid address.
    """
    if request is None:
        return None
    header = settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER
    header_key = "HTTP_" + header.upper().replace("-", "_") if header else ""
    meta = request.META
    return _address_of(
        (
            ("REMOTE_ADDR", meta.get("REMOTE_ADDR")),
            ("HTTP_X_FORWARDED_FOR", meta.get("HTTP_X_FORWARDED_FOR")),
            (header_key, meta.get(header_key) if header_key else None),
        ),
        settings.ALLAUTH_TRUSTED_PROXY_COUNT,
        header,
    )


@lru_cache(maxsize=1024)
def _address_of(meta: tuple, proxy_count: int, header: str | None) -> str | None:
    """allauth's answer for a request with only ``meta``, kept: reading and checking the address
    costs tens of microseconds, which every public tile's usage record would pay. The settings
    it depends on are part of the key."""
    request = HttpRequest()
    request.META = {name: value for name, value in meta if name and value is not None}
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:  # allauth's word for "no valid address"
        return None


SECRET_URL_ARGUMENTS = {"key"}  # allauth's email confirmation and password reset keys
REDACTED = "…"


def loggable_path(request: HttpRequest) -> str:
    """``request.path`` with each segment that holds a secret URL argument (an email
    confirmation or password reset key) replaced by an ellipsis: the log is no place for a key
    that proves who someone is."""
    try:
        arguments = resolve(request.path_info).kwargs
    except Resolver404:
        return request.path
    secrets = [str(value) for name, value in arguments.items() if name in SECRET_URL_ARGUMENTS]
    if not secrets:
        return request.path
    return "/".join(
        REDACTED if any(secret in segment for secret in secrets) else segment
        for segment in request.path.split("/")
    )


def security_event(
    kind: str,
    *,
    outcome: str = "success",
    request: HttpRequest | None = None,
    user: Any = None,
    **detail: Any,
) -> dict:
    """Write one security event and return it.

    ``kind`` is a dotted name such as ``signin``, ``signin.failed``, ``signin.locked_out``,
    ``registration.approved``, ``role.changed``, ``token.used``, ``token.refused``,
    ``user.deactivated``, ``export.restricted``;
    ``outcome`` is ``success`` or ``failure``; ``detail`` must be JSON-serialisable and never
    holds a secret (no password, token or code).
    """
    if user is None and request is not None:
        user = getattr(request, "user", None)
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    event = {
        "time": timezone.now().isoformat(),
        "event": kind,
        "outcome": outcome,
        "user_id": user.pk if authenticated else None,
        "user": user.get_username() if authenticated else None,
        "client": client_address(request),
        "path": loggable_path(request) if request is not None else None,
        **detail,
    }
    logger.info(json.dumps(event, default=str, sort_keys=True))
    return event
