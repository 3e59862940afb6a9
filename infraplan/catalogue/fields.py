"""Changes to a dataset's fields after its first load: a field's type and rules, and a new field.

A type is the data manager's word on what a field holds, so it can be corrected when the first
load read it wrongly. A change is checked against the current version's features first: every
value of the field that is not empty must read as the new type, or nothing changes and the
refusal names how many do not and the first few. Then the current features' values are stored
as the new type where its JSON form differs ("40" as 40, "Yes" as true, 20/06/2016 as
2016-06-20), so the next load, typed by the new schema, finds them unchanged rather than
replacing every feature; and the schema is saved through ``dataset_save`` (audited).

History is not rewritten: a type change is not a version. Rows of features replaced or removed
before it keep their values as they were stored. A feature unchanged since an older version is
the same row in it, so that version shows the converted value (the same value, in the new
type's form).

A field's rules are what every later load checks each row's value by: ``required`` (a value in
every row) and ``allowed`` (the only values it may hold, stored as its type reads them). Setting
them changes no stored feature; the next load reports each row that breaks them.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models.fields.json import KeyTransform

from infraplan.connectors.models import IngestRun

from .ingest_rows import _as_text as as_text
from .loading import typed_value
from .models import Dataset, Feature
from .services import dataset_save
from .store import current_features
from .styles import CategorisedStyle, GraduatedStyle, StyleError, style_parse

# The schema's types, as the details page names them.
FIELD_TYPE_NAMES = {
    "string": "Text",
    "integer": "Whole number",
    "number": "Number",
    "boolean": "True or false",
    "date": "Date",
}
# What a value that does not read as the type is not.
_NOT = {
    "integer": "whole numbers",
    "number": "numbers",
    "boolean": "true or false",
    "date": "dates",
    "string": "text",
}
FIELD_NAME_MAX = 100
# Values named in a refusal: enough to find the pattern, few enough to read.
REFUSAL_EXAMPLES = 5
_CHUNK = 5_000
_UPDATE = """
    UPDATE {table} f SET properties = jsonb_set(f.properties, ARRAY[%(name)s], v.value)
    FROM unnest(%(ids)s::bigint[], %(values)s::jsonb[]) AS v(id, value)
    WHERE f.dataset_id = %(dataset)s AND f.id = v.id
"""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class FieldChange:
    """What a change did: the field, its type before (None: a new field) and after, and how
    many current features' values were stored anew."""

    name: str
    before: str | None
    after: str
    converted: int

    def message(self) -> str:
        """What the details page says of it."""
        stored = (
            "no value needed converting"
            if not self.converted
            else f"{self.converted:,} current feature{'s' if self.converted != 1 else ''}' "
            f"values {'were' if self.converted != 1 else 'was'} stored as "
            f"{FIELD_TYPE_NAMES[self.after].lower()}"
        )
        if self.before is None:
            return (
                f"{self.name} is now a field of type {FIELD_TYPE_NAMES[self.after].lower()}: "
                f"{stored}. Later loads check it as one."
            )
        return (
            f"{self.name} is now {FIELD_TYPE_NAMES[self.after].lower()}, not "
            f"{FIELD_TYPE_NAMES[self.before].lower()}: {stored}. Later loads read it as "
            f"{FIELD_TYPE_NAMES[self.after].lower()}."
        )


@dataclass(frozen=True)
class FieldRules:
    """A field's rules: whether every row must have a value of it, and the values it may hold
    (empty: any value)."""

    required: bool = False
    allowed: tuple[Any, ...] = ()

    @classmethod
    def of(cls, entry: dict[str, Any]) -> "FieldRules":
        """The rules of a schema entry."""
        return cls(bool(entry.get("required")), tuple(entry.get("allowed") or ()))

    def allowed_written(self) -> list[str]:
        """The allowed values as the details page writes them (40, not 40.0; true)."""
        return [as_text(value) for value in self.allowed]


@dataclass(frozen=True)
class RulesChange:
    """Rules set on a field: its name and its rules now."""

    name: str
    rules: FieldRules

    def message(self) -> str:
        """What the details page says of it."""
        if self.rules.required and self.rules.allowed:
            rule = f"needs a value, one of {', '.join(self.rules.allowed_written())}"
        elif self.rules.required:
            rule = "needs a value"
        elif self.rules.allowed:
            rule = f"may be empty or one of {', '.join(self.rules.allowed_written())}"
        else:
            rule = "may hold any value or none"
        return (
            f"{self.name} {rule}: later loads report each row that does not. The features "
            "stored already are not changed."
        )


def field_value_as(value: Any, kind: str) -> Any:
    """A stored value as ``kind``; ValueError saying why it cannot be. As text, a number or
    true or false is written as a map and a download show it (40, not 40.0; true)."""
    if isinstance(value, dict | list):
        raise ValueError(f"{json.dumps(value)[:40]} is a list or a group of values")
    if kind == "string":
        return as_text(value)
    return typed_value(value, kind)


def _same_json(before: Any, after: Any) -> bool:
    """Whether ``after`` would be stored as ``before`` is: jsonb compares 40 and 40.0 as one
    number, but never a number with text or true with 1."""
    if isinstance(before, bool) or isinstance(after, bool):
        return before is after
    if isinstance(before, int | float) and isinstance(after, int | float):
        return before == after
    return type(before) is type(after) and before == after


def dataset_field_type_change(*, actor: Any, dataset: Dataset, name: str, kind: str) -> FieldChange:
    """Make ``name`` a field of type ``kind``: converts the current features' values, saves the
    schema (audited as ``dataset.update``), its allowed values read as ``kind``. ValidationError,
    changing nothing, when a value or an allowed value does not convert, the map's style cannot
    use the type, or a load of the dataset is under way."""
    _kind_check(kind)
    with transaction.atomic():
        dataset = _locked(dataset)
        schema = [dict(entry) for entry in dataset.field_schema]
        entry = next((entry for entry in schema if entry.get("name") == name), None)
        if entry is None:
            raise ValidationError(f"{dataset.title} has no field called {name}")
        before = entry.get("type", "string")
        if before == kind:
            return FieldChange(name, before, kind, 0)
        _style_check(dataset, name, kind)
        if entry.get("allowed"):
            entry["allowed"] = list(_allowed_typed(name, entry["allowed"], kind))
        converted = _values_convert(dataset, name, kind)
        entry["type"] = kind
        dataset_save(actor=actor, slug=dataset.slug, owner=dataset.owner, field_schema=schema)
    return FieldChange(name, before, kind, converted)


def dataset_fields_retype(
    *, actor: Any, dataset: Dataset, types: dict[str, str]
) -> list[FieldChange]:
    """Change several fields' types at once (``types``: name -> type), all or none:
    ValidationError naming each field that cannot change (by its name) and why."""
    changes, errors = [], {}
    with transaction.atomic():
        for name, kind in types.items():
            try:
                with transaction.atomic():
                    changes.append(
                        dataset_field_type_change(
                            actor=actor, dataset=dataset, name=name, kind=kind
                        )
                    )
            except ValidationError as error:
                errors[name] = error.messages
        if errors:
            raise ValidationError(errors)
    return [change for change in changes if change.before != change.after]


def dataset_fields_change(
    *, actor: Any, dataset: Dataset, types: dict[str, str], rules: dict[str, FieldRules]
) -> list[FieldChange | RulesChange]:
    """Change fields' types (``types``: name -> type) and rules (``rules``: name -> rules, their
    allowed values as written) at once, all or none; each rule is read by the field's type after
    the change. ValidationError by field name otherwise: code ``allowed`` for an allowed value
    its type cannot read, none for a type that cannot change."""
    with transaction.atomic():
        rule_changes = dataset_field_rules_set(
            actor=actor, dataset=dataset, rules=rules, types=types
        )
        return [*dataset_fields_retype(actor=actor, dataset=dataset, types=types), *rule_changes]


def dataset_field_rules_set(
    *, actor: Any, dataset: Dataset, rules: dict[str, FieldRules], types: dict[str, str]
) -> list[RulesChange]:
    """Set fields' rules (``rules``: name -> rules, their allowed values as written), each
    allowed value read as the field's type, or its type in ``types`` when that is to change with
    them; the schema saved through ``dataset_save`` (audited as ``dataset.update``). Stored
    features are not changed. ValidationError by field name, changing nothing, when an allowed
    value is not of the type (code ``allowed``) or there is no such field."""
    for kind in types.values():
        _kind_check(kind)
    errors: dict[str, ValidationError] = {}
    changes = []
    with transaction.atomic():
        dataset = _locked(dataset)
        schema = [dict(entry) for entry in dataset.field_schema]
        entries = {entry.get("name"): entry for entry in schema}
        for name, wanted in rules.items():
            entry = entries.get(name)
            if entry is None:
                errors[name] = ValidationError(f"{dataset.title} has no field called {name}")
                continue
            kind = types.get(name, entry.get("type", "string"))
            try:
                after = FieldRules(wanted.required, _allowed_typed(name, wanted.allowed, kind))
            except ValidationError as error:
                errors[name] = error
                continue
            if after == FieldRules.of(entry):
                continue
            entry.pop("required", None)
            entry.pop("allowed", None)
            if after.required:
                entry["required"] = True
            if after.allowed:
                entry["allowed"] = list(after.allowed)
            changes.append(RulesChange(name, after))
        if errors:
            raise ValidationError(errors)
        if changes:
            dataset_save(actor=actor, slug=dataset.slug, owner=dataset.owner, field_schema=schema)
    return changes


def _allowed_typed(name: str, values: Any, kind: str) -> tuple[Any, ...]:
    """``values`` as ``kind``, blanks and repeats left out; ValidationError (code ``allowed``)
    naming the first that is not of the type."""
    typed: list[Any] = []
    for value in values:
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue
        try:
            as_kind = field_value_as(value, kind)
        except ValueError as error:
            raise ValidationError(
                f"{error}: the allowed values of {name} must be {_NOT[kind]}", code="allowed"
            ) from None
        if not any(_same_json(as_kind, seen) for seen in typed):
            typed.append(as_kind)
    return tuple(typed)


def dataset_field_add(
    *, actor: Any, dataset: Dataset, name: str, title: str, kind: str
) -> FieldChange:
    """Add the field ``name`` of type ``kind`` to the dataset's schema: a column a load kept
    with each feature though the schema did not have it, or one later loads will fill. Values
    the current features hold under that name are checked and converted as a type change's are.
    """
    name, title = name.strip(), " ".join(title.split()) or name.strip()
    if not name:
        raise ValidationError({"name": "Enter the field's name, as the file's column names it"})
    if len(name) > FIELD_NAME_MAX or len(title) > FIELD_NAME_MAX:
        raise ValidationError(
            {"name": f"The field's name and title must be {FIELD_NAME_MAX} characters or fewer"}
        )
    if _CONTROL.search(name):
        raise ValidationError({"name": "The field's name cannot hold control characters"})
    _kind_check(kind)
    with transaction.atomic():
        dataset = _locked(dataset)
        if any(entry.get("name") == name for entry in dataset.field_schema):
            raise ValidationError({"name": f"{dataset.title} already has a field called {name}"})
        converted = _values_convert(dataset, name, kind)
        schema = [*dataset.field_schema, {"name": name, "title": title, "type": kind}]
        dataset_save(actor=actor, slug=dataset.slug, owner=dataset.owner, field_schema=schema)
    return FieldChange(name, None, kind, converted)


def _kind_check(kind: str) -> None:
    if kind not in FIELD_TYPE_NAMES:
        raise ValidationError("Choose one of the types listed")


def _locked(dataset: Dataset) -> Dataset:
    """The dataset, locked for the change; refused while a load or rollback of it is waiting or
    running (its rows are checked by the schema it read when it began)."""
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    if IngestRun.objects.filter(dataset=dataset, state__in=IngestRun.ACTIVE).exists():
        raise ValidationError(
            f"A load of {dataset.title} is waiting or running: change its fields when it has "
            "finished, as its rows are read by the fields it began with"
        )
    return dataset


def _style_check(dataset: Dataset, name: str, kind: str) -> None:
    """Refuse a type the map's style cannot draw ``name`` by."""
    try:
        style = style_parse(dataset.style, fields=None)
    except StyleError:
        return  # a style that cannot be read is drawn as the simple one, whatever the types
    if getattr(style, "field", None) != name:
        return
    if isinstance(style, GraduatedStyle) and kind not in ("integer", "number"):
        raise ValidationError(
            f"The map colours {dataset.title} by classes of {name}'s numbers (a graduated "
            f"style), which {FIELD_TYPE_NAMES[kind].lower()} cannot be drawn by: change the "
            "style first, then the field's type"
        )
    if isinstance(style, CategorisedStyle):
        lost = []
        for category in style.categories:
            try:
                same = as_text(field_value_as(category.value, kind)) == as_text(category.value)
            except ValueError:
                same = False
            if not same:
                lost.append(str(category.value))
        if lost:
            raise ValidationError(
                f"The map colours {dataset.title} by {name}'s values, and its categories "
                f"{', '.join(lost)} would match none of them once they are "
                f"{_NOT[kind]}: change the style first, then the field's type"
            )


def _current_values(dataset: Dataset, name: str) -> Iterator[tuple[int, str, Any]]:
    """(row id, reference, value) of each current feature holding ``name``, by reference."""
    return (
        current_features(dataset)
        .filter(properties__has_key=name)
        .annotate(value=KeyTransform(name, "properties"))
        .order_by("reference", "organisation_id")
        .values_list("pk", "reference", "value")
        .iterator(chunk_size=_CHUNK)
    )


def _values_convert(dataset: Dataset, name: str, kind: str) -> int:
    """Store the current features' values of ``name`` as ``kind`` where their JSON form
    differs; the number stored. ValidationError naming how many values do not read as ``kind``
    and the first few (nothing is kept: the caller's transaction is rolled back)."""
    failed, examples, converted = 0, [], 0
    ids: list[int] = []
    values: list[str] = []
    for row_id, reference, value in _current_values(dataset, name):
        if value is None or (value == "" and kind == "string"):
            continue
        try:
            typed = field_value_as(value, kind)
        except ValueError:
            failed += 1
            if len(examples) < REFUSAL_EXAMPLES:
                examples.append(f"{reference} ({_shown(value)})")
            continue
        if failed or _same_json(value, typed):
            continue
        ids.append(row_id)
        values.append(json.dumps(typed))
        if len(ids) == _CHUNK:
            converted += _update(dataset, name, ids, values)
            ids, values = [], []
    if failed:
        features = (
            "1 feature has a value that is"
            if failed == 1
            else (f"{failed:,} features have values that are")
        )
        more = ", …" if failed > len(examples) else ""
        raise ValidationError(
            f"{features} not {_NOT[kind]}: {', '.join(examples)}{more}. Correct them in a "
            f"load first, or keep {name} as it is"
        )
    if ids:
        converted += _update(dataset, name, ids, values)
    return converted


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return f"'{text[:40]}…'" if len(text) > 40 else f"'{text}'"


def _update(dataset: Dataset, name: str, ids: list[int], values: list[str]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            _UPDATE.format(table=Feature._meta.db_table),
            {"name": name, "ids": ids, "values": values, "dataset": dataset.pk},
        )
        return cursor.rowcount
