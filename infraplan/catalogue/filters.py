"""Attribute filters from a query string: ``?status=permissioned&status=pending`` keeps the
features whose ``status`` is either. Downloads and the OGC API take them alike.

Each filter is a ``catalogue.sources.PropertyFilter``, so a source applies it where it reads
(in SQL for the feature store). A value is read as the field's declared type (the dataset's
field schema): ``?capacity=420`` matches a stored 420 and 420.0 alike, ``?is_open=yes`` a stored
true. An empty value (``?status=``) keeps the features whose value is unknown or blank: missing,
null or empty text, which a spreadsheet and the dataset's pages show alike (unknown is not
zero).
"""

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict

from .loading import typed_value
from .models import Dataset
from .sources import PropertyFilter


class FilterError(ValueError):
    """A filter that cannot be used; the message says which and why, for the user."""


@dataclass(frozen=True)
class PropertyIn:
    """Keeps the features whose property ``name`` is one of ``values`` (None: unknown)."""

    name: str
    values: tuple[Any, ...]
    key: str  # names its SQL parameters apart from another filter's

    def sql(self, properties: str) -> tuple[str, dict[str, Any]]:
        name = f"{self.key}_name"
        parameters: dict[str, Any] = {name: self.name}
        conditions = []
        for index, value in enumerate(self.values):
            if value is None:  # missing, JSON null, or empty text: a blank cell
                conditions.append(f"COALESCE({properties} ->> %({name})s, '') = ''")
                continue
            parameter = f"{self.key}_{index}"
            # jsonb equality compares numbers as numbers (420 = 420.0) and text as text. The
            # value is bound as JSON text: to_jsonb() of a bound text fails ("could not
            # determine polymorphic type"), since the driver sends text untyped.
            conditions.append(f"{properties} -> %({name})s = %({parameter})s::jsonb")
            parameters[parameter] = json.dumps(value)
        return "(" + " OR ".join(conditions) + ")", parameters

    def __call__(self, properties: Mapping[str, Any]) -> bool:
        value = properties.get(self.name)
        return any(_same(value, wanted) for wanted in self.values)


def _same(value: Any, wanted: Any) -> bool:
    """Whether a stored value is the one asked for, as jsonb equality judges: true is not 1."""
    if wanted is None:
        return value is None or value == ""
    if value is None:
        return False
    if isinstance(value, bool) or isinstance(wanted, bool):
        return value is wanted
    if isinstance(value, int | float) and isinstance(wanted, int | float):
        return value == wanted
    return type(value) is type(wanted) and value == wanted


@dataclass(frozen=True)
class AllOf:
    """Keeps the features every one of ``filters`` keeps."""

    filters: tuple[PropertyFilter, ...]

    def sql(self, properties: str) -> tuple[str, dict[str, Any]]:
        parts, parameters = [], {}
        for condition in self.filters:
            text, values = condition.sql(properties)
            parts.append(text)
            parameters.update(values)
        return "(" + " AND ".join(parts) + ")", parameters

    def __call__(self, properties: Mapping[str, Any]) -> bool:
        return all(condition(properties) for condition in self.filters)


def all_of(*filters: PropertyFilter | None) -> PropertyFilter | None:
    """The filters given (None for no filter) as one, or None when there is none."""
    kept = tuple(condition for condition in filters if condition is not None)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else AllOf(kept)


def property_filters(
    dataset: Dataset, query: QueryDict, reserved: Collection[str]
) -> PropertyFilter | None:
    """The attribute filters ``query`` asks for: every parameter not in ``reserved`` names a
    field of the dataset's schema. Raises FilterError naming a parameter that is no field (with
    the fields there are) or a value that is not of its field's type."""
    fields = {entry["name"]: entry.get("type", "string") for entry in dataset.field_schema}
    filters = []
    for position, name in enumerate(sorted(set(query) - set(reserved))):
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            parameters = ", ".join(sorted(reserved))
            raise FilterError(
                f"{name!r} is neither a parameter of this address ({parameters}) nor a field "
                f"of {dataset.title} (its fields: {known})"
            )
        values = []
        for text in query.getlist(name):
            if "\x00" in text:  # PostgreSQL text cannot hold it, so no value has it
                raise FilterError(f"{name}: a value cannot contain the NUL character (%00)")
            if text.strip() == "":
                values.append(None)
                continue
            try:
                values.append(typed_value(text.strip(), fields[name]))
            except ValueError as error:
                raise FilterError(f"{name}: {error}") from None
        filters.append(PropertyIn(name, tuple(values), key=f"attr{position}"))
    return all_of(*filters)
