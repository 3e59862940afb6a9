"""Pages of our own under /accounts/ (allauth serves sign-in, sign-up, passwords and 2FA)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from .forms import DecisionForm
from .models import Role
from .selectors import registrations_pending_for
from .services import RegistrationError, registration_decide


@require_GET
def registration_waiting_view(request: HttpRequest) -> HttpResponse:
    """Where a person lands after verifying their address while approval is pending."""
    return render(request, "accounts/registration_waiting.html")


def _approver_or_404(request: HttpRequest) -> None:
    user = request.user
    if not (user.is_superuser or user.memberships.filter(role=Role.ORG_ADMIN).exists()):
        raise Http404("Only organisation admins decide on registrations.")


def _render_list(request: HttpRequest, forms: dict[int, DecisionForm] | None = None):
    forms = forms or {}
    pending = [
        (registration, forms.get(registration.pk) or DecisionForm(prefix=f"r{registration.pk}"))
        for registration in registrations_pending_for(request.user)
    ]
    status = 400 if forms else 200
    return render(request, "accounts/registration_list.html", {"pending": pending}, status=status)


@login_required
@require_GET
def registration_list_view(request: HttpRequest) -> HttpResponse:
    """Pending registrations the signed-in admin may decide."""
    _approver_or_404(request)
    return _render_list(request)


@login_required
@require_POST
def registration_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    _approver_or_404(request)
    registration = get_object_or_404(registrations_pending_for(request.user), pk=pk)
    form = DecisionForm(request.POST, prefix=f"r{pk}")
    if not form.is_valid():
        return _render_list(request, {pk: form})
    approve = form.cleaned_data["decision"] == "approve"
    try:
        registration_decide(
            actor=request.user, registration=registration, approve=approve,
            role=form.cleaned_data["role"] or "viewer", reason=form.cleaned_data["reason"],
            request=request,
        )  # fmt: skip
    except RegistrationError as error:
        form.add_error(None, str(error))
        return _render_list(request, {pk: form})
    verb = "approved" if approve else "rejected"
    messages.success(request, f"{registration.user.email} has been {verb} and told by email.")
    return redirect("registration-list")
