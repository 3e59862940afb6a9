"""A dataset's versions: a version and its validation report (on the page and as CSV), the
differences between two published versions, and rolling back to an earlier one."""

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from infraplan.accounts.models import Organisation
from infraplan.audit.security import security_event
from infraplan.audit.services import audit_record_read
from infraplan.connectors.load_requests import rollback_request
from infraplan.exports.forms import download_offer

from ..access import Action, dataset_permits
from ..forms import DiffChoiceForm, RollbackForm
from ..history import versions_diff
from ..models import Dataset, DatasetVersion, VersionState
from ..problem_retention import problems_removed_said
from ..selectors import (
    WHOLE_DATASET,
    published_version_numbers,
    rollback_choices,
    rollback_counts,
    version_for_page,
    version_problems,
)
from .lookups import dataset_or_404, run_url

PROBLEMS_PER_PAGE = 50


DIFF_ROWS_SHOWN = 500  # per kind; the counts are always complete


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
    problem_count = version.report.get("problem_count", problems.paginator.count)
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
            "problem_count": problem_count,
            "problems_removed": problems_removed_said(
                version, listed=problems.paginator.count, found=problem_count
            ),
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
    say). Streamed: a rejected load may have a problem in each of a million rows."""
    dataset = dataset_or_404(request, slug, Action.VIEW)
    version = _version_or_404(request, dataset, number)
    if not dataset.is_public:
        audit_record_read(actor=request.user, action="dataset.read.report", target=dataset)
        security_event(
            "export.restricted", request=request, format="report-csv", datasets=[dataset.slug]
        )
    response = StreamingHttpResponse(
        _report_lines(version, version_problems(version)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{dataset.slug}-version-{version.number}-report.csv"'
    )
    response["Cache-Control"] = "private, no-store"
    return response


class _Echo:
    """What ``csv.writer`` writes to, giving back each line to stream."""

    def write(self, line: str) -> str:
        return line


def _report_lines(version: DatasetVersion, problems: Iterable[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    columns = ("row", "reference", "field", "value", "problem")
    # A byte order mark first: without it Excel, where officers open this, reads UTF-8 as
    # Windows-1252 (a £ in a value shows as Â£).
    yield "\ufeff" + writer.writerow(columns)
    listed = 0
    for problem in problems:
        listed += 1
        yield writer.writerow([_csv_safe(problem[key]) for key in columns])
    for skipped in version.report.get("skipped", []):
        reference = _csv_safe(skipped.get("reference"))
        yield writer.writerow([
            _csv_safe(skipped.get("row")), reference, "reference", reference,
            _csv_safe(f"Left out: {skipped.get('reason', '')}"),
        ])  # fmt: skip
    # A load from before every problem was stored, or whose stored problems were removed, kept
    # the first ones only: said in the file, which may be read on its own.
    found = version.report.get("problem_count", listed)
    more = found - listed
    removed = problems_removed_said(version, listed=listed, found=found)
    if removed:
        yield writer.writerow(["", "", "", "", removed])
    elif more > 0:
        yield writer.writerow(
            ["", "", "", "", f"and {more:,} more problem{'' if more == 1 else 's'}, not listed: the report keeps the first "
             f"{listed:,}"]
        )  # fmt: skip


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
            "counts": [] if is_current else rollback_counts(dataset, version, parts),
        },
    )
