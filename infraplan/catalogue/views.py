"""The catalogue pages: the list of datasets, a dataset's page (as of a date, too), adding a
dataset and changing its details, its style editor, withdrawing and restoring it; uploads and
their runs; versions with their reports, differences and rollback; sources."""

import csv
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.timezone import localdate
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from infraplan.accounts.models import Organisation
from infraplan.accounts.two_factor import two_factor_cleared, two_factor_url
from infraplan.audit.security import security_event
from infraplan.audit.services import audit_record_read
from infraplan.connectors.models import Source
from infraplan.connectors.national import national_spec
from infraplan.connectors.services import ingest_request, rollback_request
from infraplan.exports.forms import download_offer
from infraplan.maps.selectors import boundary_layers
from infraplan.maps.viewport import FALLBACK_SIZE, usable_bbox, view_fitting

from .access import Action, dataset_permits
from .caching import dataset_cache_headers
from .fields import dataset_field_add, dataset_fields_retype
from .first_schema import takes_fields_from_load
from .forms import (
    AsOfForm,
    DatasetDetailsForm,
    DatasetFilterForm,
    DiffChoiceForm,
    FieldAddForm,
    FieldTypesForm,
    RollbackForm,
    StyleForm,
    UploadForm,
    WithdrawForm,
)
from .gemini import MEDIA_TYPE, dataset_record
from .history import first_published_at, version_as_of, versions_diff
from .models import Dataset, DatasetVersion, GeometryType, VersionState
from .selectors import (
    SAMPLE_SIZE,
    WHOLE_DATASET,
    DatasetPage,
    dataset_field_types,
    dataset_list,
    dataset_owner_choices,
    dataset_owners_for_new,
    dataset_page,
    dataset_runs_active,
    dataset_source,
    dataset_sources,
    dataset_visible,
    load_mapping_last,
    parts_managed,
    published_version_numbers,
    rollback_choices,
    run_for_page,
    run_waited_for,
    upload_organisation_choices,
    version_for_page,
    version_problems,
)
from .services import (
    dataset_create,
    dataset_restore,
    dataset_save,
    dataset_withdraw,
    loads_refusal,
)
from .store import StoreFeatureSource
from .uploads import (
    KeptUpload,
    KeptUploadRefused,
    SizeLimitUploadHandler,
    upload_keep,
    upload_kept_claim,
    upload_kept_discard,
    upload_kept_find,
    upload_kept_return,
    upload_size_text,
)

PROBLEMS_PER_PAGE = 50
PROBLEMS_ON_RUN_PAGE = 20
DIFF_ROWS_SHOWN = 500  # per kind; the counts are always complete


@require_safe
def dataset_list_view(request: HttpRequest) -> HttpResponse:
    form = DatasetFilterForm(request.GET, owners=dataset_owner_choices(request.user))
    filters = {name: form.value(name) for name in ("theme", "owner", "access")}
    # A search that cannot be run as asked lists nothing: left out, its words or filters would
    # list every dataset as if it had found them.
    datasets: list[Dataset] = []
    if form.is_valid():
        datasets = list(
            dataset_list(
                request.user,
                themes=filters["theme"],
                owners=filters["owner"],
                access_levels=filters["access"],
                query=form.value("q"),
            )
        )
    return render(
        request,
        "catalogue/dataset_list.html",
        {
            "form": form,
            "datasets": datasets,
            "filtered": bool(form.value("q") or any(filters.values()) or form.errors),
            "can_add": bool(dataset_owners_for_new(request.user)),
        },
    )


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
    form = DatasetDetailsForm(
        request.POST if request.method == "POST" else None,
        owners=owners,
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
    return render(request, "catalogue/dataset_details.html", {"form": form, "dataset": None})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def dataset_details_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Change a dataset's details: for those who may manage it; 404 for anyone else. Who may
    see it is changed only by those who administer it, and, as every admin function, only
    after they presented a second factor: an admin's password alone cannot publish a council's
    restricted data. The same page changes its fields' types and adds fields, each a form of
    its own (``form``: which one was sent)."""
    dataset = dataset_or_404(request, slug, Action.MANAGE)
    published = dataset.versions.filter(published_at__isnull=False).exists()
    administers = dataset_permits(request.user, dataset, Action.ADMINISTER)
    options = {
        "geometry_fixed": published,
        "access_fixed": not (administers and two_factor_cleared(request)),
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
        initial["reference_date"] = (
            dataset.reference_date.isoformat() if dataset.reference_date else ""
        )
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
        "fields_added": bool(dataset.field_schema) or published,
        "has_errors": bool(form.errors or types_form.errors or add_form.errors),
    }  # fmt: skip
    if administers and not two_factor_cleared(request):
        context["two_factor_url"] = two_factor_url(request)
    return render(request, "catalogue/dataset_details.html", context)


def _fields_change(
    request: HttpRequest, dataset: Dataset, form: FieldTypesForm | FieldAddForm
) -> bool:
    """Apply the fields form sent: True when it changed what it asked (said in a message);
    False with its errors on the form, nothing changed."""
    if not form.is_valid():
        return False
    try:
        if isinstance(form, FieldTypesForm):
            changes = dataset_fields_retype(
                actor=request.user, dataset=dataset, types=form.cleaned_data["types"]
            )
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
            for name, problems in error.message_dict.items():
                form.add_error(f"type-{index[name]}" if name in index else None, problems)
        else:
            for name, problems in error.message_dict.items():
                form.add_error(name if name in form.fields else None, problems)
        return False
    for change in changes:
        messages.success(request, change.message())
    if not changes:
        messages.info(request, "No field's type was changed: each is as it was.")
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
        "shared_with": list(dataset.shared_with.order_by("name").values_list("name", flat=True)),
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


def _dataset_as_of(
    request: HttpRequest, dataset: Dataset
) -> tuple[AsOfForm, date | None, DatasetVersion | None]:
    """``?as_of=YYYY-MM-DD`` as the dataset's page and its metadata record read it: the form
    (with an error for a date that cannot be shown), the date, and the version current then."""
    form = AsOfForm(request.GET if "as_of" in request.GET else None)
    day = form.cleaned_data["as_of"] if form.is_valid() else None
    version = None
    if day is not None:
        if dataset.source_key != StoreFeatureSource.key:
            form.add_error("as_of", "This dataset's history is not kept on the platform")
        else:
            version = version_as_of(dataset, day)
            if version is None:
                form.add_error("as_of", _nothing_published_yet(dataset, day))
    return form, day, version


def _nothing_published_yet(dataset: Dataset, day: date) -> str:
    """Why ``as_of`` shows nothing: before the dataset's first publish, which it names."""
    said = f"Nothing had been published on {day:%-d %B %Y} yet"
    first = first_published_at(dataset)
    if first is None:
        return said
    return f"{said}: its first version was published on {localdate(first):%-d %B %Y}"


def dataset_or_404(request: HttpRequest, slug: str, action: Action) -> Dataset:
    """The dataset ``slug`` if the user may do ``action`` on it; 404 for unknown and not
    permitted alike."""
    dataset = dataset_visible(request.user, slug, action)
    if dataset is None:
        raise Http404("No such dataset.")
    return dataset


def sources_dataset_or_404(request: HttpRequest, slug: str) -> tuple[Dataset, set[int] | None]:
    """The dataset ``slug`` for working on its sources, with the parts the user manages
    (``parts_managed``: None for the whole dataset); 404 for those who manage no part of it."""
    dataset = dataset_or_404(request, slug, Action.CONTRIBUTE)
    parts = parts_managed(request.user, dataset)
    if parts is not None and not parts:
        raise Http404("No such dataset.")
    return dataset, parts


def source_managed_or_404(dataset: Dataset, source_id: int, parts: set[int] | None) -> Source:
    """Source ``source_id`` of ``dataset`` if it loads a part the user manages."""
    source = dataset_source(dataset, source_id)
    if source is None or (parts is not None and source.organisation_id not in parts):
        raise Http404("No such source.")
    return source


@require_safe
def dataset_detail_view(request: HttpRequest, slug: str) -> HttpResponse:
    """A dataset's metadata page. Unknown and not-permitted datasets are both 404s.

    ``?as_of=YYYY-MM-DD`` shows the features as published on that date (the feature store's
    datasets only: others have no versions on the platform).
    """
    dataset = dataset_or_404(request, slug, Action.VIEW)
    as_of_form, as_of_date, as_of_version = _dataset_as_of(request, dataset)
    page = dataset_page(
        request.user, dataset, as_of=as_of_version, on=as_of_date if as_of_version else None,
        versions_page=request.GET.get("page"),
    )  # fmt: skip
    if not dataset.is_public:
        # The page shows example values and first rows: a read of restricted data.
        audit_record_read(actor=request.user, action="dataset.read.page", target=dataset)
    numbers = published_version_numbers(dataset)
    can_contribute = page.can_contribute
    sources = dataset_sources(dataset)
    administers = page.can_manage and dataset_permits(request.user, dataset, Action.ADMINISTER)
    context = {
        "page": page,
        "dataset": dataset,
        # Withdrawing and restoring: for its owner's admins and platform admins, after a
        # second factor (the link to present or set one up otherwise).
        "can_administer": administers,
        "two_factor_url": (
            two_factor_url(request) if administers and not two_factor_cleared(request) else ""
        ),
        "as_of_form": as_of_form,
        "as_of_date": as_of_date if as_of_version else None,
        "as_of_version": as_of_version,
        "versions_elided": page.versions.paginator.get_elided_page_range(page.versions.number),
        # The versions' page links keep the date the page is showing.
        "versions_query": urlencode({"as_of": request.GET["as_of"]}) if as_of_version else "",
        "diff_form": DiffChoiceForm(numbers=numbers) if len(numbers) >= 2 else None,
        "can_contribute": can_contribute,
        # The organisations whose sources the user manages (None: every one).
        "parts_managed": (
            None
            if page.can_manage
            else parts_managed(request.user, dataset)
            if can_contribute
            else set()
        ),
        "sources": sources,
        # Sources whose last load failed, said at the top for those who load into the dataset:
        # a scheduled refresh failing at night is otherwise seen only in the sources table.
        "sources_failing": [
            source
            for source in sources
            if can_contribute and source.last_run is not None and source.last_run.did_not_publish
        ],
        # The versions table says whose features each version replaced.
        "several_parts": dataset.contributing_organisations.exists(),
        # Example values are read from this many features: a field they leave empty is said
        # to be empty in them, not in the dataset.
        "sample_size": SAMPLE_SIZE,
        # A national dataset waiting for a platform admin to switch its source on.
        "national_off": national_spec(dataset.slug) is not None
        and not any(source.enabled for source in sources),
        "runs_active": dataset_runs_active(dataset) if can_contribute else [],
        # The metadata's identifier: the same however the service was reached (SITE_URL, not
        # the request's Host).
        "resource_url": settings.SITE_URL.rstrip("/") + dataset_url(dataset),
        "open_map_url": _map_url(dataset, page, as_of_date if as_of_version else None),
        "contact_email": settings.AUTHORITY_PROFILE.authority.contact_email,
    }
    # Downloads of what has been published (sources other than the store keep no versions).
    if (
        as_of_version is not None
        or dataset.source_key != StoreFeatureSource.key
        or dataset.current_version_number()
    ):
        context["download"] = download_offer(
            dataset, as_of=context["as_of_date"], user=request.user
        )
    if page.can_manage and page.is_spatial:  # a list without geometry is not on the map
        context["style_form"] = StyleForm(
            field_types={info.name: info.type for info in page.fields}, style=dataset.style
        )
    return render(request, "catalogue/dataset_detail.html", context)


# The closest the dataset page's map link zooms to fit a small dataset (a few points).
MAP_LINK_MAX_ZOOM = 16


def _map_url(dataset: Dataset, page: DatasetPage, as_of: date | None) -> str:
    """The map showing the dataset over the boundaries it opens with: on its extent (that of
    its features placed in a district, where there are any), at a zoom the map draws it at (its
    minimum zoom, if fitting the extent would need a wider view: the middle of the extent
    then)."""
    query = {"layers": ",".join(dict.fromkeys([*boundary_layers(), dataset.slug]))}
    if page.map_extent_wgs84 is not None:
        extent = page.map_extent_wgs84
        box = usable_bbox((extent.min_x, extent.min_y, extent.max_x, extent.max_y))
        (lon, lat), zoom = view_fitting(box, *FALLBACK_SIZE)
        zoom = max(min(zoom, MAP_LINK_MAX_ZOOM), dataset.min_zoom)
        query |= {"center": f"{lon:.5f},{lat:.5f}", "zoom": f"{zoom:.2f}"}
    if as_of is not None:
        query["as_of"] = f"{as_of:%Y-%m-%d}"
    return f"{reverse('map')}?{urlencode(query)}"


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
    # The saved style is read under the dataset's row lock, so that of two saves at once the
    # second sees the first's style and is told, rather than replacing it unseen.
    with transaction.atomic():
        saved = Dataset.objects.select_for_update().only("style").get(pk=dataset.pk).style
        form = StyleForm(request.POST, field_types=field_types, style=saved)
        valid = form.is_valid()
        if valid:
            dataset_save(
                actor=request.user, slug=dataset.slug, owner=dataset.owner, style=form.style
            )
    if valid:
        messages.success(request, f"The style of {dataset.title} has been saved.")
        return redirect(dataset_url(dataset))
    return render(request, "catalogue/dataset_style.html", {"dataset": dataset, "style_form": form})


def dataset_url(dataset: Dataset) -> str:
    return reverse("dataset-detail", kwargs={"slug": dataset.slug})


# Loads: upload, a run's progress and outcome


@csrf_exempt
def dataset_upload_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Upload a file as the dataset's next version: for those who may contribute to it.

    The size limit must be in place before anything reads the body, and the CSRF check reads
    it, so the check runs after the handler is installed (the documented order in Django).
    """
    request.upload_handlers.insert(0, SizeLimitUploadHandler(request))
    return _dataset_upload(request, slug)


@csrf_protect
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def _dataset_upload(request: HttpRequest, slug: str) -> HttpResponse:
    """The upload form, and its file kept while another field has an error (``uploads``): sent
    again without a new file, the form loads the kept one. A GET offers the reference column,
    renames and threshold of the dataset's last published load."""
    dataset = dataset_visible(request.user, slug, Action.CONTRIBUTE)
    if dataset is None:
        return _loads_refused(request, slug)
    organisations = upload_organisation_choices(request.user, dataset)
    limit = settings.UPLOAD_MAX_BYTES
    too_large = ""
    if getattr(request, "upload_too_large", False):
        too_large = f"The file must be smaller than {upload_size_text(limit)}"
    owner = {"user_id": request.user.pk, "dataset_id": dataset.pk}
    kept, kept_refused = None, ""
    if request.method == "POST" and request.POST.get("kept_file"):
        try:
            kept = upload_kept_find(request.POST["kept_file"], **owner)
        except KeptUploadRefused as refused:
            kept_refused = str(refused)
    form = UploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        organisations=organisations,
        too_large=too_large,
        spatial=dataset.geometry_type != GeometryType.NONE,
        kept=kept,
        kept_refused=kept_refused,
        initial=_upload_initial(dataset),
    )
    if request.method == "POST":
        valid = form.is_valid()
        if form.cleaned_data.get("file"):  # a new file, past the file's checks, replaces it
            if kept is not None:
                upload_kept_discard(kept)
            kept = upload_keep(form.cleaned_data["file"], **owner)
        if valid and kept is not None:
            run = _upload_request(request, dataset, form, kept)
            if run is not None:
                return redirect(run_url(run))
            kept = form.kept  # refused: the file is offered again
        form.kept = kept
    return render(
        request,
        "catalogue/dataset_upload.html",
        {
            "dataset": dataset,
            "form": form,
            "limit": upload_size_text(limit),
            "fields_from_file": takes_fields_from_load(dataset),
        },
    )


def _upload_initial(dataset: Dataset) -> dict[str, Any]:
    """The upload form's reference column, renames and rejection threshold as the dataset's
    last published load had them, so they need not be typed again (large removals are allowed
    load by load: never offered again)."""
    mapping = load_mapping_last(dataset)
    if not mapping:
        return {}
    initial: dict[str, Any] = {"reference": mapping.get("reference", "")}
    if mapping.get("rename"):
        initial["renames"] = "\n".join(f"{old} = {new}" for old, new in mapping["rename"].items())
    if mapping.get("max_invalid_share") is not None:
        initial["threshold"] = _percent(mapping["max_invalid_share"])
    return initial


def _percent(share: float) -> str:
    """A share as the threshold field shows it: 5, 2.5 (at most one decimal place)."""
    return f"{share * 100:.1f}".removesuffix(".0")


def _loads_refused(request: HttpRequest, slug: str) -> HttpResponse:
    """The answer to a load (an upload, "Refresh now") asked of dataset ``slug`` by someone
    who may not contribute to it. Those who manage it while it is withdrawn, which nobody may
    load into, go back to its page, told why; everyone else gets the gate's 404."""
    dataset = dataset_visible(request.user, slug, Action.MANAGE)
    if dataset is None or not dataset.is_withdrawn:
        raise Http404("No such dataset.")
    messages.error(request, loads_refusal(dataset))
    return redirect(dataset_url(dataset))


def _upload_request(
    request: HttpRequest, dataset: Dataset, form: UploadForm, kept: KeptUpload
) -> Any:
    """Ask for the load of the kept file, moved to where files to load are stored; None
    (errors on the form, and the file kept again as ``form.kept``) if the request is refused."""
    slug = form.cleaned_data["organisation"]
    organisation = Organisation.objects.get(slug=slug) if slug != WHOLE_DATASET else None
    stored = upload_kept_claim(kept, dataset_slug=dataset.slug)
    config = {"path": str(stored)}
    if form.cleaned_data["layer"]:
        config["layer"] = form.cleaned_data["layer"]
    mapping = {
        "reference": form.cleaned_data["reference"],
        "rename": form.cleaned_data["renames"],
        "max_invalid_share": float(form.cleaned_data["threshold"]) / 100,
        "allow_large_removal": form.cleaned_data["large_removal"],
    }
    try:
        return ingest_request(
            actor=request.user, dataset=dataset, connector_key="upload", config=config,
            mapping=mapping, organisation=organisation,
        )  # fmt: skip
    except ValidationError as error:
        form.kept = upload_kept_return(
            stored, user_id=request.user.pk, dataset_id=dataset.pk, signed=kept.signed
        )
        for messages_ in error.message_dict.values():
            for message in messages_:
                form.add_error(None, message)
        return None


@login_required
@require_safe
def dataset_run_view(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    """A load's stage and rows while it runs, its outcome after: for contributors."""
    dataset = dataset_or_404(request, slug, Action.CONTRIBUTE)
    run = run_for_page(dataset, run_id)
    if run is None:
        raise Http404("No such load.")
    problems = version_problems(run.version) if run.version else []
    return render(
        request,
        "catalogue/run_detail.html",
        {
            "dataset": dataset,
            "run": run,
            "problems": problems[:PROBLEMS_ON_RUN_PAGE],
            "more_problems": max(0, len(problems) - PROBLEMS_ON_RUN_PAGE),
            "waited_for": run_waited_for(run),
        },
    )


@login_required
@require_safe
def dataset_run_status_view(request: HttpRequest, slug: str, run_id: int) -> JsonResponse:
    """A load's state, stage and rows as JSON, for the run page's script to follow it."""
    dataset = dataset_or_404(request, slug, Action.CONTRIBUTE)
    run = run_for_page(dataset, run_id)
    if run is None:
        raise Http404("No such load.")
    response = JsonResponse(
        {
            "state": run.state,
            "state_label": run.get_state_display(),
            "stage": run.stage,
            "stage_label": run.stage_label,
            "rows_read": run.rows_read,
            "active": run.is_active,
        }
    )
    response["Cache-Control"] = "private, no-store"
    return response


def run_url(run: Any) -> str:
    return reverse("dataset-run", kwargs={"slug": run.dataset.slug, "run_id": run.pk})


# Versions: report, CSV, diff, rollback


def _version_or_404(request: HttpRequest, dataset: Dataset, number: int) -> DatasetVersion:
    version = version_for_page(request.user, dataset, number)
    if version is None:
        raise Http404("No such version.")
    return version


@require_safe
def version_detail_view(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """A version and its validation report, the problems paged."""
    dataset = dataset_or_404(request, slug, Action.VIEW)
    version = _version_or_404(request, dataset, number)
    if not dataset.is_public:
        audit_record_read(actor=request.user, action="dataset.read.report", target=dataset)
    problems = Paginator(version_problems(version), PROBLEMS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    current = dataset.current_version
    published = version.state == VersionState.PUBLISHED
    return render(
        request,
        "catalogue/version_detail.html",
        {
            "dataset": dataset,
            "version": version,
            # A published version downloads as it was published, whichever is current now.
            "download": download_offer(dataset, as_of=None, version=version.number)
            if published
            else None,
            "problems": problems,
            "elided": problems.paginator.get_elided_page_range(problems.number),
            "problem_count": version.report.get("problem_count", problems.paginator.count),
            # None where the load did not record it (the page says so).
            "counts": {name: version.report.get(name) for name in REPORT_COUNTS},
            "repaired": _repaired_said(version.report),
            "show_who": dataset_permits(request.user, dataset, Action.CONTRIBUTE),
            "can_roll_back": (
                version.state == VersionState.PUBLISHED
                and not dataset.is_withdrawn  # nothing loads into it, rollbacks included
                and current is not None
                and current.pk != version.pk
                and bool(rollback_choices(request.user, dataset))
            ),
            "previous": _previous_published(dataset, version),
        },
    )


def _versions_undone(dataset: Dataset, version: DatasetVersion, only: str | None) -> QuerySet:
    """The published versions after ``version`` whose changes a rollback to it undoes: every
    one, or, when the one part that may be restored is an organisation's, those that changed
    that part (its loads and rollbacks, and those of the whole dataset)."""
    later = dataset.versions.filter(number__gt=version.number, state=VersionState.PUBLISHED)
    if only is not None and only != WHOLE_DATASET:
        later = later.filter(Q(organisation__isnull=True) | Q(organisation__slug=only))
    return later.select_related("organisation", "rolled_back_to").order_by("number")


def _nothing_to_roll_back(version: DatasetVersion, part: str | None) -> str:
    """Why a rollback of ``part`` (an organisation's slug; else the version is current) to
    ``version`` would change nothing."""
    if part is None or part == WHOLE_DATASET:
        return f"Version {version.number} is already the current version."
    name = Organisation.objects.get(slug=part).name
    return (
        f"No version since version {version.number} has changed {name}'s features: there is "
        "nothing to roll back."
    )


def _previous_published(dataset: Dataset, version: DatasetVersion) -> int | None:
    if version.state != VersionState.PUBLISHED:
        return None
    return next((n for n in published_version_numbers(dataset) if n < version.number), None)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value: Any) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula gets a quote first."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _repaired_said(report: dict[str, Any]) -> str | None:
    """How many geometries the load repaired, with the references of the first it kept
    (``ingest.REPAIRED_NAMED``) and how many more; None where the load did not record it."""
    count = report.get("geometries_repaired")
    if count is None:
        return None
    named = [reference for reference in report.get("repaired_references", []) if reference]
    if not named:
        return f"{count:,}"
    more = count - len(named)
    return f"{count:,}: {', '.join(named)}" + (f" and {more:,} more" if more > 0 else "")


# The counts a load's report may keep, as the version page lists them.
REPORT_COUNTS = ("rows_read", "rows_rejected", "geometries_repaired")


@require_safe
def version_report_csv_view(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """The version's problems as CSV: row, reference (where the row has one), field, value,
    problem; then the rows left out of the features (a demo load's rows without coordinates,
    say)."""
    dataset = dataset_or_404(request, slug, Action.VIEW)
    version = _version_or_404(request, dataset, number)
    if not dataset.is_public:
        audit_record_read(actor=request.user, action="dataset.read.report", target=dataset)
        security_event(
            "export.restricted", request=request, format="report-csv", datasets=[dataset.slug]
        )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{dataset.slug}-version-{version.number}-report.csv"'
    )
    response["Cache-Control"] = "private, no-store"
    # A byte order mark first: without it Excel, where officers open this, reads UTF-8 as
    # Windows-1252 (a £ in a value shows as Â£).
    response.write("\ufeff")
    writer = csv.writer(response)
    columns = ("row", "reference", "field", "value", "problem")
    writer.writerow(columns)
    problems = version_problems(version)
    for problem in problems:
        writer.writerow([_csv_safe(problem[key]) for key in columns])
    for skipped in version.report.get("skipped", []):
        reference = _csv_safe(skipped.get("reference"))
        writer.writerow([
            _csv_safe(skipped.get("row")), reference, "reference", reference,
            _csv_safe(f"Left out: {skipped.get('reason', '')}"),
        ])  # fmt: skip
    # The report keeps the first problems only: said in the file, which may be read on its own.
    more = version.report.get("problem_count", len(problems)) - len(problems)
    if more > 0:
        writer.writerow(
            ["", "", "", "", f"and {more:,} more problem{'' if more == 1 else 's'}, not listed: the report keeps the first "
             f"{len(problems):,}"]
        )  # fmt: skip
    return response


@require_safe
def version_diff_choose_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The versions list's "compare" form: to the diff page, or back with the error."""
    dataset = dataset_or_404(request, slug, Action.VIEW)
    numbers = published_version_numbers(dataset)
    form = DiffChoiceForm(request.GET, numbers=numbers)
    if form.is_valid():
        old, new = sorted((form.cleaned_data["old"], form.cleaned_data["new"]))
        return redirect("dataset-diff", slug=dataset.slug, old=old, new=new)
    return render(
        request, "catalogue/diff_choose.html", {"dataset": dataset, "form": form}, status=400
    )


@require_safe
def version_diff_view(request: HttpRequest, slug: str, old: int, new: int) -> HttpResponse:
    """Features added, changed (with the fields) and removed between two published versions."""
    dataset = dataset_or_404(request, slug, Action.VIEW)
    try:
        diff = versions_diff(dataset, old, new, limit=DIFF_ROWS_SHOWN)
    except ValueError:
        raise Http404("No such published version.") from None
    if not dataset.is_public:
        audit_record_read(actor=request.user, action="dataset.read.diff", target=dataset)
    return render(
        request,
        "catalogue/version_diff.html",
        {"dataset": dataset, "diff": diff, "limit": DIFF_ROWS_SHOWN},
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def version_rollback_view(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """Confirm, then put on the task queue a rollback to an earlier version: of the whole
    dataset or of one organisation's part, for those who manage it (``rollback_choices``)."""
    dataset = dataset_or_404(request, slug, Action.CONTRIBUTE)
    parts = rollback_choices(request.user, dataset)
    if not parts:
        raise Http404("No such dataset.")
    version = _version_or_404(request, dataset, number)
    if version.state != VersionState.PUBLISHED:
        raise Http404("Only a published version can be restored.")
    is_current = version.is_current
    form = RollbackForm(request.POST if request.method == "POST" else None, parts=parts)
    # The one part this person may restore, when no later version changed it.
    unchanged = form.only not in (None, WHOLE_DATASET) and not (
        _versions_undone(dataset, version, form.only).exists()
    )
    if request.method == "POST":
        if is_current or unchanged:
            messages.error(
                request, _nothing_to_roll_back(version, None if is_current else form.only)
            )
            return redirect("dataset-version", slug=dataset.slug, number=number)
        if form.is_valid():
            part = form.cleaned_data["part"]
            if part != WHOLE_DATASET and not _versions_undone(dataset, version, part).exists():
                form.add_error("part", _nothing_to_roll_back(version, part))
            else:
                organisation = (
                    None if part == WHOLE_DATASET else Organisation.objects.get(slug=part)
                )
                run = rollback_request(
                    actor=request.user, dataset=dataset, to=version, organisation=organisation
                )
                return redirect(run_url(run))
    return render(
        request,
        "catalogue/version_rollback.html",
        {
            "dataset": dataset,
            "version": version,
            "is_current": is_current,
            "nothing_changed": _nothing_to_roll_back(version, form.only) if unchanged else "",
            "form": form,
            "later": _versions_undone(dataset, version, form.only),
        },
    )


# Sources


@login_required
@require_POST
def source_refresh_view(request: HttpRequest, slug: str, source_id: int) -> HttpResponse:
    """Load a source now, whatever its schedule: data managers of the dataset, or of the
    contributing organisation whose part it loads."""
    if dataset_visible(request.user, slug, Action.CONTRIBUTE) is None:
        return _loads_refused(request, slug)
    dataset, parts = sources_dataset_or_404(request, slug)
    source = source_managed_or_404(dataset, source_id, parts)
    if source.last_run is not None and source.last_run.is_active:
        messages.error(request, "That source is already loading: see its progress below.")
        return redirect(f"{dataset_url(dataset)}#sources")
    run = ingest_request(
        actor=request.user, dataset=dataset, connector_key=source.connector_key,
        config=source.config, mapping=source.mapping, organisation=source.organisation,
        source=source,
    )  # fmt: skip
    return redirect(run_url(run))


# The dataset's metadata as a UK GEMINI 2.3 record


@require_safe
def dataset_metadata_xml_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The dataset page's metadata as a UK GEMINI 2.3 XML record (``catalogue.gemini``), for a
    catalogue or data.gov.uk: the page's gate, values and ``?as_of=YYYY-MM-DD``. A date the page
    would not show is refused in plain text: 400, or 404 before anything had been published."""
    dataset = dataset_or_404(request, slug, Action.VIEW)
    as_of_form, as_of_date, as_of_version = _dataset_as_of(request, dataset)
    if as_of_form.errors:
        # A real date before the first publish is nothing there (404); anything else, a 400.
        unpublished = as_of_date is not None and dataset.source_key == StoreFeatureSource.key
        return _metadata_refusal(" ".join(as_of_form.errors["as_of"]), 404 if unpublished else 400)
    page = dataset_page(request.user, dataset, as_of=as_of_version, on=as_of_date)
    # The downloads the page offers, on the same condition.
    offered = (
        as_of_version is not None
        or dataset.source_key != StoreFeatureSource.key
        or dataset.current_version_number()
    )
    download = download_offer(dataset, as_of=as_of_date) if offered else None
    response = HttpResponse(
        dataset_record(dataset=dataset, page=page, download=download), content_type=MEDIA_TYPE
    )
    suffix = f"-{as_of_date:%Y-%m-%d}" if as_of_date else ""
    response["Content-Disposition"] = f'attachment; filename="{dataset.slug}{suffix}-gemini.xml"'
    return dataset_cache_headers(response, [dataset])


def _metadata_refusal(message: str, status: int) -> HttpResponse:
    response = HttpResponse(
        f"Cannot make this metadata record: {message}.",
        status=status,
        content_type="text/plain; charset=utf-8",
    )
    response["Cache-Control"] = "no-store"  # it may say when a restricted dataset was published
    return response
