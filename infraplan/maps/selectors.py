"""Reads for the map viewer: which layers a user may see, and how to draw them."""

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from infraplan.catalogue.access import Action
from infraplan.catalogue.models import Dataset, GeometryType
from infraplan.catalogue.sources import source_for

SMALL_LAYER = 50  # layers up to this size are also listed as a table for people without the map


@dataclass(frozen=True)
class MapLayer:
    slug: str
    title: str
    theme: str
    geometry_type: str
    min_zoom: int
    attribution: str
    tiles: str

    def as_json(self) -> dict[str, Any]:
        return self.__dict__


def map_layers_for(user: Any) -> list[MapLayer]:
    """The spatial datasets ``user`` may see, with a published version, as map layers."""
    datasets = (
        Dataset.objects.permitting(user, Action.VIEW)
        .exclude(geometry_type=GeometryType.NONE)
        .filter(versions__is_current=True)
        .order_by("theme", "title")
    )
    layers = []
    for dataset in datasets:
        template = reverse("tile", kwargs={"slug": dataset.slug, "z": 0, "x": 0, "y": 0})
        template = template.replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")
        version = source_for(dataset).version_tag(dataset)
        layers.append(
            MapLayer(
                slug=dataset.slug,
                title=dataset.title,
                theme=dataset.get_theme_display(),
                geometry_type=dataset.geometry_type,
                min_zoom=dataset.min_zoom,
                attribution=dataset.attribution,
                tiles=f"{template}?v={version}",
            )
        )
    return layers


@dataclass(frozen=True)
class LayerListing:
    """A small layer's features as text: the map's alternative for people who cannot use it."""

    title: str
    rows: list[tuple[str, str]]  # (reference, name)


def layer_listings_for(user: Any) -> list[LayerListing]:
    listings = []
    for dataset in (
        Dataset.objects.permitting(user, Action.VIEW)
        .exclude(geometry_type=GeometryType.NONE)
        .filter(versions__is_current=True, versions__feature_count__lte=SMALL_LAYER)
        .order_by("theme", "title")
    ):
        name_field = next(
            (field["name"] for field in dataset.field_schema if field.get("title") == "Name"), None
        )
        rows = [
            (record.reference, str(record.properties.get(name_field, "")) if name_field else "")
            for record in source_for(dataset).features(dataset)
        ]
        listings.append(LayerListing(title=dataset.title, rows=rows))
    return listings
