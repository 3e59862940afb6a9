"""One dataset style, two renderers: MapLibre paint expressions for the browser and a colour per
feature for the server-rendered PNG, both read from ``Dataset.style`` (infraplan.catalogue.styles),
so the interactive map, its legend and the PNG always agree."""

import logging
from typing import Any

from infraplan.catalogue.models import Dataset
from infraplan.catalogue.styles import (
    NO_VALUE_COLOUR,
    CategorisedStyle,
    GraduatedStyle,
    SimpleStyle,
    StyleError,
    style_fields,
    style_parse,
)

logger = logging.getLogger(__name__)

AnyStyle = SimpleStyle | CategorisedStyle | GraduatedStyle


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
    if isinstance(style, SimpleStyle):
        return style.colour or default_colour
    value = properties.get(style.field)
    if isinstance(style, CategorisedStyle):
        if value is None:
            return style.other_colour
        for category in style.categories:
            if _as_text(category.value) == _as_text(value):
                return category.colour
        return style.other_colour
    try:
        number = float(value)
    except (TypeError, ValueError):
        return NO_VALUE_COLOUR
    colour = style.classes[0].colour
    for item in style.classes[1:]:
        if number >= item.minimum:
            colour = item.colour
    return colour
