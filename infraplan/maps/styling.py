"""One dataset style, two renderers: MapLibre paint expressions for the browser and a colour per
feature for the server-rendered PNG, both read from ``Dataset.style`` (infraplan.catalogue.styles),
so the interactive map, its legend and the PNG always agree."""

import logging
from typing import Any

from infraplan.catalogue.models import Dataset
from infraplan.catalogue.styles import (
    NO_VALUE_COLOUR,
    NO_VALUE_LABEL,
    CategorisedStyle,
    GraduatedStyle,
    SimpleStyle,
    StyleError,
    style_fields,
    style_parse,
)

logger = logging.getLogger(__name__)

AnyStyle = SimpleStyle | CategorisedStyle | GraduatedStyle

# How opaque a polygon layer's fill is. A layer of one colour is a faint tint, so the layers and
# the basemap under it show through. A layer of classes (categorised or graduated) is read by
# its fills, which must be strong enough to tell one class from the next.
TINT_OPACITY = 0.15
CLASSES_OPACITY = 0.6


def fill_opacity(style: AnyStyle) -> float:
    """The opacity of a polygon layer's fill drawn in ``style``, on the map and in the PNG."""
    return TINT_OPACITY if isinstance(style, SimpleStyle) else CLASSES_OPACITY


def dataset_style(dataset: Dataset) -> AnyStyle:
    """The dataset's stored style, its field checked against the schema's field names.

    A dataset without a schema has the fields its features have, as the style editor offered
    them; those are not read here, on every tile, so its style's field is not checked. A style
    that can no longer be drawn (its field dropped from the schema, say) is drawn as the
    default, one colour, as the dataset page's legend says, rather than failing every tile,
    map and PNG that shows the dataset.
    """
    names = [field["name"] for field in dataset.field_schema if "name" in field]
    try:
        return style_parse(dataset.style, fields=names or None)
    except StyleError as error:
        logger.warning("The style of %s cannot be drawn: %s", dataset.slug, error)
        return SimpleStyle()


def label_field_of(dataset: Dataset) -> str | None:
    """The property that names a feature: the dataset's label field, else its field titled
    "Name" (the demo data's convention), else none."""
    if dataset.label_field:
        return dataset.label_field
    return next(
        (field["name"] for field in dataset.field_schema if field.get("title") == "Name"), None
    )


def tile_fields(dataset: Dataset) -> frozenset[str]:
    """The properties a tile carries: those the style and the label need, nothing else."""
    fields = set(style_fields(dataset_style(dataset)))
    label = label_field_of(dataset)
    if label:
        fields.add(label)
    return frozenset(fields)


def _as_text(value: str | int | bool) -> str:
    """A category value as MapLibre's ``to-string`` writes it (booleans in lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def colour_expression(style: AnyStyle, *, default_colour: str) -> str | list[Any]:
    """A MapLibre colour: a literal, a ``match`` on a category or a ``step`` over classes."""
    if isinstance(style, SimpleStyle):
        return style.colour or default_colour
    if isinstance(style, CategorisedStyle):
        expression: list[Any] = ["match", ["to-string", ["get", style.field]]]
        for category in style.categories:
            expression += [_as_text(category.value), category.colour]
        return [*expression, style.other_colour]
    # Values below the first class's minimum take the first class's colour; a feature without a
    # number in the field is drawn grey rather than as if it were in the lowest class.
    step: list[Any] = ["step", ["to-number", ["get", style.field]], style.classes[0].colour]
    for item in style.classes[1:]:
        step += [item.minimum, item.colour]
    return ["case", ["has", style.field], step, NO_VALUE_COLOUR]


def feature_colour(style: AnyStyle, properties: dict[str, Any], *, default_colour: str) -> str:
    """The colour ``colour_expression`` gives a feature with these properties."""
    return _feature_class(style, properties, default_colour=default_colour)[0]


def feature_class(style: AnyStyle, properties: dict[str, Any]) -> str:
    """The legend's label of the class a feature with these properties is drawn in ("" for a
    layer of one colour): what its colour says, in words, for the map's text alternative."""
    return _feature_class(style, properties, default_colour="")[1]


def _feature_class(
    style: AnyStyle, properties: dict[str, Any], *, default_colour: str
) -> tuple[str, str]:
    """The colour and the legend's label a feature with these properties is drawn with."""
    if isinstance(style, SimpleStyle):
        return style.colour or default_colour, ""
    value = properties.get(style.field)
    if isinstance(style, CategorisedStyle):
        if value is not None:
            for category in style.categories:
                if _as_text(category.value) == _as_text(value):
                    return category.colour, category.label
        return style.other_colour, style.other_label
    try:
        number = float(value)
    except (TypeError, ValueError):
        return NO_VALUE_COLOUR, NO_VALUE_LABEL
    chosen = style.classes[0]
    for item in style.classes[1:]:
        if number >= item.minimum:
            chosen = item
    return chosen.colour, chosen.label
