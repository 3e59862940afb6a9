from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from infraplan.audit.services import audit_record_read
from infraplan.catalogue.access import Action
from infraplan.catalogue.models import AccessLevel, Dataset

from .selectors import layer_listings_for, map_layers_for
from .tiles import tile_in_range, tile_render

MVT_CONTENT_TYPE = "application/vnd.mapbox-vector-tile"


@require_GET
def map_view(request: HttpRequest) -> HttpResponse:
    layers = map_layers_for(request.user)
    return render(
        request,
        "maps/map.html",
        {
            "map_config": {
                "bounds": settings.AUTHORITY_PROFILE.map.bounds,
                "layers": [layer.as_json() for layer in layers],
                "accent": settings.AUTHORITY_PROFILE.branding.accent_colour,
            },
            "layers": layers,
            "listings": layer_listings_for(request.user),
        },
    )


@require_GET
def tile_view(request: HttpRequest, slug: str, z: int, x: int, y: int) -> HttpResponse:
    """One vector tile. Unknown, out-of-range and not-permitted tiles are all 404s."""
    dataset = Dataset.objects.permitting(request.user, Action.VIEW).filter(slug=slug).first()
    if dataset is None or not tile_in_range(z, x, y):
        raise Http404("No such tile.")
    tile = tile_render(dataset=dataset, z=z, x=x, y=y)
    if dataset.access_level != AccessLevel.PUBLIC:
        audit_record_read(actor=request.user, action="dataset.read.tiles", target=dataset)
    response = HttpResponse(tile, content_type=MVT_CONTENT_TYPE, status=200 if tile else 204)
    if dataset.access_level == AccessLevel.PUBLIC:
        response["Cache-Control"] = "public, max-age=300"
    else:
        response["Cache-Control"] = "private, max-age=300"
        response["Vary"] = "Cookie"
    return response
