"""How a dataset is drawn: one style per dataset, used by the map and by PNG exports.

A style is stored as JSON on the dataset (``Dataset.style``) and validated here. Three kinds:
- ``simple``: one colour;
- ``categorised``: a colour per value of a field, and one for any other value;
- ``graduated``: a colour per class of a numeric field, each class from its ``minimum`` up.
An empty style means ``simple`` in the authority's accent colour.
"""

import hashlib
import json
from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

HEX_COLOUR = r"^#[0-9a-fA-F]{6}$"
Colour = Annotated[str, Field(pattern=HEX_COLOUR)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SimpleStyle(_Strict):
    kind: Literal["simple"] = "simple"
    colour: Colour | None = None  # None: the authority's accent colour


class Category(_Strict):
    value: str | int | bool
    colour: Colour
    label: str = Field(min_length=1)


# Features a style gives no colour of their own (another category, no number): a grey that
# stands out from the map's white by 4.6:1, as WCAG 2.2 AA asks 3:1 of graphics.
NO_VALUE_COLOUR = "#6f777b"
# What a graduated layer's feature without a number in its field is drawn as, in that grey.
NO_VALUE_LABEL = "No value"


class CategorisedStyle(_Strict):
    kind: Literal["categorised"]
    field: str = Field(min_length=1)
    categories: list[Category] = Field(min_length=1, max_length=30)
    other_colour: Colour = NO_VALUE_COLOUR
    other_label: str = "Other"

    @model_validator(mode="after")
    def _distinct(self) -> "CategorisedStyle":
        values = [category.value for category in self.categories]
        if len(values) != len(set(map(str, values))):
            raise ValueError("each category value may appear once")
        return self


class GraduatedClass(_Strict):
    minimum: float
    colour: Colour
    label: str = Field(min_length=1)


class GraduatedStyle(_Strict):
    kind: Literal["graduated"]
    field: str = Field(min_length=1)
    classes: list[GraduatedClass] = Field(min_length=2, max_length=12)

    @model_validator(mode="after")
    def _ascending(self) -> "GraduatedStyle":
        minimums = [item.minimum for item in self.classes]
        if minimums != sorted(set(minimums)):
            raise ValueError("classes must be in ascending order of minimum, each minimum once")
        return self


Style = Annotated[SimpleStyle | CategorisedStyle | GraduatedStyle, Field(discriminator="kind")]


class _StyleDocument(_Strict):
    style: Style


class StyleError(ValueError):
    """A style that cannot be used; the message says which part and why."""


def style_parse(
    data: dict[str, Any] | None, *, fields: Collection[str] | None
) -> SimpleStyle | CategorisedStyle | GraduatedStyle:
    """Validate stored or submitted style JSON against the dataset's field names (``None``:
    not known, so the field is not checked)."""
    if not data:
        return SimpleStyle()
    try:
        style = _StyleDocument.model_validate({"style": data}).style
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'][1:]) or 'style'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise StyleError(problems) from None
    field = getattr(style, "field", None)
    if field is not None and fields is not None and field not in fields:
        raise StyleError(
            f"field: {field!r} is not one of the dataset's fields ({', '.join(fields)})"
            if fields
            else f"field: {field!r} is not a field of the dataset, which has none yet"
        )
    return style


def style_digest(data: dict[str, Any] | None) -> str:
    """A short fingerprint of stored style JSON, to tell whether it changed since it was read."""
    text = json.dumps(data or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2s(text.encode(), digest_size=8).hexdigest()


def style_fields(style: SimpleStyle | CategorisedStyle | GraduatedStyle) -> set[str]:
    """The properties a map needs in its tiles to draw this style."""
    field = getattr(style, "field", None)
    return {field} if field else set()


def style_legend(
    style: SimpleStyle | CategorisedStyle | GraduatedStyle, *, default_colour: str
) -> list[tuple[str, str]]:
    """(colour, label) pairs for a legend, in order."""
    if isinstance(style, SimpleStyle):
        return [(style.colour or default_colour, "")]
    if isinstance(style, CategorisedStyle):
        return [(c.colour, c.label) for c in style.categories] + [
            (style.other_colour, style.other_label)
        ]
    return [(item.colour, item.label) for item in style.classes] + [
        (NO_VALUE_COLOUR, NO_VALUE_LABEL)
    ]
