"""The dataset page's download section: a GET form (format, area and, when the page shows the
dataset as of a date, that date) to ``dataset-download``, which sends the browser on to the
download's own address, and a plain link for each format."""

from dataclasses import dataclass
from datetime import date

from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils.http import urlencode

from infraplan.catalogue.models import Dataset, GeometryType

from .base import Exporter
from .registry import exporters

ALL_OF_IT = ""  # the area choice for the whole dataset


class DownloadAreaForm(forms.Form):
    area = forms.ChoiceField(
        label="Area",
        required=False,
        help_text="The features placed in the area's districts, as their district column says.",
    )

    def __init__(self) -> None:
        super().__init__(initial={"area": ALL_OF_IT}, auto_id="download-%s")
        self.fields["area"].choices = [(ALL_OF_IT, "All of the dataset")] + [
            (area.code, f"{area.name} ({area.code})") for area in settings.AUTHORITY_PROFILE.areas
        ]


@dataclass(frozen=True)
class DownloadLink:
    exporter: Exporter
    url: str


@dataclass(frozen=True)
class DownloadOffer:
    form: DownloadAreaForm
    action: str
    formats: list[Exporter]
    links: list[DownloadLink]
    as_of: date | None


def download_offer(
    dataset: Dataset, *, as_of: date | None, version: int | None = None
) -> DownloadOffer:
    """The formats ``dataset`` can be downloaded in (a list without geometry: tables only), as
    a form and as plain links, as of ``as_of`` when the page shows that date, or of its
    published ``version`` (a version's page)."""
    spatial = dataset.geometry_type != GeometryType.NONE
    formats = [exporter for exporter in exporters() if spatial or not exporter.spatial_only]
    if version is not None:
        query = f"?{urlencode({'version': version})}"
    else:
        query = f"?{urlencode({'as_of': as_of.isoformat()})}" if as_of else ""
    return DownloadOffer(
        form=DownloadAreaForm(),
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
    )
