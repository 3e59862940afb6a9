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
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from infraplan.catalogue.caching import dataset_cache_headers
from infraplan.maps.selectors import permitted_dataset

from .base import ExportError, StreamingExporter
from .registry import exporter_for
from .selectors import export_prepare, export_size_check
from .services import download_record

FORMAT = "format"  # the download form's choice of format


def _refusal(problem: ExportError) -> HttpResponse:
    # Each message reads on from the colon: "bbox: expected four numbers ...".
    response = HttpResponse(
        f"Cannot make this download: {problem.message}.",
        status=problem.status,
        content_type="text/plain; charset=utf-8",
    )
    # A refusal may name a restricted dataset (its fields, its first publish): no cache keeps it.
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def download_view(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    """The dataset ``slug``, or the part of it the query chooses, in the format ``key``."""
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
    download_record(actor=request.user, datasets=export.datasets_read, key=key, request=request)
    filename = export.filename(key)
    if isinstance(exporter, StreamingExporter):
        response = StreamingHttpResponse(exporter.chunks(export), content_type=exporter.media_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        # Made whole in a temporary file rather than in memory; the response closes it (and so
        # deletes it) once it has been sent.
        file = tempfile.TemporaryFile(prefix="infraplan-download-")  # noqa: SIM115
        try:
            exporter.write(export, file)
        except BaseException:
            file.close()
            raise
        file.seek(0)
        response = FileResponse(
            file, as_attachment=True, filename=filename, content_type=exporter.media_type
        )
    return dataset_cache_headers(response, export.datasets_read)


@require_GET
def download_choose_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The dataset page's download form (a GET form, which works without JavaScript, cannot
    choose the address's suffix): sends the browser on to ``download.<format>`` with the other
    choices, leaving out those left empty."""
    dataset = permitted_dataset(request.user, slug)
    if dataset is None:
        raise Http404("No such dataset.")
    key = request.GET.get(FORMAT, "")
    if exporter_for(key) is None:
        return _refusal(ExportError(f"format: {key!r} is not a download format"))
    query = [
        (name, value)
        for name, values in request.GET.lists()
        if name != FORMAT
        for value in values
        if value.strip()
    ]
    address = reverse(f"dataset-download-{key}", kwargs={"slug": slug})
    return HttpResponseRedirect(f"{address}?{urlencode(query)}" if query else address)
