"""Downloads: ``/datasets/<slug>/download.<format>``, and the dataset page's download form.

Unknown datasets and datasets the user may not see are 404s, as everywhere (the one gate).
Bad parameters are 400s in plain text saying which parameter, which value and why; a date
before the dataset's first publish is a 404 saying when it was first published; too many
features for a format made whole before it is sent is a 413 saying how many.
"""

import tempfile

from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header, urlencode
from django.views.decorators.http import require_safe

from infraplan.catalogue.caching import dataset_cache_headers
from infraplan.catalogue.history import as_of_parse
from infraplan.core.heavy import RETRY_AFTER_SECONDS, Busy, Held, slot_give_back, slot_take
from infraplan.maps.selectors import permitted_dataset

from .base import Exporter, ExportError, StreamingExporter
from .forms import download_offer
from .registry import exporter_for
from .selectors import Export, export_prepare, export_size_check
from .services import download_record

FORMAT, AREA, WARD = "format", "area", "ward"  # the download form's choices
# How many features the file holds, in every download's answer: the one place a CSV file's
# count can be read from, since its table has no room for it.
FEATURE_COUNT = "X-Feature-Count"


def _attachment(filename: str) -> str:
    """The Content-Disposition of a download named ``filename``, as Django's FileResponse (the
    formats made whole) writes it: RFC 6266's ``filename``, quoted, and ``filename*`` should
    a name not be plain ASCII."""
    return content_disposition_header(as_attachment=True, filename=filename)


def _refusal(problem: ExportError, retry_after: int | None = None) -> HttpResponse:
    # Each message reads on from the colon: "bbox: expected four numbers ...".
    response = HttpResponse(
        f"Cannot make this download: {problem.message}.",
        status=problem.status,
        content_type="text/plain; charset=utf-8",
    )
    # A refusal may name a restricted dataset (its fields, its first publish): no cache keeps it.
    response["Cache-Control"] = "no-store"
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


@require_safe
def download_view(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    """The dataset ``slug``, or the part of it the query chooses, in the format ``key``.

    HEAD (a link checker, a download manager) gets the answer GET would, its headers without
    the file, which is not made."""
    dataset = permitted_dataset(request.user, slug)
    exporter = exporter_for(key)
    if dataset is None or exporter is None:
        raise Http404("No such dataset.")
    try:
        export = export_prepare(
            user=request.user, dataset=dataset, exporter=exporter, query=request.GET
        )
        export_size_check(exporter, export, command=f"infraplan export {slug} --format {key}")
    except ExportError as problem:
        return _refusal(problem)
    if request.method == "HEAD":
        response = HttpResponse(content_type=exporter.media_type)
        response["Content-Disposition"] = _attachment(export.filename(key))
        response[FEATURE_COUNT] = str(export.summary.count)
        return dataset_cache_headers(response, export.datasets_read)
    try:
        slot = slot_take()
    except Busy:
        return _refusal(
            ExportError("the service is busy making other downloads; try again in a minute", 503),
            retry_after=RETRY_AFTER_SECONDS,
        )
    try:
        response = _download(request, exporter, export, key, slot)
    except BaseException:
        slot_give_back(slot)  # a slot kept by a failed request would be lost to every other
        raise
    response[FEATURE_COUNT] = str(export.summary.count)
    return dataset_cache_headers(response, export.datasets_read)


def _download(
    request: HttpRequest, exporter: Exporter, export: Export, key: str, slot: int
) -> HttpResponse:
    """The answer: streamed (``slot`` given back when the last byte is sent), or made whole in a
    temporary file rather than in memory (``slot`` given back once it is made), which the
    response closes, and so deletes, once it has been sent."""
    download_record(actor=request.user, datasets=export.datasets_read, key=key, request=request)
    filename = export.filename(key)
    if isinstance(exporter, StreamingExporter):
        response = StreamingHttpResponse(
            Held(exporter.chunks(export), slot), content_type=exporter.media_type
        )
        response["Content-Disposition"] = _attachment(filename)
        return response
    file = tempfile.TemporaryFile(prefix="infraplan-download-")  # noqa: SIM115
    try:
        exporter.write(export, file)
    except BaseException:
        file.close()
        raise
    slot_give_back(slot)
    file.seek(0)
    return FileResponse(
        file, as_attachment=True, filename=filename, content_type=exporter.media_type
    )


@require_safe
def download_choose_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The dataset page's download form (a GET form, which works without JavaScript, cannot
    choose the address's suffix): sends the browser on to ``download.<format>`` with the other
    choices, leaving out those left empty; a ward chosen is the download's area.

    A ward that is not in the area chosen (the page lists every ward, grouped by district), or a
    date the download would refuse, is shown again as the form with the error, every choice
    kept (400)."""
    dataset = permitted_dataset(request.user, slug)
    if dataset is None:
        raise Http404("No such dataset.")
    key = request.GET.get(FORMAT, "")
    if exporter_for(key) is None:
        return _refusal(ExportError(f"format: {key!r} is not a download format"))
    try:
        as_of = as_of_parse(request.GET.get("as_of", ""))
    except ValueError:
        as_of = None  # the form says what is wrong with it
    offer = download_offer(dataset, as_of=as_of, user=request.user, chosen=request.GET)
    form = offer.form
    if not form.is_valid():
        response = render(
            request, "exports/download_choose.html", {"dataset": dataset, "download": offer},
            status=400,
        )  # fmt: skip
        response["Cache-Control"] = "no-store"  # it may name a restricted dataset's wards
        return response
    query = [
        (name, value)
        for name, values in request.GET.lists()
        if name not in (FORMAT, AREA, WARD)
        for value in values
        if value.strip()
    ]
    if form.chosen_area:
        query.insert(0, (AREA, form.chosen_area))
    address = reverse(f"dataset-download-{key}", kwargs={"slug": slug})
    return HttpResponseRedirect(f"{address}?{urlencode(query)}" if query else address)
