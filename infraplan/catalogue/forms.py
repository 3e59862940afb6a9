"""Forms of the catalogue pages: the list's filters, a dataset's details and its fields' types,
the style editor, uploads, the as-of date, the choice of two versions to compare and a withdrawal's reason."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from django import forms
from django.core.validators import RegexValidator

from infraplan.accounts.models import Organisation
from infraplan.core.profile import MAP_BACKGROUND, contrast_ratio

from .fields import FIELD_NAME_MAX, FIELD_TYPE_NAMES, FieldRules
from .history import FUTURE_DATE, as_of_in_future, as_of_parse
from .ingest_rows import DEFAULT_REJECTION_THRESHOLD
from .loading import DATE_FORMATS, typed_value
from .models import AccessLevel, GeometryType, Theme, UpdateFrequency
from .services import WITHDRAWAL_REASON_MAX
from .styles import HEX_COLOUR, NO_VALUE_COLOUR, StyleError, style_digest, style_parse
from .uploads import KeptUpload

COLOUR_MESSAGE = "Enter the colour as # followed by 6 letters a to f or digits, like #00857c"
NUMERIC_TYPES = {"integer", "number"}
KINDS = [
    ("simple", "One colour for every feature"),
    ("categorised", "A colour for each value of a field"),
    ("graduated", "A colour for each range of a numeric field"),
]
MINIMUM_CONTRAST = 3  # WCAG 2.2 AA for graphics: a colour against the map's background
SPARE_ROWS = 3  # empty rows offered for new categories or classes (no JavaScript needed)
MIN_ROWS = 5
_ROW_KEY = re.compile(r"^(category|class)-(\d+)-")


def filled_past(data: Any, row_key: re.Pattern, prefix: str, count: int) -> bool:
    """Whether a posted form of numbered rows (keys like ``category-3-value``, matched by
    ``row_key`` with the prefix and the number as its groups) has a row past the ``count`` it
    offers with anything entered in it: a row the form would otherwise drop without a word."""
    return any(
        (match := row_key.match(key)) and match[1] == prefix and int(match[2]) >= count
        and str(data.get(key, "")).strip()
        for key in data
    )  # fmt: skip


@dataclass(frozen=True)
class InputRow:
    """One category or class: its inputs side by side, under one legend."""

    title: str
    fields: list[forms.BoundField]

    @property
    def has_errors(self) -> bool:
        return any(field.errors for field in self.fields)


class DatasetFilterForm(forms.Form):
    """The catalogue list's filters, from the query string."""

    q = forms.CharField(label="Search", required=False, max_length=200, strip=True)
    theme = forms.MultipleChoiceField(
        label="Theme", required=False, choices=Theme.choices, widget=forms.CheckboxSelectMultiple
    )
    owner = forms.MultipleChoiceField(
        label="Owner", required=False, widget=forms.CheckboxSelectMultiple
    )
    access = forms.MultipleChoiceField(
        label="Who can see it",
        required=False,
        choices=AccessLevel.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, owners: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = owners

    def value(self, name: str) -> Any:
        """The cleaned value of a bound form, or the empty value where the input was not valid."""
        self.is_valid()
        return self.cleaned_data.get(name, self.fields[name].to_python(None))


colour_validator = RegexValidator(HEX_COLOUR, COLOUR_MESSAGE)


KEYWORDS_MAX = 30
NO_LABEL = ""


def _text(
    label: str, required_message: str, *, max_length: int, rows: int = 0, **kwargs: Any
) -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": rows}) if rows else forms.TextInput
    return forms.CharField(
        label=label, max_length=max_length, widget=widget,
        error_messages={
            "required": required_message,
            "max_length": f"{label} must be {max_length:,} characters or fewer",
        },
        **kwargs,
    )  # fmt: skip


class DatasetDetailsForm(forms.Form):
    """A dataset's details (its metadata), as a data manager writes them: on the page that adds
    a dataset, with the organisation that owns it, and on the page that changes them.

    Some fields are offered only where they may change: the kind of features until a version
    has been published (the features already loaded are of the kind they were checked as), who
    may see it only to those who administer the dataset, the label only once the dataset has
    fields, and the organisations that contribute to it only on its details page."""

    owner = forms.ChoiceField(
        label="Organisation",
        help_text="The organisation that publishes the dataset. Its data managers look after it.",
        error_messages={
            "required": "Choose the organisation the dataset belongs to",
            "invalid_choice": "Choose one of the organisations listed",
        },
    )
    title = _text("Title", "Enter the dataset's title", max_length=200)
    abstract = _text(
        "Description", "Enter a description of the dataset", max_length=5000, rows=4,
        help_text="What the dataset holds, for which area and period, and what it is for.",
    )  # fmt: skip
    theme = forms.ChoiceField(
        label="Theme",
        choices=[("", "Choose a theme"), *Theme.choices],
        error_messages={"required": "Choose the dataset's theme"},
    )
    geometry_type = forms.ChoiceField(
        label="What its features are",
        widget=forms.RadioSelect,
        choices=GeometryType.choices,
        help_text="Every feature of a dataset is of one kind: a file's features of another kind "
        "are listed as problems when it is loaded. This can be changed until a version has been "
        "published.",
        error_messages={"required": "Choose what the dataset's features are"},
    )
    access_level = forms.ChoiceField(
        label="Who may see it",
        widget=forms.RadioSelect,
        choices=AccessLevel.choices,
        initial=AccessLevel.SIGNED_IN,
        help_text="Named organisations: the owner's members, the organisations that contribute "
        "to it and the organisations a platform admin shares it with.",
        error_messages={"required": "Choose who may see the dataset"},
    )
    contributing_organisations = forms.ModelMultipleChoiceField(
        label="Organisations that may contribute their own part",
        queryset=Organisation.objects.none(),
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Their contributors and data managers load their own organisation's part of "
        "the dataset, and, if only named organisations may see it, their members see it. An "
        "organisation taken off the list loads no more, but the features it loaded stay in the "
        "dataset as its part until a load of the whole dataset replaces them.",
        error_messages={"invalid_choice": "Choose organisations from those listed"},
    )
    licence = _text(
        "Licence", "Enter the licence the data are published under", max_length=200,
        initial="Open Government Licence v3.0",
    )  # fmt: skip
    attribution = _text(
        "Attribution", "Enter the attribution every map and download of it must carry",
        max_length=2000, rows=2,
        help_text="Shown on the map and in every download, for example: Contains public sector "
        "information licensed under the Open Government Licence v3.0.",
    )  # fmt: skip
    lineage = _text(
        "Lineage", "Enter where the data come from and how they were made", max_length=5000,
        rows=3, help_text="Where the data come from and how they were made or checked.",
    )  # fmt: skip
    update_frequency = forms.ChoiceField(
        label="How often it is updated",
        choices=UpdateFrequency.choices,
        initial=UpdateFrequency.UNKNOWN,
        error_messages={"required": "Choose how often the dataset is updated"},
    )
    keywords = forms.CharField(
        label="Keywords (optional)",
        required=False,
        max_length=2000,
        help_text="Words the catalogue's search also finds it by, separated by commas.",
    )
    reference_date = forms.CharField(
        label="Reference date (optional)",
        required=False,
        max_length=20,
        help_text="When the source was published or last revised, for example 2026-03-27.",
    )
    temporal_start = forms.CharField(
        label="Start of the period it describes (optional)",
        required=False,
        max_length=20,
        help_text="The first day the data describe, for example 2026-04-01.",
    )
    temporal_end = forms.CharField(
        label="End of the period it describes (optional)",
        required=False,
        max_length=20,
        help_text="The last day the data describe, for example 2027-03-31: the same day as the "
        "start for data as at one day. Leave it empty for data kept up to date.",
    )
    source_format = forms.CharField(
        label="Data format (optional)",
        required=False,
        max_length=40,
        help_text="The format the source publishes the data in, for example GeoJSON, CSV or "
        "Shapefile.",
        error_messages={"max_length": "The data format must be 40 characters or fewer"},
    )
    min_zoom = forms.IntegerField(
        label="Drawn from zoom level",
        min_value=0,
        max_value=22,
        initial=0,
        help_text="The map draws the dataset from this zoom level in: 0 draws it at every "
        "zoom; a dense layer of many small features reads better from 12 (a town) or 14 (a "
        "few streets).",
        error_messages={
            "required": "Enter the zoom level the map draws the dataset from, 0 to 22",
            "invalid": "Enter the zoom level as a whole number from 0 to 22",
            "min_value": "The zoom level must be 0 or more",
            "max_value": "The zoom level must be 22 or less",
        },
    )
    label_field = forms.ChoiceField(
        label="Label on the map",
        required=False,
        help_text="The field whose value the map writes beside each feature.",
    )

    def __init__(
        self, *args: Any, owners: list[tuple[str, str]] | None = None,
        geometry_fixed: bool = False, access_fixed: bool = False,
        field_names: list[str] | None = None, titles_taken: Any = None,
        contributors: Any = None, **kwargs: Any,
    ) -> None:  # fmt: skip
        """``contributors``: the organisations that may be chosen to contribute, where they
        may be chosen here (None: the form does not offer them)."""
        super().__init__(*args, **kwargs)
        self.titles_taken = titles_taken
        if contributors is None:
            del self.fields["contributing_organisations"]
        else:
            self.fields["contributing_organisations"].queryset = contributors
        if owners is None:
            del self.fields["owner"]
        else:
            self.fields["owner"].choices = [("", "Choose an organisation"), *owners]
            if len(owners) == 1:
                self.fields["owner"].initial = owners[0][0]
        if geometry_fixed:
            del self.fields["geometry_type"]
        if access_fixed:
            del self.fields["access_level"]
        if field_names:
            self.fields["label_field"].choices = [
                (NO_LABEL, "No label"),
                *((name, name) for name in field_names),
            ]
        else:
            del self.fields["label_field"]

    def clean_title(self) -> str:
        """A title no other dataset the person can see has (letter case and spaces aside): two
        entries of one title in the catalogue cannot be told apart."""
        title = " ".join(self.cleaned_data["title"].split())
        if self.titles_taken is not None and self.titles_taken.filter(title__iexact=title).exists():
            raise forms.ValidationError(
                f"There is already a dataset called {title}: choose a title that tells them "
                "apart, such as one naming the council, the plan or the year"
            )
        return title

    def clean_keywords(self) -> list[str]:
        words = list(
            dict.fromkeys(word.strip() for word in self.cleaned_data["keywords"].split(","))
        )
        words = [word for word in words if word]
        if len(words) > KEYWORDS_MAX:
            raise forms.ValidationError(f"Enter {KEYWORDS_MAX} keywords or fewer")
        if any(len(word) > 100 for word in words):
            raise forms.ValidationError("Each keyword must be 100 characters or fewer")
        return words

    def _date(self, name: str, what: str, example: str) -> date | None:
        text = self.cleaned_data[name].strip()
        if not text:
            return None
        try:
            return date.fromisoformat(typed_value(text, "date"))
        except ValueError:
            raise forms.ValidationError(
                f"Enter {what} as a real date ({DATE_FORMATS}), for example {example}"
            ) from None

    def clean_reference_date(self) -> date | None:
        return self._date("reference_date", "the reference date", "2026-03-27")

    def clean_temporal_start(self) -> date | None:
        return self._date("temporal_start", "the start of the period", "2026-04-01")

    def clean_temporal_end(self) -> date | None:
        return self._date("temporal_end", "the end of the period", "2027-03-31")

    def clean(self) -> dict[str, Any]:
        """A period that ends no earlier than it starts."""
        cleaned = super().clean()
        start, end = cleaned.get("temporal_start"), cleaned.get("temporal_end")
        if start and end and end < start:
            self.add_error(
                "temporal_end",
                f"The end of the period must be the same as or after its start "
                f"({start.isoformat()})",
            )
        return cleaned

    def dataset_fields(self) -> dict[str, Any]:
        """What the form sets of the dataset (the owner is chosen apart)."""
        return {name: value for name, value in self.cleaned_data.items() if name != "owner"}


def _colour(label: str) -> forms.CharField:
    return forms.CharField(label=label, required=False, strip=True, validators=[colour_validator])


class StyleForm(forms.Form):
    """How the map draws a dataset: simple, categorised or graduated.

    Rows are offered as numbered groups of inputs (category-1-value, ...) with a few empty ones,
    so the form works without JavaScript; empty rows are ignored. The finished style is checked
    by ``style_parse``, the same check the map relies on.
    """

    kind = forms.ChoiceField(
        label="How to draw it",
        choices=KINDS,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how to draw the dataset"},
    )
    colour = _colour("Colour")
    categorised_field = forms.ChoiceField(label="Field", required=False)
    other_colour = _colour("Colour for any other value")
    other_label = forms.CharField(label="Label for any other value", required=False, max_length=80)
    graduated_field = forms.ChoiceField(label="Numeric field", required=False)
    # The saved style the form was filled in from (``style_digest``): another person's save in
    # the meantime is reported, not silently replaced. Not checked when absent.
    saved = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, field_types: dict[str, str], style: dict[str, Any], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.field_types = field_types
        self.saved_digest = style_digest(style)
        self.style: dict[str, Any] = {}
        self.fields["categorised_field"].choices = [("", "Choose a field")] + [
            (name, name) for name in field_types
        ]
        self.fields["graduated_field"].choices = [("", "Choose a field")] + [
            (name, name) for name, kind in field_types.items() if kind in NUMERIC_TYPES
        ]
        categories = style.get("categories", []) if style.get("kind") == "categorised" else []
        classes = style.get("classes", []) if style.get("kind") == "graduated" else []
        if not self.is_bound:
            self._set_initial(style, categories, classes)
        self.category_count = self._row_count("category", len(categories))
        self.class_count = self._row_count("class", len(classes))
        for index in range(self.category_count):
            number = index + 1
            self.fields[f"category-{index}-value"] = forms.CharField(
                label=f"Category {number} value", required=False, max_length=200
            )
            self.fields[f"category-{index}-colour"] = _colour(f"Category {number} colour")
            self.fields[f"category-{index}-label"] = forms.CharField(
                label=f"Category {number} label", required=False, max_length=80
            )
        for index in range(self.class_count):
            number = index + 1
            self.fields[f"class-{index}-minimum"] = forms.FloatField(
                label=f"Class {number} minimum",
                required=False,
                error_messages={"invalid": "Enter the minimum as a number, like 10 or 2.5"},
            )
            self.fields[f"class-{index}-colour"] = _colour(f"Class {number} colour")
            self.fields[f"class-{index}-label"] = forms.CharField(
                label=f"Class {number} label", required=False, max_length=80
            )

    def _set_initial(
        self, style: dict[str, Any], categories: list[dict], classes: list[dict]
    ) -> None:
        kind = style.get("kind", "simple")
        self.initial.update(kind=kind, colour=style.get("colour") or "")
        if kind == "categorised":
            self.initial.update(
                categorised_field=style.get("field", ""),
                other_colour=style.get("other_colour", ""),
                other_label=style.get("other_label", ""),
            )
        if kind == "graduated":
            self.initial["graduated_field"] = style.get("field", "")
        for index, category in enumerate(categories):
            for part in ("value", "colour", "label"):
                self.initial[f"category-{index}-{part}"] = category.get(part)
        for index, item in enumerate(classes):
            for part in ("minimum", "colour", "label"):
                self.initial[f"class-{index}-{part}"] = item.get(part)

    def _row_count(self, prefix: str, existing: int) -> int:
        limit = {"category": 30, "class": 12}[prefix]
        if self.is_bound:
            indexes = [
                int(match[2]) for key in self.data if (match := _ROW_KEY.match(key))
                if match[1] == prefix
            ]  # fmt: skip
            return min(max(max(indexes, default=-1) + 1, MIN_ROWS), limit)
        return min(max(existing + SPARE_ROWS, MIN_ROWS), limit)

    @property
    def category_rows(self) -> list["InputRow"]:
        return self._rows("category", self.category_count, ("value", "colour", "label"))

    @property
    def class_rows(self) -> list["InputRow"]:
        return self._rows("class", self.class_count, ("minimum", "colour", "label"))

    def _rows(self, prefix: str, count: int, parts: tuple[str, ...]) -> list["InputRow"]:
        return [
            InputRow(
                title=f"{prefix.capitalize()} {index + 1}",
                fields=[self[f"{prefix}-{index}-{part}"] for part in parts],
            )
            for index in range(count)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for prefix, plural, count in (
            ("category", "categories", self.category_count), ("class", "classes", self.class_count)
        ):  # fmt: skip
            if filled_past(self.data, _ROW_KEY, prefix, count):
                self.add_error(
                    None,
                    f"A style has at most {count} {plural}: the ones after {prefix} {count} "
                    "were not saved. Remove them, or merge some.",
                )
        if data.get("saved") and data["saved"] != self.saved_digest:
            self.add_error(
                None,
                "Someone else saved a different style for this dataset while you were editing "
                "it. See theirs on the dataset page; save this form again to replace it.",
            )
        kind = data.get("kind")
        if kind is None:
            return data
        if kind == "simple":
            candidate: dict[str, Any] = {"kind": "simple", "colour": data.get("colour") or None}
        elif kind == "categorised":
            candidate = self._categorised(data)
        else:
            candidate = self._graduated(data)
        self._check_contrast(kind, data)
        self._check_colours_distinct(kind, data)
        if self.errors:
            return data
        try:
            style = style_parse(candidate, fields=list(self.field_types))
        except StyleError as error:
            for problem in str(error).split("; "):
                self._add_style_problem(kind, problem)
            return data
        self.style = style.model_dump(mode="json", exclude_none=True)
        return data

    def _check_contrast(self, kind: str, data: dict) -> None:
        """Each colour entered for ``kind`` must stand out from the map's white background by
        3:1, as WCAG 2.2 AA asks of graphics (and the profile asks of its datasets' styles)."""
        prefix = {"simple": "colour", "categorised": "category-", "graduated": "class-"}[kind]
        names = [
            name for name in self.fields
            if name.startswith(prefix) and name.endswith("colour") and data.get(name)
        ]  # fmt: skip
        if kind == "categorised" and data.get("other_colour"):
            names.append("other_colour")
        for name in names:
            ratio = contrast_ratio(data[name], MAP_BACKGROUND)
            if ratio < MINIMUM_CONTRAST:
                self.add_error(
                    name,
                    f"{data[name]} is too pale to see on the map's white background (contrast "
                    f"{ratio:.2f}:1, at least {MINIMUM_CONTRAST}:1 needed): choose a darker "
                    "colour, like #1d70b8",
                )

    def _check_colours_distinct(self, kind: str, data: dict) -> None:
        """Two classes of one colour could not be told apart on the map or in its legend: the
        later one's colour input is given the error."""
        if kind == "simple":
            return
        prefix, count, noun = (
            ("category", self.category_count, "category") if kind == "categorised"
            else ("class", self.class_count, "class")
        )  # fmt: skip
        inputs = [
            (f"{prefix}-{index}-colour", f"{noun} {index + 1}")
            for index in range(count)
            if data.get(f"{prefix}-{index}-colour")
        ]
        if kind == "categorised":
            inputs.append(("other_colour", "any other value"))
        first_of: dict[str, str] = {}
        for name, naming in inputs:
            colour = (data.get(name) or NO_VALUE_COLOUR).lower()
            if colour in first_of and name not in self.errors:
                self.add_error(
                    name,
                    f"{colour} is already the colour of {first_of[colour]}: give each its own, "
                    "so that the map's legend can tell them apart",
                )
            first_of.setdefault(colour, naming)

    def _filled_rows(
        self, data: dict, prefix: str, parts: tuple[str, ...], count: int
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """The rows with anything entered, as (index, values); a part missing is an error."""
        for index in range(count):
            values = {part: data.get(f"{prefix}-{index}-{part}") for part in parts}
            if all(value in (None, "") for value in values.values()):
                continue
            for part, value in values.items():
                name = f"{prefix}-{index}-{part}"
                if value in (None, "") and name not in self.errors:
                    self.add_error(name, f"Enter the {part}, or clear the whole row")
            yield index, values

    def _categorised(self, data: dict) -> dict[str, Any]:
        field = data.get("categorised_field")
        if not field and "categorised_field" not in self.errors:
            self.add_error("categorised_field", "Choose the field whose values set the colour")
        field_type = self.field_types.get(field or "", "string")
        categories = []
        for index, values in self._filled_rows(
            data, "category", ("value", "colour", "label"), self.category_count
        ):
            value = values["value"]
            if field_type == "integer" and value:
                try:
                    value = int(value)
                except ValueError:
                    self.add_error(
                        f"category-{index}-value",
                        f"{field} holds whole numbers: enter one, like 3",
                    )
            categories.append({**values, "value": value})
        if not categories and not self.errors:
            self.add_error("category-0-value", "Enter at least one category")
        candidate = {"kind": "categorised", "field": field, "categories": categories}
        if data.get("other_colour"):
            candidate["other_colour"] = data["other_colour"]
        if data.get("other_label"):
            candidate["other_label"] = data["other_label"]
        return candidate

    def _graduated(self, data: dict) -> dict[str, Any]:
        field = data.get("graduated_field")
        if not field and "graduated_field" not in self.errors:
            self.add_error(
                "graduated_field", "Choose the numeric field whose value sets the colour"
            )
        classes = list(
            values
            for _, values in self._filled_rows(
                data, "class", ("minimum", "colour", "label"), self.class_count
            )
        )
        if len(classes) < 2 and not self.errors:
            self.add_error("class-0-minimum", "Enter at least two classes")
        return {"kind": "graduated", "field": field, "classes": classes}

    def _add_style_problem(self, kind: str, problem: str) -> None:
        """Put one of ``style_parse``'s problems on its input.

        Problems read "<location>: <message>", the location starting with the kind, e.g.
        "categorised.categories.0.colour: ..." or "graduated: Value error, classes must ...".
        """
        location, _, message = problem.partition(": ")
        parts = location.split(".")
        if parts[0] == kind:
            parts = parts[1:]
        prefix = "category" if kind == "categorised" else "class"
        first = "value" if kind == "categorised" else "minimum"
        if not parts or parts[0] in ("categories", "classes"):
            index = parts[1] if len(parts) > 1 else "0"
            name = f"{prefix}-{index}-{parts[2] if len(parts) > 2 else first}"
        elif parts[0] == "field":
            name = f"{kind}_field"
        else:
            name = parts[0]
        message = message.removeprefix("Value error, ")
        self.add_error(name if name in self.fields else None, message[:1].upper() + message[1:])


def rejection_threshold_field(help_text: str) -> forms.DecimalField:
    """The percentage of rows with problems above which a load is rejected (5 unless set)."""
    return forms.DecimalField(
        label="Rejection threshold (percent)",
        min_value=0,
        max_value=100,
        decimal_places=1,
        initial=DEFAULT_REJECTION_THRESHOLD,
        help_text=help_text,
        error_messages={
            "required": "Enter the rejection threshold, a percentage from 0 to 100",
            "invalid": "Enter the rejection threshold as a number from 0 to 100, like 5",
            "min_value": "The rejection threshold must be 0 or more",
            "max_value": "The rejection threshold must be 100 or less",
            "max_decimal_places": "Enter the rejection threshold with at most 1 decimal place",
        },
    )


def large_removal_field(help_text: str) -> forms.BooleanField:
    """Whether a load may remove more than half of the current features it replaces
    (``IngestMapping.allow_large_removal``)."""
    return forms.BooleanField(
        label="Allow it to remove more than half of the current features",
        required=False,
        help_text=help_text,
    )


UPLOAD_ACCEPT = ".geojson,.json,.gpkg,.zip,.fgb,.csv,.xlsx"


class UploadForm(forms.Form):
    """A file to load into a dataset as its next version, and how to read it."""

    file = forms.FileField(
        label="File",
        help_text="GeoJSON, GeoPackage, a zipped Shapefile (with its .prj), FlatGeobuf, or a CSV "
        "or XLSX table with coordinate columns (such as Easting and Northing, or latitude and "
        "longitude) or a WKT column, with the column names in row 1.",
        error_messages={
            "required": "Choose a file to upload",
            "empty": "The file is empty: choose a file with data in it",
        },
    )
    layer = forms.CharField(
        label="Layer name (optional)",
        required=False,
        max_length=200,
        help_text="For a file holding several: the GeoPackage layer, the workbook sheet (as its tab shows it) or the Shapefile in the zip to load.",
    )
    reference = forms.CharField(
        label="Reference column",
        max_length=200,
        help_text="The column that identifies each feature, the same in every load, such as "
        "reference or site_ref.",
        error_messages={"required": "Enter the name of the column holding each reference"},
    )
    organisation = forms.ChoiceField(
        label="Organisation",
        help_text="Whose features this file replaces: the dataset keeps other organisations' "
        "features as they are.",
        error_messages={"required": "Choose the organisation the file is from"},
    )
    renames = forms.CharField(
        label="Columns to rename (optional)",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For a file whose columns name the dataset's fields otherwise (a Shapefile "
        "cuts names to ten characters): one a line, the file's column, then =, then the field. "
        "For example: site-addre = site-address",
    )
    threshold = rejection_threshold_field(
        "Reject the whole file when more than this share of its rows have problems; "
        "otherwise rows with problems are left out and listed in the report (a feature the "
        "current version has keeps its current values)."
    )
    large_removal = large_removal_field(
        "Only for a file meant to replace most of what is there. Without it, a file that would "
        "remove more than half of the current features is rejected, in case it is the wrong one."
    )
    # The signed token of the file kept from the form's last try (``uploads.upload_keep``);
    # the page writes it from ``kept``.
    kept_file = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2_000)

    def __init__(
        self, *args: Any, organisations: list[tuple[str, str]], too_large: str = "",
        spatial: bool = True, kept: KeptUpload | None = None, kept_refused: str = "",
        **kwargs: Any,
    ) -> None:  # fmt: skip
        """``kept``: the file kept from the last try, loaded when no new file is chosen;
        ``kept_refused``: why the kept file the form named cannot be used."""
        super().__init__(*args, **kwargs)
        self.too_large = too_large
        self.kept = kept
        self.kept_refused = kept_refused
        if kept is not None:
            self.fields["file"].required = False
        if not spatial:
            self.fields["file"].help_text = (
                "A CSV or XLSX table with the column names in row 1, or a table in a GeoPackage. "
                "This dataset has no geometry: no coordinate columns are needed, and a file's "
                "geometry is not kept."
            )
        self.fields["organisation"].choices = organisations
        if len(organisations) == 1:
            self.fields["organisation"].initial = organisations[0][0]
        self.fields["file"].widget.attrs["accept"] = UPLOAD_ACCEPT

    def clean_renames(self) -> dict[str, str]:
        """The renames as {the file's column: the field}, each line's mistake named by its line."""
        renames: dict[str, str] = {}
        problems = []
        lines = self.cleaned_data["renames"].splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            column, equals, name = (part.strip() for part in line.partition("="))
            if not (equals and column and name):
                problems.append(
                    f"Line {number}: write the file's column, then =, then the field, "
                    "such as site-addre = site-address"
                )
            elif column in renames:
                problems.append(f"Line {number}: {column} is renamed twice")
            elif name in renames.values():
                problems.append(f"Line {number}: two columns are renamed to {name}")
            else:
                renames[column] = name
        if problems:
            raise forms.ValidationError(problems)
        return renames

    def full_clean(self) -> None:
        super().full_clean()
        # A file stopped at the size limit never reaches FILES: say why, not "required".
        if self.is_bound and self.too_large:
            self._errors["file"] = self.error_class([self.too_large])
            self.cleaned_data.pop("file", None)
        elif self.is_bound and self.kept_refused and not self.cleaned_data.get("file"):
            self._errors["file"] = self.error_class([self.kept_refused])


class AsOfForm(forms.Form):
    """The date a dataset page shows the dataset as published on (``?as_of=YYYY-MM-DD``), read
    as the map reads it (``as_of_parse``): today is the dataset as now, and a date to come is
    explained as the map explains it (the page then shows the dataset as now)."""

    as_of = forms.CharField(
        label="Show the dataset as published on",
        required=False,
        help_text="Year, month and day, for example 2026-03-27",
    )

    def clean_as_of(self) -> date | None:
        typed = self.cleaned_data["as_of"]
        try:
            day = as_of_parse(typed)
        except ValueError as problem:
            raise forms.ValidationError(str(problem)) from None
        if as_of_in_future(typed):
            raise forms.ValidationError(FUTURE_DATE)
        return day


class RollbackForm(forms.Form):
    """Which part of a dataset a rollback restores: offered only when there is a choice."""

    part = forms.ChoiceField(
        label="What to restore",
        widget=forms.RadioSelect,
        help_text="Parts not restored stay as they are now.",
        error_messages={"required": "Choose what to restore"},
    )

    def __init__(self, *args: Any, parts: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["part"].choices = parts
        self.only = parts[0][0] if len(parts) == 1 else None
        if self.only is not None:  # nothing to choose: the one part, asked or not
            self.fields["part"].required = False
            self.fields["part"].widget = forms.HiddenInput()

    def clean_part(self) -> str:
        return self.only or self.cleaned_data["part"]


class DiffChoiceForm(forms.Form):
    """Two published versions to compare, from the versions list."""

    old = forms.TypedChoiceField(
        label="Compare version", coerce=int, error_messages={"required": "Choose a version"}
    )
    new = forms.TypedChoiceField(
        label="with version", coerce=int, error_messages={"required": "Choose a version"}
    )

    def __init__(self, *args: Any, numbers: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(str(number), f"Version {number}") for number in numbers]
        self.fields["old"].choices = choices
        self.fields["new"].choices = choices
        if len(numbers) >= 2 and not self.is_bound:
            self.fields["new"].initial, self.fields["old"].initial = numbers[0], numbers[1]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("old") is not None and cleaned.get("old") == cleaned.get("new"):
            raise forms.ValidationError("Choose two different versions to compare")
        return cleaned


class WithdrawForm(forms.Form):
    """Why a dataset is withdrawn: kept with it, shown on its page to those who still see it,
    and in the audit log."""

    reason = forms.CharField(
        label="Reason for withdrawing it",
        max_length=WITHDRAWAL_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For example: published in error, or superseded by another dataset (say "
        f"which). Its data managers and admins see this on its page. Up to "
        f"{WITHDRAWAL_REASON_MAX:,} characters.",
        error_messages={
            "required": "Enter why you are withdrawing the dataset",
            "max_length": f"The reason must be {WITHDRAWAL_REASON_MAX:,} characters or fewer",
        },
    )


FIELD_TYPE_CHOICES = list(FIELD_TYPE_NAMES.items())


class FieldTypesForm(forms.Form):
    """The type and rules of each of a dataset's fields: a select, a "required" checkbox and a
    textarea of allowed values (one a line) per field, in a table, each beside a hidden input
    naming its field, so a post made against fields since changed (another manager, a first
    load) is refused rather than applied to the wrong field."""

    def __init__(self, *args: Any, schema: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = schema
        for index, entry in enumerate(schema):
            self.fields[f"name-{index}"] = forms.CharField(
                widget=forms.HiddenInput, required=False, initial=entry["name"]
            )
            self.fields[f"type-{index}"] = forms.ChoiceField(
                label=f"Type of {entry['name']}",
                choices=FIELD_TYPE_CHOICES,
                initial=entry.get("type", "string"),
                error_messages={"required": f"Choose the type of {entry['name']}",
                                "invalid_choice": "Choose one of the types listed"},
            )  # fmt: skip
            rules = FieldRules.of(entry)
            self.fields[f"required-{index}"] = forms.BooleanField(
                label=f"{entry['name']} needs a value", required=False, initial=rules.required
            )
            self.fields[f"allowed-{index}"] = forms.CharField(
                label=f"Allowed values of {entry['name']}",
                required=False,
                strip=False,
                widget=forms.Textarea(attrs={"rows": 3}),
                initial="\n".join(rules.allowed_written()),
            )

    @property
    def rows(self) -> list[tuple[dict[str, Any], forms.BoundField, ...]]:
        """(field's schema entry, its hidden name, its type select, its required checkbox, its
        allowed values) for each field."""
        return [
            (entry, *(self[f"{part}-{index}"] for part in ("name", "type", "required", "allowed")))
            for index, entry in enumerate(self.schema)
        ]

    def clean(self) -> dict[str, Any]:
        """``types``: the fields whose type is to change, by name, to their new type; ``rules``:
        each field's rules, by name, its allowed values as written, a line each."""
        data = super().clean()
        names = [data.get(f"name-{index}") for index in range(len(self.schema))]
        if names != [entry["name"] for entry in self.schema]:
            raise forms.ValidationError(
                "The dataset's fields changed while this page was open: check the types below "
                "and choose again"
            )
        data["types"] = {
            entry["name"]: data[f"type-{index}"]
            for index, entry in enumerate(self.schema)
            if f"type-{index}" in data and data[f"type-{index}"] != entry.get("type", "string")
        }
        data["rules"] = {
            entry["name"]: FieldRules(
                bool(data.get(f"required-{index}")),
                tuple(data.get(f"allowed-{index}", "").splitlines()),
            )
            for index, entry in enumerate(self.schema)
        }
        return data


class FieldAddForm(forms.Form):
    """A new field of a dataset: a column its features hold that its schema lacks, or one later
    loads will fill. Prefixed (``field-name``) apart from the details form's inputs."""

    name = forms.CharField(
        label="Field name",
        max_length=FIELD_NAME_MAX,
        help_text="As the file's column names it, letter for letter, such as Status.",
        error_messages={
            "required": "Enter the field's name, as the file's column names it",
            "max_length": f"The field's name must be {FIELD_NAME_MAX} characters or fewer",
        },
    )
    title = forms.CharField(
        label="Title (optional)",
        required=False,
        max_length=FIELD_NAME_MAX,
        help_text="How pages and downloads name it; its name when left empty.",
        error_messages={
            "max_length": f"The title must be {FIELD_NAME_MAX} characters or fewer",
        },
    )
    type = forms.ChoiceField(
        label="Type",
        choices=FIELD_TYPE_CHOICES,
        initial="string",
        error_messages={
            "required": "Choose the field's type",
            "invalid_choice": "Choose one of the types listed",
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, prefix="field", **kwargs)
