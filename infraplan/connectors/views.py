"""The national datasets page: platform admins see each planning.data.gov.uk dataset of the
profile with its state, and switch one on or off with one button."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from infraplan.accounts.two_factor import admin_two_factor

from .national import (
    national_entries,
    national_source_disable,
    national_source_enable,
    national_spec,
)


def _platform_admin_or_403(request: HttpRequest) -> None:
    # Which national datasets exist is no secret (they are public), so others are told no.
    if not request.user.is_platform_admin:
        raise PermissionDenied("Only platform admins switch national datasets on or off.")


@login_required
@admin_two_factor
@require_GET
def national_list_view(request: HttpRequest) -> HttpResponse:
    _platform_admin_or_403(request)
    return render(request, "connectors/national_list.html", {"entries": national_entries()})


@login_required
@admin_two_factor
@require_POST
def national_switch_view(request: HttpRequest, slug: str, switch: str) -> HttpResponse:
    """Switch one national dataset on (``switch`` "on": a weekly refresh and a first load now)
    or off."""
    _platform_admin_or_403(request)
    spec = national_spec(slug)
    entry = next((item for item in national_entries() if spec and item.spec == spec), None)
    if entry is None or entry.source is None:
        raise Http404("No such national dataset: has the profile been synced?")
    if switch == "on":
        national_source_enable(actor=request.user, source=entry.source)
        messages.success(request, f"{spec.title} is switched on: loading now, then every week.")
    else:
        national_source_disable(actor=request.user, source=entry.source)
        messages.success(
            request, f"{spec.title} is switched off. What was loaded stays on the map."
        )
    return redirect(f"{reverse('national-list')}#national-{slug}")
