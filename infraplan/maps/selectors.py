"""Reads for the map viewer: which layers a user may see, how to draw them, and what is in a view.

Every read starts from the one gate, ``Dataset.objects.permitting(user, "view")``.
"""

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, Polygon
from django.urls import reverse

from infraplan.catalogue.access import Action
from infraplan.catalogue.models import Dataset, GeometryType
from infraplan.catalogue.sources import FeatureRecord, source_for
from infraplan.catalogue.styles import style_legend

from .styling import colour_expression, dataset_style, label_field_of
from .tiles import tile_version

# Labels of a layer with more features than this start at LABEL_DENSE_ZOOM (wards from about
# zoom 11), so a county-wide view is not buried under a thousand names.
LABEL_SPARSE_LIMIT = 50
LABEL_DENSE_ZOOM = 11
MAX_LABELS = 400


class BadRequest(ValueError):
    """Input that cannot be used; the message names the parameter and why, for the user."""


def parse_bbox(value: str | None) -> tuple[float, float, float, float]:
    """``minlon,minlat,maxlon,maxlat`` in WGS84; the authority's map extent when absent."""
    if not value:
        return tuple(settings.AUTHORITY_PROFILE.map.bounds)
    parts = value.split(",")
    if len(parts) != 4:
        raise BadRequest(
            f"bbox: expected four numbers minlon,minlat,maxlon,maxlat, got {len(parts)} part(s)"
        )
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in parts)
    except ValueError:
        raise BadRequest(f"bbox: {value!r} is not four comma-separated numbers") from None
    if not (-180 <= min_lon < max_lon <= 180):
        raise BadRequest("bbox: longitudes must be between -180 and 180, the minimum first")
    if not (-85 <= min_lat < max_lat <= 85):
        raise BadRequest("bbox: latitudes must be between -85 and 85, the minimum first")
    return min_lon, min_lat, max_lon, max_lat


def parse_layers(value: str | list[str] | None) -> list[str] | None:
    """Slugs from ``layers=a,b`` (or repeated ``layers``); None when the parameter is absent."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    slugs = [slug.strip() for item in items for slug in item.split(",") if slug.strip()]
    return list(dict.fromkeys(slugs))


def bbox_polygon(bbox: tuple[float, float, float, float]) -> GEOSGeometry:
    """The WGS84 box as a polygon in EPSG:27700, the store's coordinates."""
    box = Polygon.from_bbox(bbox)
    box.srid = 4326
    return box.transform(27700, clone=True)


def _boundary_slugs() -> set[str]:
    """The datasets the profile names as the boundaries of its areas: on when the map opens."""
    return {area.boundary.dataset for area in settings.AUTHORITY_PROFILE.areas}


def _visible_datasets(user: Any):
    return (
        Dataset.objects.permitting(user, Action.VIEW)
        .exclude(geometry_type=GeometryType.NONE)
        .filter(versions__is_current=True)
        .order_by("theme", "title")
    )


@dataclass(frozen=True)
class MapLayer:
    slug: str
    title: str
    theme: str
    geometry_type: str
    min_zoom: int
    attribution: str
    tiles: str
    colour: Any  # a MapLibre colour expression built from the dataset's style
    legend: list[dict[str, str]]
    visible: bool
    labels: str | None  # the label endpoint, for layers with a label field
    label_min_zoom: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def map_layers_for(user: Any, requested: list[str] | None = None) -> list[MapLayer]:
    """The spatial datasets ``user`` may see, with a published version, as map layers.

    Visible at first: those ``requested`` (the URL's ``layers``), or when nothing is requested,
    the authority's area boundaries; every other layer waits to be switched on.
    """
    accent = settings.AUTHORITY_PROFILE.branding.accent_colour
    on = set(requested) if requested is not None else _boundary_slugs()
    layers = []
    for dataset in _visible_datasets(user).prefetch_related("versions"):
        template = reverse("tile", kwargs={"slug": dataset.slug, "z": 0, "x": 0, "y": 0})
        template = template.replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")
        style = dataset_style(dataset)
        label = label_field_of(dataset)
        count = next((v.feature_count for v in dataset.versions.all() if v.is_current), 0) or 0
        layers.append(
            MapLayer(
                slug=dataset.slug,
                title=dataset.title,
                theme=dataset.get_theme_display(),
                geometry_type=dataset.geometry_type,
                min_zoom=dataset.min_zoom,
                attribution=dataset.attribution,
                tiles=f"{template}?v={tile_version(dataset)}",
                colour=colour_expression(style, default_colour=accent),
                legend=[
                    {"colour": colour, "label": text}
                    for colour, text in style_legend(style, default_colour=accent)
                ],
                visible=dataset.slug in on,
                labels=reverse("map-labels", kwargs={"slug": dataset.slug}) if label else None,
                label_min_zoom=max(
                    dataset.min_zoom, 0 if count <= LABEL_SPARSE_LIMIT else LABEL_DENSE_ZOOM
                ),
            )
        )
    return layers


@dataclass(frozen=True)
class LayerGroup:
    theme: str
    layers: list[MapLayer]

    @property
    def open(self) -> bool:
        """Shown open when one of its layers is on."""
        return any(layer.visible for layer in self.layers)


def layer_groups(layers: list[MapLayer]) -> list[LayerGroup]:
    """Layers grouped by theme, in the order given."""
    groups: dict[str, list[MapLayer]] = {}
    for layer in layers:
        groups.setdefault(layer.theme, []).append(layer)
    return [LayerGroup(theme, members) for theme, members in groups.items()]


def permitted_dataset(user: Any, slug: str) -> Dataset | None:
    """The dataset ``slug`` if ``user`` may view it (its source decides what it holds)."""
    return Dataset.objects.permitted_get(user, slug, Action.VIEW)


def _area_name(code: str) -> str:
    area = next((area for area in settings.AUTHORITY_PROFILE.areas if area.code == code), None)
    return area.name if area else ""


def feature_detail(dataset: Dataset, feature_id: int) -> dict[str, Any] | None:
    """A current feature of a permitted dataset as the pop-up shows it, or None.

    Properties are listed in the order of the dataset's field schema, each with its title;
    properties outside the schema follow under their own names.
    """
    record = source_for(dataset).feature(dataset, feature_id)
    if record is None:
        return None
    titles = {field["name"]: field.get("title") or field["name"] for field in dataset.field_schema}
    ordered = [name for name in titles if name in record.properties]
    ordered += sorted(name for name in record.properties if name not in titles)
    point = (
        record.geometry.point_on_surface.transform(4326, clone=True) if record.geometry else None
    )
    return {
        "id": record.id,
        "dataset": {"slug": dataset.slug, "title": dataset.title},
        "point": {"lon": round(point.x, 6), "lat": round(point.y, 6)} if point else None,
        "reference": record.reference,
        "label": _label_of(dataset, record),
        "properties": [
            {"name": name, "title": titles.get(name, name), "value": record.properties[name]}
            for name in ordered
        ],
        "district": {"code": record.district, "name": _area_name(record.district)}
        if record.district
        else None,
        "ward": {"code": record.ward} if record.ward else None,
    }


def _label_of(dataset: Dataset, record: FeatureRecord) -> str:
    field = label_field_of(dataset)
    value = record.properties.get(field) if field else None
    return str(value) if value not in (None, "") else record.reference


def labels_in(dataset: Dataset, bbox: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """Label points (a point inside each feature, WGS84) and texts of the features in ``bbox``."""
    labels = []
    for record in source_for(dataset).features_within(dataset, bbox_polygon(bbox)):
        point = record.geometry.point_on_surface.transform(4326, clone=True)
        labels.append(
            {
                "id": record.id,
                "text": _label_of(dataset, record),
                "lon": round(point.x, 6),
                "lat": round(point.y, 6),
            }
        )
        if len(labels) == MAX_LABELS:
            break
    return labels


@dataclass(frozen=True)
class ViewRow:
    """One feature of the "features in this view" table."""

    layer: str
    reference: str
    label: str
    district: str


def features_in_view(
    datasets: list[Dataset], bbox: tuple[float, float, float, float]
) -> Iterator[ViewRow]:
    """The current features of ``datasets`` (already permitted) meeting ``bbox``, layer by layer."""
    box = bbox_polygon(bbox)
    for dataset in datasets:
        for record in source_for(dataset).features_within(dataset, box):
            yield ViewRow(
                layer=dataset.title,
                reference=record.reference,
                label=_label_of(dataset, record),
                district=_area_name(record.district) or record.district,
            )


def requested_datasets(user: Any, requested: list[str] | None) -> list[Dataset]:
    """The requested spatial datasets ``user`` may see (or the default boundaries), in the
    map's order; slugs the user may not see are dropped as if they did not exist."""
    slugs = set(requested) if requested is not None else _boundary_slugs()
    return list(_visible_datasets(user).filter(slug__in=slugs))
