"""The dataset page's download section: a GET form (format, area, a ward of the area's district,
whether to include ended features and, when the page shows the dataset as of a date, that date)
to ``dataset-download``, which sends the browser on to the download's own address, and a plain
link for each format.

The ward list does not change with the district chosen (no script filters it, so that it works
alike without one): it holds every ward, grouped by district, and a ward that is not in the area
chosen is an error the form shows (``download_choose.html``), with every choice kept. So is a
date the download would refuse (checked as the download checks it, ``download_as_of``)."""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.http import QueryDict
from django.urls import reverse
from django.utils.http import urlencode

from infraplan.catalogue.models import Dataset, GeometryType

from .areas import WardGroup, area_name, ward_find, ward_groups, ward_within
from .base import Exporter, ExportError
from .registry import exporters
from .selectors import download_as_of

ALL_OF_IT = ""  # the area choice for the whole dataset
NO_WARD = ""  # the ward choice for all of the area
# The form's own fields; any other parameter it was given is kept as it was.
FORM_FIELDS = ("format", "area", "ward", "as_of", "ended")


def _said(problem: ExportError, name: str) -> str:
    """A download's refusal of parameter ``name`` as the form says it, beside its field."""
    said = problem.message.removeprefix(f"{name}: ")
    return said[:1].upper() + said[1:]


class DownloadForm(forms.Form):
    """The choices of a download the form checks before sending the browser on: where its
    features lie (an area of the profile, and a ward, which must lie in that area; ``chosen_area``
    is what the download's ``area`` parameter is then given) and the date it is as published on.

    The date is the page's own (the dataset as of a date), carried hidden; shown as a field only
    when it is wrong, for it to be put right or cleared."""

    area = forms.ChoiceField(
        label="Area",
        required=False,
        help_text="The features placed in the area's districts, as their district column says.",
        error_messages={"invalid_choice": "Choose an area from the list"},
    )
    ward = forms.ChoiceField(
        label="Ward (optional)",
        required=False,
        help_text=(
            "The features placed in one ward, as their ward column says. Wards are listed by "
            "district: choose the ward's district, or all of the dataset, as the area."
        ),
        error_messages={"invalid_choice": "Choose a ward from the list"},
    )
    as_of = forms.CharField(
        label="As published on",
        required=False,
        help_text=(
            "Year, month and day, for example 2026-03-27: the dataset as published at the end "
            "of that day. Leave it empty for the dataset as it is now."
        ),
    )

    def __init__(
        self, data: QueryDict | None = None, *, dataset: Dataset, as_of: date | None = None,
        user: Any = None, wards: list[WardGroup],
    ) -> None:  # fmt: skip
        initial = {"area": ALL_OF_IT, "ward": NO_WARD, "as_of": as_of.isoformat() if as_of else ""}
        super().__init__(data, initial=initial, auto_id="download-%s")
        self.dataset = dataset
        self.user = user
        self.fields["area"].choices = [(ALL_OF_IT, "All of the dataset")] + [
            (area.code, f"{area.name} ({area.code})") for area in settings.AUTHORITY_PROFILE.areas
        ]
        self.fields["ward"].choices = [(NO_WARD, "All of the area")] + [
            (group.name, list(group.wards)) for group in wards
        ]

    def clean_as_of(self) -> date | None:
        try:
            return download_as_of(self.dataset, self.cleaned_data["as_of"])
        except ExportError as problem:
            raise forms.ValidationError(_said(problem, "as_of")) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        code, area_code = cleaned.get("ward"), cleaned.get("area")
        if not code or area_code is None:
            return cleaned
        ward = ward_find(code, self.user)
        if ward is None:  # gone since the page was made
            self.add_error("ward", "Choose a ward from the list")
            return cleaned
        if area_code == ALL_OF_IT:
            return cleaned
        try:
            within = ward_within(ward, area_code, self.user)
        except ExportError as problem:
            self.add_error("area", _said(problem, "area"))
            return cleaned
        if not within:
            named, area, district = ward.name or ward.code, area_name(area_code), ward.district_name
            self.add_error(
                "ward",
                f"{named} is a ward of {district}, not {area}: choose one of {area}'s wards, or "
                f"choose {district} as the area"
                if district
                else f"{named} is not in {area}: choose one of {area}'s wards, or choose all of "
                "the dataset as the area",
            )
        return cleaned

    @property
    def chosen_area(self) -> str:
        """The area the download is of: the ward when one is chosen, else the area."""
        return self.cleaned_data.get("ward") or self.cleaned_data.get("area") or ""


@dataclass(frozen=True)
class DownloadLink:
    exporter: Exporter
    url: str


@dataclass(frozen=True)
class DownloadOffer:
    form: DownloadForm
    action: str
    formats: list[Exporter]
    links: list[DownloadLink]
    as_of: date | None
    format: str = ""  # the format chosen (the first when none is)
    ended: bool = False  # "Include features that have ended" ticked
    # Parameters the form was sent with that are none of its own (attribute filters, in an
    # address made by hand), carried as they are.
    kept: list[tuple[str, str]] = field(default_factory=list)
    ward_groups: list[WardGroup] = field(default_factory=list)


def download_offer(
    dataset: Dataset, *, as_of: date | None, version: int | None = None, user: Any = None,
    chosen: QueryDict | None = None,
) -> DownloadOffer:  # fmt: skip
    """The formats ``dataset`` can be downloaded in (a list without geometry: tables only), as
    a form and as plain links, as of ``as_of`` when the page shows that date, or of its
    published ``version`` (a version's page).

    ``user``: the person the form is for, who may choose a ward of the ward boundaries they
    may see (None: no wards are offered, for an offer of links alone). ``chosen``: the choices
    the form was sent with, shown again with what is wrong with them."""
    spatial = dataset.geometry_type != GeometryType.NONE
    formats = [exporter for exporter in exporters() if spatial or not exporter.spatial_only]
    if version is not None:
        query = f"?{urlencode({'version': version})}"
    else:
        query = f"?{urlencode({'as_of': as_of.isoformat()})}" if as_of else ""
    # A list without geometry is placed in districts only, never in a ward.
    groups = ward_groups(user) if user is not None and spatial else []
    form = DownloadForm(chosen, dataset=dataset, as_of=as_of, user=user, wards=groups)
    kept: list[tuple[str, str]] = []
    if chosen is not None:
        form.is_valid()
        kept = [
            (name, value)
            for name, values in chosen.lists()
            if name not in FORM_FIELDS
            for value in values
        ]
    keys = [exporter.key for exporter in formats]
    asked = chosen.get("format", "") if chosen is not None else ""
    return DownloadOffer(
        form=form,
        action=reverse("dataset-download", kwargs={"slug": dataset.slug}),
        formats=formats,
        links=[
            DownloadLink(
                exporter,
                reverse(f"dataset-download-{exporter.key}", kwargs={"slug": dataset.slug}) + query,
            )
            for exporter in formats
        ],
        as_of=as_of,
        format=asked if asked in keys else keys[0],
        ended=chosen is not None and chosen.get("ended") == "show",
        kept=kept,
        ward_groups=groups,
    )
