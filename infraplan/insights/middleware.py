import time

from django.conf import settings

from .usage import usage_record

# Routes not worth a record: probes and the admin's own pages.
IGNORED_KINDS = {"healthz", "branding-css"}


class UsageMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        response = self.get_response(request)
        if not settings.USAGE_LOG_ENABLED:
            return response
        match = getattr(request, "resolver_match", None)
        kind = (match.view_name if match else "unmatched") or "unnamed"
        if kind in IGNORED_KINDS or kind.startswith("admin:"):
            return response
        user = getattr(request, "user", None)
        usage_record(
            kind=kind,
            method=request.method,
            dataset=(match.kwargs.get("slug", "") if match else ""),
            user_id=user.pk if user is not None and user.is_authenticated else None,
            status=response.status_code,
            duration_ms=round((time.monotonic() - started) * 1000),
            request=request,
        )
        return response
