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
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

logger = logging.getLogger("infraplan.security")


def client_address(request: HttpRequest | None) -> str | None:
    """The address the request came from (REMOTE_ADDR: the app sits behind no proxy it trusts)."""
    return request.META.get("REMOTE_ADDR") if request is not None else None


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
        "path": request.path if request is not None else None,
        **detail,
    }
    logger.info(json.dumps(event, default=str, sort_keys=True))
    return event
