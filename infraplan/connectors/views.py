"""A dataset's sources, for its data managers: add one (first the kind of service, then its
settings, column mapping and schedule), change one, remove one. And the national datasets page:
platform admins see each planning.data.gov.uk dataset of the profile with its state, and switch
one on or off with one button."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from infraplan.accounts.models import Organisation
from infraplan.accounts.two_factor import admin_two_factor
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.selectors import WHOLE_DATASET
from infraplan.catalogue.views.lookups import (
    dataset_url,
    run_url,
    source_managed_or_404,
    sources_dataset_or_404,
)

from .forms import ConnectorChoiceForm, SourceForm, source_connector_choices
from .load_requests import ingest_request
from .models import Source
from .national import (
    national_entries,
    national_source_disable,
    national_source_enable,
    national_spec,
)
from .selectors import source_organisation_choices
from .sources import source_delete, source_save


def _platform_admin_or_403(request: HttpRequest) -> None:
    # Which national datasets exist is no secret (they are public), so others are told no.
    if not request.user.is_platform_admin:
        raise PermissionDenied("Only platform admins switch national datasets on or off.")


@login_required
@admin_two_factor
@require_safe
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
        try:
            national_source_enable(actor=request.user, source=entry.source)
        except ValidationError as error:
            # Settings saved before the platform checked them as it does now, say.
            problems = "; ".join(
                f"{name}: {problem}" if name != NON_FIELD_ERRORS else problem
                for name, found in error.message_dict.items()
                for problem in found
            )
            messages.error(
                request,
                f"{spec.title} cannot be switched on: its saved settings do not pass ({problems}). "
                "Run infraplan sync_profile to set them from the authority profile again.",
            )
        else:
            messages.success(request, f"{spec.title} is switched on: loading now, then every week.")
    else:
        national_source_disable(actor=request.user, source=entry.source)
        messages.success(
            request, f"{spec.title} is switched off. What was loaded stays on the map."
        )
    return redirect(f"{reverse('national-list')}#national-{slug}")


# A dataset's sources


def _sources_url(dataset: Dataset) -> str:
    return f"{dataset_url(dataset)}#sources"


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def source_new_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Add a source: ``?connector=`` not yet chosen (or not one offered), the choice; then the
    source's form. Data managers of the dataset, or of a contributing organisation (for its
    part)."""
    dataset, _ = sources_dataset_or_404(request, slug)
    offered = dict(source_connector_choices())
    key = request.GET.get("connector", "")
    if key not in offered:
        # "chosen" marks an answer, so Continue with nothing chosen is an error, not the question.
        answered = "connector" in request.GET or "chosen" in request.GET
        choice = ConnectorChoiceForm(request.GET if answered else None)
        choice.is_valid()
        return render(
            request, "connectors/source_choose.html", {"dataset": dataset, "form": choice}
        )
    return _source_form(request, dataset, key, source=None)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def source_edit_view(request: HttpRequest, slug: str, source_id: int) -> HttpResponse:
    """Change a source's settings, mapping or schedule: data managers of the dataset, or of the
    contributing organisation whose part it loads."""
    dataset, parts = sources_dataset_or_404(request, slug)
    source = source_managed_or_404(dataset, source_id, parts)
    if not source.has_settings_page:
        raise Http404("This source's settings are not changed here.")
    return _source_form(request, dataset, source.connector_key, source=source)


def _source_form(
    request: HttpRequest, dataset: Dataset, connector_key: str, *, source: Source | None
) -> HttpResponse:
    form = SourceForm(
        request.POST if request.method == "POST" else None,
        connector_key=connector_key,
        organisations=source_organisation_choices(request.user, dataset, source),
        schema={field["name"]: field for field in dataset.field_schema},
        source=source,
    )
    if request.method == "POST" and form.is_valid():
        saved = _source_save(request, dataset, form, source)
        if saved is not None:
            if request.POST.get("then") == "load":
                run = ingest_request(
                    actor=request.user, dataset=dataset, connector_key=saved.connector_key,
                    config=saved.config, mapping=saved.mapping,
                    organisation=saved.organisation, source=saved,
                )  # fmt: skip
                return redirect(run_url(run))
            messages.success(request, f"The {form.connector.title} source is saved.")
            return redirect(_sources_url(dataset))
    return render(
        request,
        "connectors/source_form.html",
        {"dataset": dataset, "form": form, "source": source, "connector": form.connector},
    )


def _source_save(
    request: HttpRequest, dataset: Dataset, form: SourceForm, source: Source | None
) -> Source | None:
    """Save through the service; None (errors on the form) if it refuses."""
    data = form.cleaned_data
    slug = data["organisation"]
    organisation = Organisation.objects.get(slug=slug) if slug != WHOLE_DATASET else None
    try:
        return source_save(
            actor=request.user, dataset=dataset, connector_key=form.connector.key,
            config=data["config"], mapping=data["mapping"], organisation=organisation,
            schedule=data["schedule_text"], enabled=data["enabled"], source=source,
            credentials=data["credentials"], credentials_removed=data["credentials_removed"],
        )  # fmt: skip
    except ValidationError as error:
        for name, problems in error.message_dict.items():
            for problem in problems:
                form.add_error(name if name in form.fields else None, problem)
        return None


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def source_delete_view(request: HttpRequest, slug: str, source_id: int) -> HttpResponse:
    """Remove a source, after a confirmation page: data managers of the dataset, or of the
    contributing organisation whose part it loads."""
    dataset, parts = sources_dataset_or_404(request, slug)
    source = source_managed_or_404(dataset, source_id, parts)
    if request.method == "POST":
        source_delete(actor=request.user, source=source)
        messages.success(request, "The source is removed. What it loaded stays, with its versions.")
        return redirect(_sources_url(dataset))
    return render(request, "connectors/source_delete.html", {"dataset": dataset, "source": source})
