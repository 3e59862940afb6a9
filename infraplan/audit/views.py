"""The audit log viewer for platform admins: filter, page through, export as CSV. Read-only."""

import csv
import json
from collections.abc import Iterator

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from .forms import AuditFilterForm
from .models import AuditEntry
from .selectors import audit_actions, audit_entries, audit_target_types
from .services import audit_record

ROWS_PER_PAGE = 50
CSV_COLUMNS = [
    "at", "actor_id", "actor", "action", "target_type", "target_id", "target", "before",
    "after", "note",
]  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _platform_admin_or_404(request: HttpRequest) -> None:
    """Only platform admins learn that the viewer exists."""
    if not request.user.is_platform_admin:
        raise Http404("No such page.")


def _form(request: HttpRequest) -> AuditFilterForm:
    return AuditFilterForm(request.GET, actions=audit_actions(), target_types=audit_target_types())


def _json_text(value: object) -> str | None:
    return None if value is None else json.dumps(value, indent=2, sort_keys=True, default=str)


@login_required
@require_safe
def audit_list_view(request: HttpRequest) -> HttpResponse:
    _platform_admin_or_404(request)
    form = _form(request)
    entries = audit_entries(form.criteria())
    page = Paginator(entries, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.before_text = _json_text(entry.before)
        entry.after_text = _json_text(entry.after)
    query = {name: value for name, value in request.GET.items() if name != "page" and value}
    return render(
        request,
        "audit/audit_list.html",
        {
            "form": form,
            "page": page,
            "elided": page.paginator.get_elided_page_range(page.number, on_each_side=2),
            "query": urlencode(query),
            "filtered": bool(query),
        },
        status=400 if form.errors else 200,
    )


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _rows(entries) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for entry in entries.iterator(chunk_size=2000):
        values = [
            entry.at.isoformat(), entry.actor_id, entry.actor_label, entry.action,
            entry.target_type, entry.target_id, entry.target_label,
            json.dumps(entry.before, sort_keys=True) if entry.before is not None else "",
            json.dumps(entry.after, sort_keys=True) if entry.after is not None else "",
            entry.note,
        ]  # fmt: skip
        yield writer.writerow([_cell(value) for value in values])


@login_required
@require_safe
def audit_export_view(request: HttpRequest) -> HttpResponse:
    """The filtered entries as CSV, streamed row by row; the export is itself recorded."""
    _platform_admin_or_404(request)
    form = _form(request)
    if not form.is_valid():
        # Some messages end with a full stop and some do not: the sentence gets exactly one.
        problems = "; ".join(
            f"{name}: {message.rstrip('.')}"
            for name, messages in form.errors.items()
            for message in messages
        )
        return HttpResponse(
            f"Cannot export: {problems}.", status=400, content_type="text/plain; charset=utf-8"
        )
    criteria = form.criteria()
    with transaction.atomic():
        audit_record(
            actor=request.user, action="audit.export",
            target=(AuditEntry._meta.label_lower, "", "audit log"),
            after={name: str(value) for name, value in vars(criteria).items() if value},
        )  # fmt: skip
    response = StreamingHttpResponse(
        _rows(audit_entries(criteria)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    response["Cache-Control"] = "no-store"
    return response
