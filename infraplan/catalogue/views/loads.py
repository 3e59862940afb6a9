"""Loads into a dataset: uploading a file, a run's progress and outcome, cancelling a run, and
refreshing a source now."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from infraplan.accounts.models import Organisation
from infraplan.connectors.load_requests import (
    RunNotCancelled,
    ingest_request,
    run_cancel,
    run_cancel_refusal,
    run_stop_asked,
    upload_ingest_request,
)
from infraplan.connectors.models import IngestRun

from ..access import Action
from ..first_schema import takes_fields_from_load
from ..forms import UploadForm
from ..models import Dataset, GeometryType
from ..selectors import (
    WHOLE_DATASET,
    dataset_visible,
    load_mapping_last,
    loads_permitted,
    run_for_page,
    run_waited_for,
    upload_organisation_choices,
    version_problems,
)
from ..services import loads_refusal
from ..uploads import (
    KeptUpload,
    KeptUploadRefused,
    SizeLimitUploadHandler,
    upload_keep,
    upload_kept_discard,
    upload_kept_find,
    upload_size_text,
)
from .lookups import (
    dataset_or_404,
    dataset_url,
    run_url,
    source_managed_or_404,
    sources_dataset_or_404,
)

PROBLEMS_ON_RUN_PAGE = 20


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
) -> IngestRun | None:
    """Ask for the load of the kept file with the form's settings; None, with the errors on
    the form, if the request is refused (the file is then kept again, as ``kept`` names it)."""
    data = form.cleaned_data
    slug = data["organisation"]
    try:
        return upload_ingest_request(
            actor=request.user, dataset=dataset, kept=kept,
            organisation=Organisation.objects.get(slug=slug) if slug != WHOLE_DATASET else None,
            layer=data["layer"], reference=data["reference"], rename=data["renames"],
            threshold=float(data["threshold"]), allow_large_removal=data["large_removal"],
        )  # fmt: skip
    except ValidationError as error:
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
    stopping = run_stop_asked(run)
    return render(
        request,
        "catalogue/run_detail.html",
        {
            "dataset": dataset,
            "run": run,
            "problems": problems[:PROBLEMS_ON_RUN_PAGE],
            "more_problems": max(0, len(problems) - PROBLEMS_ON_RUN_PAGE),
            "waited_for": run_waited_for(run),
            "stopping": stopping,
            "cancellable": run_cancel_refusal(run) is None
            and not stopping
            and loads_permitted(request.user, dataset, run.organisation),
        },
    )


@login_required
@require_POST
def dataset_run_cancel_view(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    """Cancel a load or rollback that waits or runs (``run_cancel``), then back to its page,
    which says what happened: for whoever may ask for a load of its part. Others who may see
    the dataset are refused (403) before the run is looked up; for the rest it does not exist."""
    dataset = dataset_or_404(request, slug, Action.VIEW)
    if dataset_visible(request.user, slug, Action.CONTRIBUTE) is None:
        raise PermissionDenied("You may not cancel loads of this dataset.")
    run = run_for_page(dataset, run_id)
    if run is None:
        raise Http404("No such load.")
    if not loads_permitted(request.user, dataset, run.organisation):
        raise PermissionDenied("You may not cancel loads of this part of the dataset.")
    try:
        run = run_cancel(actor=request.user, run=run)
    except RunNotCancelled as refused:
        messages.error(request, str(refused))
    return redirect(run_url(run))


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
            "state_label": run.state_label,
            "stage": run.stage,
            "stage_label": run.stage_label,
            "rows_read": run.rows_read,
            "active": run.is_active,
            # When a failed attempt will be tried again: the page shows why when it changes.
            "retry_at": run.retry_at.isoformat() if run.retry_at else None,
        }
    )
    response["Cache-Control"] = "private, no-store"
    return response


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
