import time

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_safe

from infraplan.catalogue.selectors import datasets_counted

from .selectors import queue_status


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    dataset_count, unpublished_count = datasets_counted(request.user)
    return render(
        request,
        "core/home.html",
        {
            "dataset_count": dataset_count,
            "unpublished_count": unpublished_count,
            "areas": [area for area in settings.AUTHORITY_PROFILE.areas if area.in_phase_one],
        },
    )


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness: 200 with database "ok", or 503 naming what is wrong."""
    started = time.monotonic()
    body: dict = {"status": "ok", "database": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        body.update(status="error", database="unreachable", detail=type(error).__name__)
        connection.close()
        return JsonResponse(body, status=503)
    body["queue"] = queue_status()
    body["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
    return JsonResponse(body)


@require_safe
@cache_control(public=True, max_age=3600)
def branding_css(request: HttpRequest) -> HttpResponse:
    """The authority's colours as CSS custom properties (a file, so the CSP needs no inline style)."""
    branding = settings.AUTHORITY_PROFILE.branding
    css = (
        ":root{"
        f"--brand-header:{branding.header_colour};"
        f"--brand-header-text:{branding.header_text_colour};"
        f"--brand-accent:{branding.accent_colour};"
        "}\n"
    )
    return HttpResponse(css, content_type="text/css")


def _static_page(template: str):
    @require_safe
    def view(request: HttpRequest) -> HttpResponse:
        return render(request, template)

    return view


accessibility = _static_page("core/accessibility.html")
privacy = _static_page("core/privacy.html")
cookies = _static_page("core/cookies.html")


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page, made without the database or context processors: the error may be the
    database itself, and a failing error page would leave the visitor a bare line of text."""
    profile = settings.AUTHORITY_PROFILE
    page = loader.get_template("500.html").render({"authority": profile.authority})
    return HttpResponse(page, status=500)
