"""Changing the catalogue: adding a dataset, changing its details and fields and its style,
withdrawing and restoring it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from infraplan.accounts.models import Organisation
from infraplan.accounts.two_factor import two_factor_cleared, two_factor_url

from ..access import Action, dataset_permits
from ..dataset_page import dataset_field_types
from ..fields import dataset_field_add, dataset_fields_change
from ..forms import DatasetDetailsForm, FieldAddForm, FieldTypesForm, StyleForm, WithdrawForm
from ..models import AccessLevel, Dataset, GeometryType
from ..selectors import (
    dataset_ever_published,
    dataset_owners_for_new,
    dataset_sources,
    datasets_administered_of_all,
)
from ..services import (
    StyleChanged,
    dataset_create,
    dataset_restore,
    dataset_save,
    dataset_style_save,
    dataset_withdraw,
)
from .lookups import dataset_or_404, dataset_url


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def dataset_new_view(request: HttpRequest) -> HttpResponse:
    """Add a dataset, with no version yet: for data managers (for their organisations) and
    platform admins. Its first file or source is added on its page."""
    owners = dataset_owners_for_new(request.user)
    if not owners:
        raise PermissionDenied(
            "Only an organisation's data managers and admins may add a dataset to the catalogue."
        )
    administers = datasets_administered_of_all(request.user, [slug for slug, _ in owners])
    form = DatasetDetailsForm(
        request.POST if request.method == "POST" else None,
        owners=owners,
        access_fixed=_access_fixed(request, administers=administers),
        titles_taken=Dataset.objects.permitting(request.user),
    )
    if request.method == "POST" and form.is_valid():
        dataset = dataset_create(
            actor=request.user,
            owner=Organisation.objects.get(slug=form.cleaned_data["owner"]),
            **form.dataset_fields(),
        )
        messages.success(
            request,
            f"{dataset.title} has been added. It has no features yet: upload its first file, or "
            "add a source the platform loads it from.",
        )
        return redirect(dataset_url(dataset))
    context = {
        "form": form, "dataset": None,
        "access_default": AccessLevel(Dataset._meta.get_field("access_level").default).label,
    }  # fmt: skip
    if administers and not two_factor_cleared(request):
        context["two_factor_url"] = two_factor_url(request)
    return render(request, "catalogue/dataset_details.html", context)


def _access_fixed(request: HttpRequest, *, administers: bool) -> bool:
    """Whether who may see a dataset is fixed for this person, on the page adding it and on its
    details: only those who administer it choose it, and, as every admin function, only after
    they presented a second factor: an admin's password alone cannot publish a council's
    restricted data. Where it is fixed the form does not offer it (and ignores it if sent), and
    a new dataset has the platform's default (the model's)."""
    return not (administers and two_factor_cleared(request))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def dataset_details_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Change a dataset's details: for those who may manage it; 404 for anyone else. Who may
    see it is changed only by those who administer it, and, as every admin function, only
    after they presented a second factor: an admin's password alone cannot publish a council's
    restricted data. Those who manage it choose the organisations that contribute their own
    part, except where only named organisations see it: there who contributes is who sees it,
    changed as who may see it is. The same page changes its fields' types and rules and adds fields,
    each a form of its own (``form``: which one was sent)."""
    dataset = dataset_or_404(request, slug, Action.MANAGE)
    published = dataset_ever_published(dataset)
    administers = dataset_permits(request.user, dataset, Action.ADMINISTER)
    access_fixed = _access_fixed(request, administers=administers)
    # Who contributes to a dataset only named organisations see is who sees it: changed only
    # by those who may change who sees it.
    contributors_fixed = access_fixed and dataset.access_level == AccessLevel.ORGANISATIONS
    options = {
        "geometry_fixed": published,
        "access_fixed": access_fixed,
        "contributors": None if contributors_fixed else _contributors_offered(dataset),
        "field_names": [entry["name"] for entry in dataset.field_schema if entry.get("name")],
        "titles_taken": Dataset.objects.permitting(request.user).exclude(pk=dataset.pk),
    }
    sent = request.POST.get("form", "details") if request.method == "POST" else ""
    types_form = FieldTypesForm(
        request.POST if sent == "field-types" else None, schema=dataset.field_schema
    )
    add_form = FieldAddForm(request.POST if sent == "field-add" else None)
    if sent in ("field-types", "field-add"):
        done = _fields_change(request, dataset, types_form if sent == "field-types" else add_form)
        if done:
            return redirect(reverse("dataset-details", kwargs={"slug": dataset.slug}) + "#fields")
    if sent != "details":
        initial = {name: getattr(dataset, name) for name in DatasetDetailsForm.base_fields}
        initial["keywords"] = ", ".join(dataset.keywords)
        initial["contributing_organisations"] = dataset.contributing_organisations.all()
        for name in ("reference_date", "temporal_start", "temporal_end"):
            day = getattr(dataset, name)
            initial[name] = day.isoformat() if day else ""
        form = DatasetDetailsForm(initial=initial, **options)
    else:
        form = DatasetDetailsForm(request.POST, **options)
        if form.is_valid():
            dataset_save(
                actor=request.user, slug=dataset.slug, owner=dataset.owner,
                **form.dataset_fields(),
            )  # fmt: skip
            messages.success(
                request, f"The details of {form.cleaned_data['title']} have been saved."
            )
            return redirect(dataset_url(dataset))
    context = {
        "form": form, "dataset": dataset, "types_form": types_form, "add_form": add_form,
        "contributing": dataset.contributing_organisations.order_by("name"),
        "fields_added": bool(dataset.field_schema) or published,
        "has_errors": bool(form.errors or types_form.errors or add_form.errors),
    }  # fmt: skip
    if administers and not two_factor_cleared(request):
        context["two_factor_url"] = two_factor_url(request)
    return render(request, "catalogue/dataset_details.html", context)


def _contributors_offered(dataset: Dataset) -> QuerySet[Organisation]:
    """The organisations that may be chosen to contribute to ``dataset``: the platform's
    active ones but its owner, and any contributing already (an inactive one is kept unless
    unticked, not dropped by a save unseen)."""
    return (
        Organisation.objects.filter(Q(is_active=True) | Q(datasets_contributed_to=dataset))
        .exclude(pk=dataset.owner_id)
        .distinct()
        .order_by("name")
    )


def _fields_change(
    request: HttpRequest, dataset: Dataset, form: FieldTypesForm | FieldAddForm
) -> bool:
    """Apply the fields form sent: True when it changed what it asked (said in a message);
    False with its errors on the form, nothing changed."""
    if not form.is_valid():
        return False
    try:
        if isinstance(form, FieldTypesForm):
            changes = dataset_fields_change(
                actor=request.user, dataset=dataset, types=form.cleaned_data["types"],
                rules=form.cleaned_data["rules"],
            )  # fmt: skip
        else:
            changes = [
                dataset_field_add(
                    actor=request.user, dataset=dataset, name=form.cleaned_data["name"],
                    title=form.cleaned_data["title"], kind=form.cleaned_data["type"],
                )
            ]  # fmt: skip
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            form.add_error(None, error)
        elif isinstance(form, FieldTypesForm):
            index = {entry["name"]: i for i, entry in enumerate(dataset.field_schema)}
            for name, problems in error.error_dict.items():
                for problem in problems:
                    part = "allowed" if problem.code == "allowed" else "type"
                    form.add_error(f"{part}-{index[name]}" if name in index else None, problem)
        else:
            for name, problems in error.message_dict.items():
                form.add_error(name if name in form.fields else None, problems)
        return False
    for change in changes:
        messages.success(request, change.message())
    if not changes:
        messages.info(request, "Nothing was changed: each field's type and rules are as they were.")
    return True


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def dataset_withdraw_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Withdraw a dataset, giving the reason: for those who administer it (404 for anyone
    else), and, as changing who may see it, only after they presented a second factor. Without
    one the page says so and links to it, and a POST is refused (403)."""
    dataset = dataset_or_404(request, slug, Action.ADMINISTER)
    if dataset.is_withdrawn:
        messages.info(request, f"{dataset.title} is withdrawn already.")
        return redirect(dataset_url(dataset))
    cleared = two_factor_cleared(request)
    form = WithdrawForm(request.POST if request.method == "POST" and cleared else None)
    status = 200
    if request.method == "POST":
        if not cleared:
            status = 403
        elif form.is_valid():
            try:
                dataset_withdraw(
                    actor=request.user, dataset=dataset, reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:  # withdrawn since the page was read
                messages.info(request, " ".join(error.messages) + ".")
            else:
                messages.success(
                    request,
                    f"{dataset.title} has been withdrawn. Only its data managers and admins, "
                    "and platform admins, see it now.",
                )
            return redirect(dataset_url(dataset))
    context = {
        "dataset": dataset,
        "form": form,
        "two_factor_url": "" if cleared else two_factor_url(request),
        # Those who see it as named organisations: shared with it or contributing to it.
        "shared_with": list(
            Organisation.objects.filter(
                Q(datasets_shared_with=dataset) | Q(datasets_contributed_to=dataset)
            )
            .exclude(pk=dataset.owner_id)
            .distinct()
            .order_by("name")
            .values_list("name", flat=True)
        ),
        "sources": dataset_sources(dataset),
    }
    return render(request, "catalogue/dataset_withdraw.html", context, status=status)


@login_required
@require_POST
def dataset_restore_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Restore a withdrawn dataset (the button on its page): for those who administer it,
    after a second factor; refused without one, with the reason on its page."""
    dataset = dataset_or_404(request, slug, Action.ADMINISTER)
    if not two_factor_cleared(request):
        messages.error(
            request,
            f"{dataset.title} was not restored: use two-factor authentication first, then "
            "restore it.",
        )
    else:
        try:
            dataset_restore(actor=request.user, dataset=dataset)
        except ValidationError as error:  # restored since the page was read
            messages.info(request, " ".join(error.messages) + ".")
        else:
            messages.success(
                request,
                f"{dataset.title} has been restored: everyone its access allows sees it "
                "again, and its sources load on their schedules.",
            )
    return redirect(dataset_url(dataset))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def dataset_style_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Edit how the map draws a dataset: for those who may manage it; 404 for anyone else."""
    dataset = dataset_or_404(request, slug, Action.MANAGE)
    if dataset.geometry_type == GeometryType.NONE:
        raise Http404(f"{dataset.title} has no geometry, so the map does not draw it.")
    field_types = dataset_field_types(dataset)
    if request.method != "POST":
        form = StyleForm(field_types=field_types, style=dataset.style)
        return render(
            request, "catalogue/dataset_style.html", {"dataset": dataset, "style_form": form}
        )
    form = StyleForm(request.POST, field_types=field_types, style=dataset.style)
    if form.is_valid():
        try:
            dataset_style_save(
                actor=request.user, dataset=dataset, style=form.style,
                read_digest=form.cleaned_data["saved"],
            )  # fmt: skip
        except StyleChanged as changed:
            # Checked against the style saved meanwhile, the form says so, and carries that
            # style's digest: sent again, it replaces it.
            form = StyleForm(request.POST, field_types=field_types, style=changed.saved)
        else:
            messages.success(request, f"The style of {dataset.title} has been saved.")
            return redirect(dataset_url(dataset))
    return render(request, "catalogue/dataset_style.html", {"dataset": dataset, "style_form": form})
