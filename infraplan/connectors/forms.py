"""The source form: which service a dataset's data comes from (its connector's settings, made
into inputs from the connector's configuration model), whose part of the dataset it replaces,
how the service's columns map onto the dataset's fields, and when it refreshes.

Column and constant rows are numbered groups of inputs with spare empty ones, so the form works
without JavaScript, as the style editor's do; empty rows are ignored. Everything is checked here
against the same models the pipeline uses (the connector's configuration, ``IngestMapping``, the
schedule's parser), so each error is shown beside its own input.
"""

import math
import re
from decimal import Decimal
from typing import Any, Literal, get_args, get_origin

from django import forms
from django.core.exceptions import ValidationError
from pydantic import ValidationError as PydanticValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from infraplan.catalogue.forms import (
    InputRow,
    filled_past,
    large_removal_field,
    rejection_threshold_field,
)
from infraplan.catalogue.ingest_rows import FieldType, IngestMapping
from infraplan.catalogue.selectors import WHOLE_DATASET

from .base import ConnectorConfig
from .credentials import KIND_FIELDS, CredentialKind
from .credentials_form import credentials_cleaned, credentials_fields
from .load_checks import cast_problem, constant_problem
from .models import SCHEDULE_NAMES
from .registry import connector_for, connector_has_settings, connector_keys, connector_title
from .schedules import SCHEDULES, schedule_checked

SCHEDULE_CHOICES = [*SCHEDULE_NAMES.items(), ("cron", "On a cron expression")]
CAST_CHOICES = [
    ("", "As the source gives it"),
    ("string", "Text"),
    ("integer", "Whole number"),
    ("number", "Number"),
    ("boolean", "True or false"),
    ("date", "Date"),
]
CAST_NAMES = dict(CAST_CHOICES)
SPARE_ROWS = 3
MIN_ROWS = 3
MAX_ROWS = 60
TEXT_MAX_LENGTH = 2000
_ROW_KEY = re.compile(r"^(column|constant)-(\d+)-")

_VALUE_ERROR = re.compile(r"^Value error, ")


def source_connector_choices() -> list[tuple[str, str]]:
    """The connectors a source can use (key, title): those with settings to set on its page."""
    return [(key, connector_title(key)) for key in connector_keys() if connector_has_settings(key)]


class ConnectorChoiceForm(forms.Form):
    """The first question when adding a source: what kind of service it is."""

    connector = forms.ChoiceField(
        label="What kind of service is it?",
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose the kind of service the data comes from",
            "invalid_choice": "Choose one of the kinds of service listed",
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["connector"].choices = source_connector_choices()


def _constraint(info: FieldInfo, name: str) -> Any:
    return next((getattr(item, name) for item in info.metadata if hasattr(item, name)), None)


def _label(info: FieldInfo, name: str) -> str:
    return info.title or name.replace("_", " ").capitalize()


def _named(label: str) -> str:
    """A setting's label as it reads within a sentence: "the layer address"."""
    return label.removesuffix(" (optional)").lower()


def _config_field(name: str, info: FieldInfo) -> forms.Field:
    """A form input for one setting of a connector's configuration model."""
    annotation = info.annotation
    arguments = [item for item in get_args(annotation) if item is not type(None)]
    optional = len(arguments) < len(get_args(annotation))
    kind = arguments[0] if optional and len(arguments) == 1 else annotation
    label = _label(info, name)
    common = {
        "label": label,
        "help_text": info.description or "",
        "required": info.is_required(),
        "error_messages": {"required": f"Enter the {_named(label)}"},
    }
    if get_origin(kind) is Literal:
        return forms.ChoiceField(
            choices=[(value, value) for value in get_args(kind)], widget=forms.RadioSelect,
            **{**common, "required": True},
        )  # fmt: skip
    if kind is int:
        least, most = _constraint(info, "ge"), _constraint(info, "le")
        return forms.IntegerField(
            min_value=least,
            max_value=most,
            **{
                **common,
                "error_messages": {
                    **common["error_messages"],
                    "invalid": f"Enter the {_named(label)} as a whole number",
                    "min_value": f"The {_named(label)} must be {least} or more",
                    "max_value": f"The {_named(label)} must be {most} or less",
                },
            },
        )
    if get_origin(kind) is list:
        return forms.CharField(max_length=TEXT_MAX_LENGTH, **common)
    return forms.CharField(
        max_length=_constraint(info, "max_length") or TEXT_MAX_LENGTH, strip=True, **common
    )


def _numbers(text: str, count: int) -> list[float]:
    """``count`` numbers from text such as "0.6, 50.9, 1.5, 51.5"."""
    try:
        numbers = [float(part) for part in re.split(r"[,\s]+", text.strip()) if part]
    except ValueError:
        numbers = []
    if len(numbers) != count or not all(math.isfinite(number) for number in numbers):
        raise ValidationError(f"Enter {count} numbers separated by commas")
    return numbers


class SourceForm(forms.Form):
    """A source's settings, its mapping and its schedule; ``source`` when changing one.

    ``cleaned_data`` gains ``config``, ``credentials`` and ``credentials_removed``
    (``credentials_form``), ``mapping`` (an ``IngestMapping``) and ``schedule_text`` (what
    ``source_save`` takes) once the form is valid.
    """

    organisation = forms.ChoiceField(
        label="Whose data is it",
        help_text="Each load replaces only this organisation's features; the whole dataset's "
        "source replaces every feature.",
        error_messages={"required": "Choose whose data the source holds"},
    )
    reference = forms.CharField(
        label="Reference column",
        max_length=200,
        help_text="The column (after any renaming below) that identifies each feature, the same "
        "in every load, such as reference or OBJECTID.",
        error_messages={"required": "Enter the name of the column holding each reference"},
    )
    threshold = rejection_threshold_field(
        "Reject a load when more than this share of its rows have problems; the current "
        "version then stays as it is."
    )
    large_removal = large_removal_field(
        "Only for a source meant to replace most of what is there at its next load. Without it, a "
        "load that would remove more than half of the current features is rejected, in case the "
        "service answered only in part."
    )
    schedule = forms.ChoiceField(
        label="When to refresh it",
        choices=SCHEDULE_CHOICES,
        required=False,
        widget=forms.RadioSelect,
    )
    cron = forms.CharField(
        label="Cron expression",
        required=False,
        max_length=100,
        help_text="Only for a refresh on a cron expression: five fields in UTC (minute, hour, "
        "day of the month, month, day of the week). For example 30 6 * * 1-5 is 6:30am on "
        "weekdays.",
    )
    enabled = forms.BooleanField(
        label="Switched on",
        required=False,
        initial=True,
        help_text="A source switched off is not refreshed on its schedule; what it loaded "
        "stays on the map.",
    )

    def __init__(
        self,
        *args: Any,
        connector_key: str,
        organisations: list[tuple[str, str]],
        schema: dict[str, dict[str, Any]],
        source: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.connector = connector_for(connector_key)
        self.field_specs = schema  # field name -> its entry in the dataset's schema
        self.schema = {name: spec.get("type", "string") for name, spec in schema.items()}
        self.source = source
        config_model: type[ConnectorConfig] = self.connector.Config
        self.config_names = list(config_model.form_fields)
        for name in self.config_names:
            self.fields[name] = _config_field(name, config_model.model_fields[name])
        self.saved_credentials = source.credentials_kind if source is not None else ""
        credentials = credentials_fields(
            self.connector.credential_kinds, saved=bool(self.saved_credentials)
        )
        self.credentials_names = list(credentials)
        first = self.config_names + self.credentials_names
        self.fields = {
            **{name: self.fields[name] for name in self.config_names},
            **credentials,
            **{name: field for name, field in self.fields.items() if name not in first},
        }
        self.fields["organisation"].choices = organisations
        if len(organisations) == 1:
            self.fields["organisation"].initial = organisations[0][0]
        if not self.is_bound:
            self._set_initial(config_model)
        self.column_count = self._row_count("column", len(self._initial_columns()))
        self.constant_count = self._row_count("constant", len(self._initial_constants()))
        for index in range(self.column_count):
            number = index + 1
            self.fields[f"column-{index}-source"] = forms.CharField(
                label=f"Column {number} in the source", required=False, max_length=200
            )
            self.fields[f"column-{index}-field"] = forms.CharField(
                label=f"Column {number} renamed to", required=False, max_length=200
            )
            self.fields[f"column-{index}-type"] = forms.ChoiceField(
                label=f"Column {number} read as", required=False, choices=CAST_CHOICES
            )
        for index in range(self.constant_count):
            number = index + 1
            self.fields[f"constant-{index}-field"] = forms.CharField(
                label=f"Constant {number} field", required=False, max_length=200
            )
            self.fields[f"constant-{index}-value"] = forms.CharField(
                label=f"Constant {number} value", required=False, max_length=TEXT_MAX_LENGTH
            )

    # Initial values, from the source being changed or the connector's defaults

    def _mapping(self) -> dict[str, Any]:
        return self.source.mapping if self.source is not None else {}

    def _initial_columns(self) -> list[tuple[str, str, str]]:
        """(source column, renamed to, read as) for the source being changed."""
        mapping = self._mapping()
        rename, casts = mapping.get("rename", {}), dict(mapping.get("casts", {}))
        rows = [(column, name, casts.pop(name, "")) for column, name in rename.items()]
        return rows + [(name, "", kind) for name, kind in casts.items()]

    def _initial_constants(self) -> list[tuple[str, Any]]:
        return list(self._mapping().get("constants", {}).items())

    def _set_initial(self, config_model: type[ConnectorConfig]) -> None:
        config = self.source.config if self.source is not None else {}
        for name in self.config_names:
            value = config.get(name, config_model.model_fields[name].default)
            if value is PydanticUndefined or value is None:
                continue
            self.initial[name] = ", ".join(map(str, value)) if isinstance(value, list) else value
        if self.saved_credentials in self.connector.credential_kinds:
            self.initial["credentials_kind"] = self.saved_credentials
        if self.source is None:
            return
        mapping = self._mapping()
        self.initial["organisation"] = (
            self.source.organisation.slug if self.source.organisation else WHOLE_DATASET
        )
        self.initial["reference"] = mapping.get("reference", "")
        share = (Decimal(str(mapping.get("max_invalid_share", 0))) * 100).quantize(Decimal("0.1"))
        # 10, not 10.0 (nor 1E+1, as Decimal.normalize would write it).
        self.initial["threshold"] = share.to_integral() if share == share.to_integral() else share
        self.initial["large_removal"] = bool(mapping.get("allow_large_removal"))
        schedule = self.source.schedule
        if schedule.lower() in SCHEDULES or not schedule:
            self.initial["schedule"] = schedule.lower()
        else:
            self.initial.update(schedule="cron", cron=schedule)
        self.initial["enabled"] = self.source.enabled
        for index, (column, name, kind) in enumerate(self._initial_columns()):
            self.initial.update(
                {f"column-{index}-source": column, f"column-{index}-field": name,
                 f"column-{index}-type": kind}
            )  # fmt: skip
        for index, (name, value) in enumerate(self._initial_constants()):
            self.initial.update({f"constant-{index}-field": name, f"constant-{index}-value": value})

    def _row_count(self, prefix: str, existing: int) -> int:
        if self.is_bound:
            indexes = [
                int(match[2]) for key in self.data if (match := _ROW_KEY.match(key))
                if match[1] == prefix
            ]  # fmt: skip
            return min(max(max(indexes, default=-1) + 1, MIN_ROWS), MAX_ROWS)
        return min(max(existing + SPARE_ROWS, MIN_ROWS), MAX_ROWS)

    # The page's parts

    @property
    def config_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.config_names]

    @property
    def credentials_kind_field(self) -> forms.BoundField | None:
        return self["credentials_kind"] if "credentials_kind" in self.fields else None

    @property
    def credentials_groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        """Each kind the connector takes, with its inputs: (the kind's name, its inputs)."""
        return [
            (
                CredentialKind(kind).label,
                [self[f"credentials_{name}"] for name in KIND_FIELDS[kind]],
            )
            for kind in self.connector.credential_kinds
        ]

    @property
    def saved_credentials_label(self) -> str:
        """The kind of credentials the source has saved, in words ("" for none)."""
        return CredentialKind(self.saved_credentials).label if self.saved_credentials else ""

    @property
    def credentials_remove_field(self) -> forms.BoundField | None:
        return self["credentials_remove"] if "credentials_remove" in self.fields else None

    @property
    def column_rows(self) -> list[InputRow]:
        return [
            InputRow(
                title=f"Column {index + 1}",
                fields=[self[f"column-{index}-{part}"] for part in ("source", "field", "type")],
            )
            for index in range(self.column_count)
        ]

    @property
    def constant_rows(self) -> list[InputRow]:
        return [
            InputRow(
                title=f"Constant {index + 1}",
                fields=[self[f"constant-{index}-{part}"] for part in ("field", "value")],
            )
            for index in range(self.constant_count)
        ]

    # Checks

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for prefix, count in (("column", self.column_count), ("constant", self.constant_count)):
            if filled_past(self.data, _ROW_KEY, prefix, count):
                self.add_error(
                    None,
                    f"A source maps at most {count} {prefix}s: the ones after {prefix} {count} "
                    "were not saved. Remove them, or leave the columns that need no change out.",
                )
        data["config"] = self._config(data)
        data["credentials"], data["credentials_removed"] = credentials_cleaned(
            self, data, saved_kind=self.saved_credentials
        )
        data["mapping"] = self._mapping_from(data)
        data["schedule_text"] = self._schedule(data)
        return data

    def _config(self, data: dict[str, Any]) -> dict[str, Any]:
        """The connector's settings: the inputs over what the source had (or the defaults),
        checked by the connector's own model, each error beside its input."""
        config = {
            name: value
            for name, value in (self.source.config if self.source is not None else {}).items()
            if name not in self.config_names
        }
        for name in self.config_names:
            if name in self.errors:
                return {}
            value = data.get(name)
            if value in (None, ""):
                continue
            if self._is_list(name):
                info = self.connector.Config.model_fields[name]
                try:
                    value = _numbers(value, _constraint(info, "min_length") or 4)
                except ValidationError as error:
                    self.add_error(name, error)
                    return {}
            config[name] = value
        try:
            return self.connector.Config.model_validate(config).model_dump(mode="json")
        except PydanticValidationError as error:
            for problem in error.errors():
                name = str(problem["loc"][0]) if problem["loc"] else ""
                if problem["type"] == "value_error":  # the connector's own words: "must be ..."
                    message = _VALUE_ERROR.sub("", problem["msg"])
                elif problem["type"] == "string_pattern_mismatch" and name in self.fields:
                    message = f"is not in the right form. {self.fields[name].help_text}"
                else:
                    message = f"is not valid: {problem['msg'][:1].lower()}{problem['msg'][1:]}"
                if name in self.fields and message[:1].isupper():
                    self.add_error(name, message)  # a sentence of its own, beside its input
                elif name in self.fields:
                    self.add_error(name, f"The {_named(self.fields[name].label)} {message}")
                else:
                    self.add_error(None, f"The {self.connector.title} settings: {message}")
            return {}

    def _is_list(self, name: str) -> bool:
        annotation = self.connector.Config.model_fields[name].annotation
        return any(get_origin(item) is list for item in (annotation, *get_args(annotation)))

    def _mapping_from(self, data: dict[str, Any]) -> IngestMapping | None:
        rename: dict[str, str] = {}
        casts: dict[str, FieldType] = {}
        constants: dict[str, str] = {}
        for index in range(self.column_count):
            column = (data.get(f"column-{index}-source") or "").strip()
            name = (data.get(f"column-{index}-field") or "").strip()
            kind = data.get(f"column-{index}-type") or ""
            if not column:
                if name or kind:
                    self.add_error(
                        f"column-{index}-source", "Enter the column's name in the source"
                    )
                continue
            if column in rename or (not name and column in casts):
                self.add_error(f"column-{index}-source", f"{column} is in the list twice")
                continue
            field_name = name or column
            if name:
                if name in rename.values():
                    self.add_error(f"column-{index}-field", f"Two columns are renamed to {name}")
                    continue
                rename[column] = name
            if kind:
                problem = cast_problem(
                    field_name, kind, self.field_specs, instead=f"choose {CAST_NAMES[''].lower()}"
                )
                if problem:
                    self.add_error(f"column-{index}-type", problem)
                    continue
                casts[field_name] = kind
        for index in range(self.constant_count):
            name = (data.get(f"constant-{index}-field") or "").strip()
            value = data.get(f"constant-{index}-value") or ""
            if not name:
                if value:
                    self.add_error(f"constant-{index}-field", "Enter the field the value goes in")
                continue
            if name in constants:
                self.add_error(f"constant-{index}-field", f"{name} has two constants")
                continue
            problem = constant_problem(
                name, value, self.field_specs, casts, (data.get("reference") or "").strip()
            )
            if problem:
                self.add_error(f"constant-{index}-value", f"The constant for {name}: {problem}")
                continue
            constants[name] = value
        if "reference" in self.errors or "threshold" in self.errors:
            return None
        return IngestMapping(
            reference=data["reference"], rename=rename, casts=casts, constants=constants,
            max_invalid_share=float(data["threshold"]) / 100,
            allow_large_removal=bool(data.get("large_removal")),
        )  # fmt: skip

    def _schedule(self, data: dict[str, Any]) -> str:
        choice = data.get("schedule") or ""
        text = (data.get("cron") or "").strip() if choice == "cron" else choice
        if choice == "cron" and not text:
            self.add_error("cron", "Enter the cron expression, such as 30 6 * * 1-5")
            return ""
        try:
            schedule_checked(text)
        except ValidationError as error:
            self.add_error("cron" if choice == "cron" else "schedule", error.messages)
        return text
