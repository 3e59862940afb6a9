"""Pages of our own under /accounts/ (allauth serves sign-in, sign-up, passwords and 2FA)."""

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from infraplan.core.templatetags.local_time import local_time

from .forms import DecisionForm, MemberRoleForm, ProfileForm
from .models import Membership, Registration, RegistrationStatus, Role
from .selectors import (
    memberships_administrable_by,
    registration_pending_position,
    registrations_decidable_by,
    registrations_pending_for,
)
from .services import (
    MembershipError,
    RegistrationError,
    membership_leave,
    membership_remove,
    membership_role_change,
    registration_decide,
    user_delete,
    user_profile_update,
)
from .two_factor import admin_two_factor

REGISTRATIONS_PER_PAGE = 20
MEMBERS_PER_PAGE = 50


@require_safe
def registration_waiting_view(request: HttpRequest) -> HttpResponse:
    """Where a person lands after verifying their address while approval is pending."""
    return render(request, "accounts/registration_waiting.html")


def _is_approver(request: HttpRequest) -> bool:
    user = request.user
    return user.is_superuser or user.memberships.filter(role=Role.ORG_ADMIN).exists()


def _approver_or_404(request: HttpRequest) -> None:
    if not _is_approver(request):
        raise Http404("Only organisation admins decide on registrations.")


def _render_list(
    request: HttpRequest,
    page_number: int | str | None,
    forms: dict[int, DecisionForm] | None = None,
) -> HttpResponse:
    forms = forms or {}
    page = Paginator(registrations_pending_for(request.user), REGISTRATIONS_PER_PAGE).get_page(
        page_number
    )
    pending = [
        (registration, forms.get(registration.pk) or DecisionForm(prefix=f"r{registration.pk}"))
        for registration in page.object_list
    ]
    context = {
        "pending": pending,
        "page": page,
        "elided": page.paginator.get_elided_page_range(page.number, on_each_side=2),
    }
    status = 400 if forms else 200
    return render(request, "accounts/registration_list.html", context, status=status)


@login_required
@admin_two_factor
@require_safe
def registration_list_view(request: HttpRequest) -> HttpResponse:
    """Pending registrations the signed-in admin may decide, a page at a time."""
    _approver_or_404(request)
    return _render_list(request, request.GET.get("page"))


@login_required
@admin_two_factor
@require_POST
def registration_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Decide one registration; ``?page=`` is the page of the list the admin came from."""
    _approver_or_404(request)
    registration = get_object_or_404(registrations_decidable_by(request.user), pk=pk)
    if registration.status != RegistrationStatus.PENDING:
        return _already_decided(request, registration)
    form = DecisionForm(request.POST, prefix=f"r{pk}")
    if form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        try:
            registration_decide(
                actor=request.user, registration=registration, approve=approve,
                role=form.cleaned_data["role"] or "viewer", reason=form.cleaned_data["reason"],
                request=request,
            )  # fmt: skip
        except RegistrationError as error:
            registration.refresh_from_db()
            if registration.status != RegistrationStatus.PENDING:  # decided meanwhile
                return _already_decided(request, registration)
            form.add_error(None, str(error))
        else:
            verb = "approved" if approve else "rejected"
            messages.success(
                request, f"{registration.user.email} has been {verb} and told by email."
            )
            return _back_to_list(request)
    # The form goes back with its errors on the page that holds this registration now, which
    # others' decisions since may have moved.
    position = registration_pending_position(request.user, registration)
    return _render_list(request, position // REGISTRATIONS_PER_PAGE + 1, {pk: form})


def _back_to_list(request: HttpRequest) -> HttpResponse:
    """To the page of the list the admin came from (``?page=``)."""
    page = request.GET.get("page", "")
    back = reverse("registration-list")
    return redirect(f"{back}?page={page}" if page.isdecimal() and page != "1" else back)


def _already_decided(request: HttpRequest, registration: Registration) -> HttpResponse:
    """Another admin decided first (in another tab, or at the same moment): say who and when,
    and change nothing."""
    decider = registration.decided_by.email if registration.decided_by else "another admin"
    when = local_time(registration.decided_at) if registration.decided_at else ""
    messages.warning(
        request,
        f"{registration.user.email} had already been {registration.get_status_display().lower()}"
        f" by {decider}{f' at {when}' if when else ''}. Your decision was not recorded.",
    )
    return _back_to_list(request)


@login_required
@admin_two_factor
@require_safe
def member_list_view(request: HttpRequest) -> HttpResponse:
    """The members of the organisations the signed-in admin administers, a page at a time."""
    _approver_or_404(request)
    page = Paginator(memberships_administrable_by(request.user), MEMBERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "elided": page.paginator.get_elided_page_range(page.number, on_each_side=2),
    }
    return render(request, "accounts/member_list.html", context)


def _administrable_membership_or_404(request: HttpRequest, pk: int) -> Membership:
    """A membership of an organisation the admin administers; anyone else's is not found."""
    _approver_or_404(request)
    return get_object_or_404(memberships_administrable_by(request.user), pk=pk)


def _after_member_change(request: HttpRequest) -> HttpResponse:
    """Back to the members, unless the admin has just demoted or removed themselves from the
    last organisation they administered."""
    return redirect("member-list" if _is_approver(request) else "account-profile")


@login_required
@admin_two_factor
@require_http_methods(["GET", "HEAD", "POST"])
def member_role_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A member of the admin's organisation: their role, to change, and the way to remove them."""
    membership = _administrable_membership_or_404(request, pk)
    form = MemberRoleForm(
        request.POST if request.method == "POST" else None, initial={"role": membership.role}
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                changed = membership_role_change(
                    actor=request.user, membership=membership, role=form.cleaned_data["role"],
                    request=request,
                )  # fmt: skip
            except MembershipError as problem:
                form.add_error(None, str(problem))
                status = 409
            else:
                messages.success(
                    request,
                    f"{changed.user}'s role in {changed.organisation.name} is now "
                    f"{changed.get_role_display().lower()}.",
                )
                return _after_member_change(request)
    context = {"membership": membership, "form": form}
    return render(request, "accounts/member_role.html", context, status=status)


@login_required
@admin_two_factor
@require_http_methods(["GET", "HEAD", "POST"])
def member_remove_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a member from the admin's organisation (asks first)."""
    membership = _administrable_membership_or_404(request, pk)
    if request.method == "POST":
        try:
            membership_remove(actor=request.user, membership=membership, request=request)
        except MembershipError as problem:
            context = {"membership": membership, "problem": str(problem)}
            return render(request, "accounts/member_remove.html", context, status=409)
        messages.success(
            request, f"{membership.user} has been removed from {membership.organisation.name}."
        )
        return _after_member_change(request)
    return render(request, "accounts/member_remove.html", {"membership": membership})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def account_profile_view(request: HttpRequest) -> HttpResponse:
    """Your account: your name, and the way to each other account page."""
    form = ProfileForm(
        request.POST if request.method == "POST" else None,
        initial={"full_name": request.user.full_name},
    )
    if request.method == "POST" and form.is_valid():
        user_profile_update(
            actor=request.user, user=request.user, full_name=form.cleaned_data["full_name"]
        )
        messages.success(request, "Your name has been saved.")
        return redirect("account-profile")
    memberships = request.user.memberships.select_related("organisation")
    status = 400 if form.errors else 200
    context = {"form": form, "memberships": memberships, "is_approver": _is_approver(request)}
    return render(request, "accounts/profile.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def membership_leave_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Leave one of your organisations (asks first)."""
    membership = get_object_or_404(
        Membership.objects.select_related("organisation"),
        user=request.user, organisation__slug=slug,
    )  # fmt: skip
    if request.method == "POST":
        name = membership.organisation.name
        try:
            membership_leave(actor=request.user, membership=membership, request=request)
        except MembershipError as problem:
            context = {"membership": membership, "problem": str(problem)}
            return render(request, "accounts/membership_leave.html", context, status=409)
        messages.success(request, f"You have left {name}.")
        return redirect("account-profile")
    return render(request, "accounts/membership_leave.html", {"membership": membership})


@login_required
def _deleting(request: HttpRequest) -> bool:
    """Whether the request would delete (a POST), the only one that asks to re-authenticate: the
    page itself is shown to GET and HEAD alike."""
    return request.method == "POST"


@reauthentication_required(enabled=_deleting)
@require_http_methods(["GET", "HEAD", "POST"])
def account_delete_view(request: HttpRequest) -> HttpResponse:
    """Delete your account, after saying what happens to what you contributed. Deleting asks
    you to confirm it is you (your password, or a second factor) if you have not lately."""
    if request.method == "POST":
        user_delete(actor=request.user, user=request.user, request=request)
        logout(request)
        messages.success(request, "Your account has been deleted.")
        return redirect("home")
    return render(request, "accounts/account_delete.html")
