"""Errors of the OGC API as OGC exceptions: ``{"code": ..., "description": ...}`` with the HTTP
status that says whether the request or the address was wrong."""

import json
from dataclasses import dataclass

from django.http import HttpResponse

from infraplan.core.heavy import RETRY_AFTER_SECONDS

# OGC API exception codes (as OGC API - Common and its implementations use them).
INVALID_PARAMETER = "InvalidParameterValue"
NOT_FOUND = "NotFound"
METHOD_NOT_ALLOWED = "MethodNotAllowed"


@dataclass
class OGCError(Exception):
    """A request the API cannot answer; ``description`` is for the client's user: which
    parameter, which value and why, or what was not found."""

    status: int
    code: str
    description: str

    def __str__(self) -> str:
        return self.description


def bad_parameter(description: str) -> OGCError:
    return OGCError(400, INVALID_PARAMETER, description)


def not_found(description: str) -> OGCError:
    return OGCError(404, NOT_FOUND, description)


def error_response(error: OGCError) -> HttpResponse:
    response = HttpResponse(
        json.dumps({"code": error.code, "description": error.description}),
        status=error.status,
        content_type="application/json",
    )
    # An error may depend on who asks (a restricted collection is "not found" to outsiders):
    # no cache keeps it.
    response["Cache-Control"] = "no-store"
    if error.status == 503:  # busy: every slot for heavy requests taken (core.heavy)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
