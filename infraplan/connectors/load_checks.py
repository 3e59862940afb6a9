"""Checks of a load's settings: the connector's configuration, the column mapping and the
organisation whose part of the dataset it loads. Saving a source and asking for a load both make
them, so settings that cannot run are refused before anything is recorded (ValidationError naming
the field)."""

from typing import Any

from django.core.exceptions import ValidationError
from pydantic import ValidationError as PydanticValidationError

from infraplan.accounts.models import Organisation
from infraplan.catalogue.fields import FIELD_TYPE_NAMES
from infraplan.catalogue.ingest import IngestMapping
from infraplan.catalogue.loading import typed_value
from infraplan.catalogue.models import Dataset

from .base import ConnectorError
from .registry import connector_config


def config_checked(connector_key: str, config: dict[str, Any]) -> dict[str, Any]:
    """``config`` as the connector reads it, to save; ValidationError on ``config`` saying why
    the connector refuses it."""
    try:
        return connector_config(connector_key, config).model_dump(mode="json")
    except ConnectorError as error:
        raise ValidationError({"config": str(error)}) from None


def constant_problem(
    name: str, value: Any, schema: dict[str, dict[str, Any]], casts: dict[str, str],
    reference: str,
) -> str:  # fmt: skip
    """Why ``value`` cannot be the constant of field ``name`` (its type by the dataset's
    ``schema``, by name, else by ``casts``), or "" when it can: every row would fail with it,
    or it would name what is not a field (the reference column, the geometry)."""
    if name == reference:
        return "every feature would have the same reference: it comes from a column"
    if name.lower() in ("geometry", "geom"):
        return "a feature's geometry comes from the source's geometry or coordinates"
    spec = schema.get(name, {"type": casts.get(name, "string")})
    try:
        typed = typed_value(value, spec.get("type", "string"))
    except ValueError as error:
        return str(error)
    allowed = spec.get("allowed")
    if allowed and typed not in allowed:
        return f"{value!r} is not one of: {', '.join(map(str, allowed))}"
    return ""


def cast_problem(
    name: str, kind: str, schema: dict[str, dict[str, Any]], *, instead: str = "leave its cast out"
) -> str:
    """Why field ``name`` cannot be read as ``kind``, or "" when it can: a field of the
    dataset's ``schema`` is read as its type there whatever the mapping says, so a cast of it to
    another type would be ignored by every load. ``instead`` says what to do in its place, in
    the words of where the cast was given (the source page's choice, say)."""
    if name not in schema:
        return ""
    declared = schema[name].get("type", "string")
    if declared == kind:
        return ""
    return (
        f"{name} is a field of the dataset, read as {FIELD_TYPE_NAMES[declared].lower()} by its "
        f"type there: {instead}, or first change the field's type on the dataset's details page"
    )


def casts_checked(mapping: IngestMapping, dataset: Dataset) -> None:
    """Refuse casts of the dataset's own fields to other types (``cast_problem``), as the
    source page does: ValidationError on ``mapping``.

    For where someone gives a mapping (the command line), not ``mapping_checked``: a saved
    source's loads go on when a field it casts is given another type on the dataset's details
    page later, reading the field by its new type, rather than failing until the source is
    changed."""
    schema = {entry["name"]: entry for entry in dataset.field_schema}
    problems = [
        problem
        for name, kind in mapping.casts.items()
        if (problem := cast_problem(name, kind, schema))
    ]
    if problems:
        raise ValidationError(
            {"mapping": f"The column mapping is not valid: {'; '.join(problems)}."}
        )


def mapping_checked(mapping: IngestMapping | dict[str, Any], dataset: Dataset) -> IngestMapping:
    """The mapping, checked as a model and its constants against the dataset's schema (a
    constant every row would fail with is refused now, not in every load)."""
    if not isinstance(mapping, IngestMapping):
        try:
            mapping = IngestMapping.model_validate(mapping)
        except PydanticValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in problem['loc']) or 'mapping'}: {problem['msg']}"
                for problem in error.errors()
            )
            raise ValidationError(
                {"mapping": f"The column mapping is not valid: {problems}."}
            ) from None
    schema = {entry["name"]: entry for entry in dataset.field_schema}
    problems = []
    for name, value in mapping.constants.items():
        problem = constant_problem(name, value, schema, mapping.casts, mapping.reference)
        if problem:
            problems.append(f"the constant for {name}: {problem}")
    if problems:
        raise ValidationError(
            {"mapping": f"The column mapping is not valid: {'; '.join(problems)}."}
        )
    return mapping


def organisation_checked(dataset: Dataset, organisation: Organisation | None) -> None:
    """Refuse a part of ``dataset`` for an organisation that does not publish it (neither its
    owner nor a contributing organisation): its features would sit in the dataset under a
    publisher nobody chose, out of reach of the pages that load each part."""
    if organisation is None or organisation.pk == dataset.owner_id:
        return
    if dataset.contributing_organisations.filter(pk=organisation.pk).exists():
        return
    contributing = sorted(dataset.contributing_organisations.values_list("name", flat=True))
    publishers = [dataset.owner.name, *contributing]
    raise ValidationError(
        {
            "organisation": f"{organisation} does not publish {dataset}: its owner and "
            f"contributing organisations are {', '.join(publishers)}."
        }
    )
