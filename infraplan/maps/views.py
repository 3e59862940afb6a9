"""The map viewer, its tiles, labels and pop-ups, and its no-WebGL alternatives (a table of the
features in a view and a PNG of it). Every view asks the one gate through the selectors."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from infraplan.audit.security import security_event
from infraplan.audit.services import audit_record_read
from infraplan.catalogue.caching import dataset_cache_headers
from infraplan.catalogue.models import Dataset
from infraplan.core.coordinates import coordinate_examples
from infraplan.core.heavy import RETRY_AFTER_SECONDS, Busy, heavy_slot

from .areas import Area, area_downloads, parse_area, swapped_area
from .highlight import ShownFeature, parse_feature
from .marker import MARKER_LABEL_LENGTH, marker_from_query, parse_marker
from .picture import download_url, faded_query, map_url, picture_around, picture_filename
from .render import map_png
from .selectors import (
    FEATURE_NOT_AVAILABLE,
    BadRequest,
    MapMoment,
    closer_bbox,
    feature_detail,
    features_in_view,
    hidden_as_ended,
    labels_in,
    layer_groups,
    map_layers_for,
    moment_or_error,
    on_grid,
    parse_bbox,
    parse_moment,
    parse_opacities,
    permitted_dataset,
    requested_datasets,
    requested_layers,
    source_at,
    unmapped_datasets,
)
from .tiles import TileAnswer, tile_answer, tile_in_range, tile_version
from .viewport import (
    FALLBACK_SIZE,
    View,
    bbox_text,
    usable_bbox,
    view_bbox,
    view_fitting,
)

ROWS_PER_PAGE = 50


def _audit_reads(request: HttpRequest, datasets: list[Dataset], action: str) -> None:
    for dataset in datasets:
        if not dataset.is_public:
            audit_record_read(actor=request.user, action=action, target=dataset)


def _security_restricted_export(request: HttpRequest, datasets: list[Dataset], kind: str) -> None:
    """A picture or table of restricted data leaves the service: a security event says so."""
    restricted = [dataset.slug for dataset in datasets if not dataset.is_public]
    if restricted:
        security_event("export.restricted", request=request, format=kind, datasets=restricted)


def _view_from_query(request: HttpRequest) -> dict | None:
    """The map view a URL names with ``center=lon,lat`` and ``zoom``; None if absent or unusable
    (the map then opens on the authority's extent: a stale link still opens a map)."""
    try:
        lon, lat = (float(part) for part in request.GET["center"].split(","))
        zoom = float(request.GET["zoom"])
    except (KeyError, ValueError):
        return None
    if not (-180 <= lon <= 180 and -85 <= lat <= 85 and 0 <= zoom <= 22):
        return None
    return {"center": [lon, lat], "zoom": zoom}


def _view_query(bbox: tuple[float, float, float, float]) -> dict[str, str]:
    """``center`` and ``zoom`` of the map that shows ``bbox`` at ``FALLBACK_SIZE``: the view a
    link from its table or picture returns to (``_view_bbox`` the other way)."""
    (lon, lat), zoom = view_fitting(bbox, *FALLBACK_SIZE)
    return {"center": f"{lon:.5f},{lat:.5f}", "zoom": f"{min(max(zoom, 0), 22):.2f}"}


def _view_fields(view: dict | None) -> dict[str, str]:
    """``center`` and ``zoom`` of ``view`` as the map's URL writes them."""
    if view is None:
        return {}
    return {"center": "{:.5f},{:.5f}".format(*view["center"]), "zoom": f"{view['zoom']:.2f}"}


def _shown_or_problem(
    request: HttpRequest, moment: MapMoment
) -> tuple[ShownFeature | None, str | None]:
    """The feature the URL's ``feature`` shows, or why it cannot be shown, in the words of the
    page (a feature the user may not see is one that does not exist); reading a restricted
    one's name is recorded."""
    try:
        shown = parse_feature(request.user, request.GET, moment)
    except BadRequest as problem:
        return None, problem.for_field
    if shown is not None:
        _audit_reads(request, [shown.dataset], "dataset.read.feature")
    return shown, None


def _view_bbox(view: dict | None, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The WGS84 box a ``size`` map shows at ``view`` (the authority's extent without one), as
    a box the table and picture take (``usable_bbox``: an extreme view still names an area)."""
    if view is None:
        return tuple(settings.AUTHORITY_PROFILE.map.bounds)
    return usable_bbox(view_bbox(view["center"], view["zoom"], *size))


@require_safe
def map_view(request: HttpRequest) -> HttpResponse:
    """The map; ``as_of=YYYY-MM-DD`` shows each layer as published on that date, ``ended=show``
    the features their source says have ended, ``opacity=slug:percent,...`` layers faded,
    ``marker=lon,lat`` (with ``marker_label``) a search result's place marked. A malformed date
    or one to come is explained, the map as now; a marker that cannot be one is ignored."""
    moment, error = moment_or_error(request.GET)
    requested = requested_layers(request.GET)
    opacities = parse_opacities(request.GET.get("opacity"))
    layers = map_layers_for(request.user, requested, moment, opacities)
    view = _view_from_query(request)
    marker = marker_from_query(request.GET)
    shown, feature_problem = _shown_or_problem(request, moment)
    # What every link of the page keeps, besides the view: the search result's place and the
    # feature shown.
    marked = {**(shown.query() if shown else {}), **(marker.query() if marker else {})}
    visible = ",".join(layer.slug for layer in layers if layer.visible)
    view_box = _view_bbox(view, FALLBACK_SIZE)
    bbox = bbox_text(view_box)
    # The view the picture shows: the URL's, or the authority's extent fitted to it.
    if view is None:
        centre, zoom = view_fitting(view_box, *FALLBACK_SIZE)
        picture_view = View(centre, zoom)
    else:
        picture_view = View(tuple(view["center"]), view["zoom"])
    basemap = settings.AUTHORITY_PROFILE.map.basemap
    fallback_png = "/map.png?" + urlencode({
        "bbox": bbox, "layers": visible, "width": FALLBACK_SIZE[0], "height": FALLBACK_SIZE[1],
        **moment.query(), **marked, **faded_query(layers),
    })  # fmt: skip
    return render(
        request,
        "maps/map.html",
        {
            "map_config": {
                "bounds": settings.AUTHORITY_PROFILE.map.bounds,
                "view": view,
                "feature": request.GET.get("feature", ""),
                "layers": [layer.as_json() for layer in layers],
                "accent": settings.AUTHORITY_PROFILE.branding.accent_colour,
                "basemap": basemap.model_dump() if basemap else None,
                "moment": moment.query(),
                "marker": marker.as_json() if marker else None,
                "marker_label_length": MARKER_LABEL_LENGTH,
            },
            "layers": layers,
            "groups": layer_groups(layers),
            # Asked for in the link but not drawable: lists without geometry, said so.
            "unmapped": unmapped_datasets(request.user, requested),
            "moment": moment,
            "as_of_value": request.GET.get("as_of", "") if error else moment.query().get("as_of"),
            "as_of_error": error,
            # What a search from the map keeps for the links of its results.
            "map_choice": {"layers": visible, **moment.query()},
            # The view the layers and date form keeps without the script (which sends the view
            # as it is then instead).
            "view_fields": {**_view_fields(view), **marked},
            "marker": marker,
            "without_marker_url": map_url(
                layers, _view_fields(view), moment, marker=None, shown=shown
            ),
            "shown": shown,
            "shown_url": shown.page_url(moment) if shown else None,
            "without_shown_url": map_url(
                layers, _view_fields(view), moment, marker=marker, shown=None
            ),
            "feature_problem": feature_problem,
            "picture": picture_around(
                layers, picture_view, view_box, moment, marker=marker, shown=shown
            ),
            "fallback_png": fallback_png,
            "png_download_url": download_url(fallback_png),
            "features_url": "/map/features/?"
            + urlencode({"bbox": bbox, "layers": visible, **moment.query(), **marked}),
            "picture_filename": picture_filename(moment),
            "basemap_attribution": basemap.attribution if basemap else "",
        },
        status=400 if error else 200,
    )


def _clause(message: str) -> str:
    """A message that reads as a sentence of its own, made to follow a colon: "Enter the date
    as …" becomes "enter the date as …"."""
    return message[:1].lower() + message[1:]


def _bad_tile_request(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


@require_safe
def tile_view(request: HttpRequest, slug: str, z: int, x: int, y: int) -> HttpResponse:
    """One vector tile. Unknown, out-of-range and not-permitted tiles are all 404s, and so are
    the tiles of a dataset without geometry (a table has none to ask for).

    ``as_of`` and ``ended`` are read as the map page reads them; before the dataset's first
    publish the tile is empty. Tiles of public layers asked for without a session, a token or
    a date are mostly answered before Django sees the request (``public_tiles``), with the same
    ``tile_answer``.
    """
    dataset = permitted_dataset(request.user, slug)
    if dataset is None or not dataset.is_spatial or not tile_in_range(z, x, y):
        raise Http404("No such tile.")
    try:
        moment = parse_moment(request.GET)
    except BadRequest as problem:
        return _bad_tile_request(f"Cannot make this tile: {_clause(str(problem))}.")
    source = source_at(dataset, moment)
    version = tile_version(dataset, source) if source else "none"
    _audit_reads(request, [dataset], "dataset.read.tiles")
    answer = tile_answer(
        dataset, z, x, y, source=source, version=version, moment=moment,
        accept_encoding=request.headers.get("Accept-Encoding", ""),
        if_none_match=request.headers.get("If-None-Match", ""),
    )  # fmt: skip
    return tile_response(answer, dataset)


def tile_response(answer: TileAnswer, dataset: Dataset) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status)
    del response["Content-Type"]  # a tile's own, when it has a body
    for name, value in answer.headers():
        response[name] = value
    return dataset_cache_headers(response, [dataset])


@require_safe
def feature_view(request: HttpRequest, slug: str, feature_id: int) -> JsonResponse:
    """One feature for the map's pop-up, as of ``as_of`` (now by default): 404 if unknown, not
    live then, ended (unless ``ended=show``) or not permitted; 400 for a malformed date. Each
    error is JSON with what the map tells the person: an ended feature's says when it ended."""
    dataset = permitted_dataset(request.user, slug)
    if dataset is None:
        return JsonResponse({"error": FEATURE_NOT_AVAILABLE}, status=404)
    try:
        moment = parse_moment(request.GET)
    except BadRequest as problem:
        return JsonResponse({"error": str(problem)}, status=400)
    detail = feature_detail(dataset, feature_id, moment)
    if detail is None:
        ended = hidden_as_ended(dataset, feature_id, moment)
        if ended is None:
            return JsonResponse({"error": FEATURE_NOT_AVAILABLE}, status=404)
        return JsonResponse({"error": ended.message, "ended": ended.ended.isoformat()}, status=404)
    _audit_reads(request, [dataset], "dataset.read.feature")
    return dataset_cache_headers(JsonResponse(detail), [dataset])


# How close the map link of a feature's page zooms (or the layer's minimum zoom, if closer).
FEATURE_PAGE_ZOOM = 13


@require_safe
def feature_page_view(request: HttpRequest, slug: str, feature_id: int) -> HttpResponse:
    """A feature's details as a page: what its pop-up shows, for people who do not use the map
    (a screen reader, the keyboard, no WebGL), linked from the features-in-view table. The
    same gate and 404s as the pop-up."""
    dataset = permitted_dataset(request.user, slug)
    if dataset is None:
        raise Http404("No such feature.")
    moment, as_of_error = moment_or_error(request.GET)
    detail = None if as_of_error else feature_detail(dataset, feature_id, moment)
    if detail is None and not as_of_error:
        ended = hidden_as_ended(dataset, feature_id, moment)
        if ended is None:
            raise Http404("No such feature.")
        shown = MapMoment(as_of=moment.as_of, show_ended=True)
        return render(
            request,
            "maps/feature_ended.html",
            {"dataset": dataset, "ended": ended, "show_url": request.path + shown.suffix()},
            status=404,
        )
    on_the_map_url = None
    if detail and detail["point"]:
        point = detail["point"]
        on_the_map_url = "/map/?" + urlencode({
            "layers": dataset.slug,
            "center": f"{point['lon']:.5f},{point['lat']:.5f}",
            "zoom": str(max(FEATURE_PAGE_ZOOM, dataset.min_zoom)),
            "feature": f"{dataset.slug}/{detail['id']}",
            **moment.query(),
        })  # fmt: skip
    response = render(
        request,
        "maps/feature.html",
        {
            "dataset": dataset,
            "detail": detail,
            "rows": detail["rows"] if detail else [],
            "moment": moment,
            "as_of_error": as_of_error,
            "on_the_map_url": on_the_map_url,
        },
        status=400 if as_of_error else 200,
    )
    if detail:
        _audit_reads(request, [dataset], "dataset.read.feature")
    return response


@require_safe
def labels_view(request: HttpRequest, slug: str) -> JsonResponse:
    """Label texts and positions of a layer's features in ``bbox``, drawn by the map as HTML."""
    dataset = permitted_dataset(request.user, slug)
    if dataset is None:
        raise Http404("No such layer.")
    try:
        bbox = parse_bbox(request.GET.get("bbox"))
        moment = parse_moment(request.GET)
    except BadRequest as error:
        return JsonResponse({"error": str(error)}, status=400)
    _audit_reads(request, [dataset], "dataset.read.labels")
    return dataset_cache_headers(
        JsonResponse({"labels": labels_in(dataset, bbox, moment)}), [dataset]
    )


@require_safe
def features_view(request: HttpRequest) -> HttpResponse:
    """The features in a view, as a table: the map's alternative without WebGL or JavaScript.
    A search result's ``marker`` and the ``feature`` shown are said in words and kept by every
    link (a marker that cannot be one is ignored, as on the map; a feature that cannot be shown
    is explained). The area is taken in degrees or on the grid (``areas.py``), and a box whose
    coordinates seem to be the wrong way round is offered turned round."""
    requested = requested_layers(request.GET)
    moment, as_of_error = moment_or_error(request.GET)
    marker = marker_from_query(request.GET)
    shown, feature_problem = _shown_or_problem(request, moment)
    marked = marker.query() if marker else {}
    featured = shown.query() if shown else {}
    layers = map_layers_for(request.user, requested, moment)
    error = None
    try:
        area = parse_area(request.GET.get("bbox"))
    except BadRequest as problem:
        # Said in the words of the page's field; the form and its links take the whole area
        # meanwhile, but the page lists nothing of it (nor says why a layer is not listed
        # there): only the area the person entered, once it can be read.
        error, area = problem.for_field, Area(frame=tuple(settings.AUTHORITY_PROFILE.map.bounds))
    bbox = area.frame
    datasets = requested_datasets(request.user, requested)
    table = features_in_view(datasets, bbox, moment, box=area.polygon())
    refused = bool(error or as_of_error)
    page = Paginator([] if refused else table.rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    # Every digit of the box asked for, so that the area the page says it lists is the one it
    # lists, and its other pages and its picture show the same.
    text = area.text()
    slugs = ",".join(dataset.slug for dataset in datasets)
    unmarked = {"layers": slugs, **moment.query(), **featured}
    kept = {**unmarked, **marked}
    view = {} if error or not request.GET.get("bbox") else _view_query(bbox)
    far = [
        {
            "dataset": dataset,
            "closer_url": "/map/features/?"
            + urlencode({"bbox": bbox_text(closer_bbox(bbox, dataset.min_zoom)), **kept}),
        }
        for dataset in ([] if refused else table.far)
    ]
    swapped = None if error else swapped_area(area)
    title = "Features in this view" + (
        f" as published on {moment.as_of.day} {moment.as_of:%B %Y}" if moment.as_of else ""
    )
    if page.paginator.num_pages > 1:
        title += f", page {page.number} of {page.paginator.num_pages}"
    response = render(
        request,
        "maps/features.html",
        {
            "title": title,
            "groups": layer_groups(layers),
            "examples": coordinate_examples(),  # of the deployment's own area
            "bbox": request.GET.get("bbox", text) if error else text,
            "error": error,
            "as_of_error": as_of_error,
            "as_of_value": request.GET.get("as_of", "") if as_of_error else kept.get("as_of"),
            "moment": moment,
            "page": page,
            "classed": not refused and table.rows.classed,
            "elided": page.paginator.get_elided_page_range(page.number, on_each_side=2),
            "query": urlencode({"bbox": text, **kept}),
            # The picture takes a box in degrees: that which holds a box on the grid.
            "png_url": download_url("/map.png?" + urlencode({"bbox": area.frame_text(), **kept})),
            "picture_filename": picture_filename(moment),
            "back_to_map_url": "/map/?"
            + urlencode({"layers": slugs, **view, **moment.query(), **featured, **marked}),
            "marker": marker,
            "kept_fields": {**featured, **marked},
            # Whether the area listed holds it (unknown while the area cannot be read).
            "marker_within": None if error or marker is None else marker.within(bbox),
            "without_marker_url": "/map/features/?" + urlencode({"bbox": text, **unmarked}),
            "shown": shown,
            "shown_url": shown.page_url(moment) if shown else None,
            "shown_within": None if error or shown is None else shown.within(bbox),
            "without_shown_url": "/map/features/?"
            + urlencode({"bbox": text, "layers": slugs, **moment.query(), **marked}),
            "feature_problem": feature_problem,
            "swapped": swapped,
            "swapped_url": "/map/features/?" + urlencode({"bbox": swapped.text(), **kept})
            if swapped
            else None,
            "downloads": area_downloads(datasets, layers, area, moment)
            if not refused and swapped is None and _downloadable(area)
            else [],
            "layers_listed": bool(table.listed),
            "zoom": table.zoom,
            "far": far,
            "unmapped": unmapped_datasets(request.user, requested),
        },
        status=400 if error or as_of_error else 200,
    )
    _audit_reads(request, datasets, "dataset.read.view-table")
    _security_restricted_export(request, datasets, "table")
    return response


def _downloadable(area: Area) -> bool:
    """Whether a download of ``area`` can be made: the downloads refuse (400) a box that lies
    off the National Grid, where no feature is, so the table offers none for it."""
    within = on_grid(area.polygon())
    return not within.empty and within.area > 0


def _size(request: HttpRequest, name: str, default: int) -> int:
    value = request.GET.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"{name}: {value!r} is not a whole number of pixels") from None


@require_safe
def png_view(request: HttpRequest) -> HttpResponse:
    """A PNG of the view ``bbox`` with the requested layers the user may see, the ``feature``
    shown outlined and the search result's ``marker`` (each explained, as the other parameters
    are, if it cannot be one: a feature the user may not see as one that does not exist).
    ``download=1`` sends it as a file to save (named by its date), not to show in the page."""
    try:
        attachment = _download_asked(request.GET.get("download"))
        bbox = parse_bbox(request.GET.get("bbox"))
        width, height = _size(request, "width", 800), _size(request, "height", 600)
        moment = parse_moment(request.GET)
        marker = parse_marker(request.GET)
        shown = parse_feature(request.user, request.GET, moment)
        requested = requested_layers(request.GET)
        datasets = requested_datasets(request.user, requested)
        left_out = requested is not None and set(requested) != {d.slug for d in datasets}
        # What the picture reads: the layers, and the shown feature's dataset, drawn or not.
        read = datasets + ([shown.dataset] if shown and shown.dataset not in datasets else [])
        if request.method == "HEAD":
            # GET's status and headers, without drawing the map (or taking a slot for it).
            response = _picture_response(b"", moment, attachment=attachment)
            return dataset_cache_headers(response, read, left_out=left_out)
        with heavy_slot():
            png = map_png(
                datasets=datasets, bbox=bbox, width=width, height=height,
                accent=settings.AUTHORITY_PROFILE.branding.accent_colour, moment=moment,
                marker=marker, shown_feature=shown,
                opacities=parse_opacities(request.GET.get("opacity")),
            )  # fmt: skip
    except BadRequest as error:
        return HttpResponse(
            f"Cannot draw this map: {_clause(str(error))}.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    except Busy:
        response = HttpResponse(
            "Cannot draw this map now: the service is busy drawing others; try again in a minute.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response
    _audit_reads(request, read, "dataset.read.png")
    _security_restricted_export(request, read, "png")
    return dataset_cache_headers(
        _picture_response(png, moment, attachment=attachment), read, left_out=left_out
    )


def _download_asked(value: str | None) -> bool:
    """Whether ``download`` asks for the picture as a file: ``1``, or absent (no)."""
    if value is None:
        return False
    if value != "1":
        raise BadRequest(
            f"download: {value!r} is not 1; give download=1 to save the picture as a file, "
            "or leave it out to show it"
        )
    return True


def _picture_response(png: bytes, moment: MapMoment, *, attachment: bool) -> HttpResponse:
    response = HttpResponse(png, content_type="image/png")
    if attachment:
        response["Content-Disposition"] = f'attachment; filename="{picture_filename(moment)}"'
    return response
