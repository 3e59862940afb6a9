"""The feature a link shows: ``feature=<dataset slug>/<id>`` in the map's URL, as a feature's
page links to it ("Show … on the map") and as the interactive map keeps the feature whose
pop-up is open (``frontend/src/js/map.mjs``). Without WebGL or JavaScript the page reads it
here, through the one gate, and the picture outlines it (``render.py``); the pages say which
feature it is in words, with a link to its details.

A feature of a dataset the user may not see is answered as one that does not exist, as the
pop-up's endpoint answers both with the same 404: the words never say which it was."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from infraplan.catalogue.models import Dataset
from infraplan.catalogue.sources import FeatureRecord

from .marker import marker_label_clean
from .selectors import (
    BadRequest,
    MapMoment,
    bbox_polygon,
    feature_label,
    live_feature,
    permitted_dataset,
)
from .viewport import Box

FEATURE = "feature"
# As the map's script reads it (SELECTED_FEATURE): a dataset's slug, a slash and the feature's
# number, which fits PostgreSQL's bigint.
_FEATURE = re.compile(r"([-a-zA-Z0-9_]+)/([1-9][0-9]{0,15})")
FEATURE_NOT_A_NAME = "feature: expected a dataset and a feature's number, like schools/123"


@dataclass(frozen=True)
class ShownFeature:
    """A feature a link names, as the user may see it at the moment shown."""

    dataset: Dataset
    record: FeatureRecord
    label: str

    @property
    def key(self) -> str:
        return f"{self.dataset.slug}/{self.record.id}"

    def query(self) -> dict[str, str]:
        """The URL parameter that keeps it shown."""
        return {FEATURE: self.key}

    def page_url(self, moment: MapMoment) -> str:
        """Its page of details, as of the moment shown."""
        page = reverse("map-feature-page", args=[self.dataset.slug, self.record.id])
        return page + moment.suffix()

    def legend_label(self) -> str:
        return f"Shown: {self.label} ({self.dataset.title})"

    def centre(self) -> tuple[float, float]:
        """A point on it (WGS84 longitude, latitude): where a map centred on it looks."""
        point = self.record.geometry.point_on_surface.transform(4326, clone=True)
        return point.x, point.y

    def within(self, bbox: Box) -> bool:
        """Whether any of it lies in the WGS84 box ``bbox``."""
        return self.record.geometry.intersects(bbox_polygon(bbox))


def parse_feature(user: Any, query: Mapping[str, str], moment: MapMoment) -> ShownFeature | None:
    """The feature ``feature`` names (None without one), if ``user`` may see its dataset and it
    is live at ``moment``; raises BadRequest, naming the parameter, for one that cannot be
    shown, with ``for_field`` saying the same to the reader of the page."""
    text = query.get(FEATURE)
    if not text:
        return None
    match = _FEATURE.fullmatch(text.strip())
    if match is None:
        said = marker_label_clean(text)
        raise BadRequest(
            FEATURE_NOT_A_NAME,
            for_field=f"This link names the feature to show as “{said}”, which is not the name "
            "of a feature (a dataset and a feature's number, like schools/123).",
        )
    slug, number = match[1], int(match[2])
    key = f"{slug}/{number}"
    dataset = permitted_dataset(user, slug)
    record = live_feature(dataset, number, moment) if dataset is not None else None
    if record is None:
        raise BadRequest(
            f"feature: there is no feature {key} to show: it may have been removed or have "
            "ended, it may not be published on the date shown, or you may not have access to it",
            for_field=f"The feature this link points to ({key}) cannot be shown: it may have "
            "been removed or have ended, it may not be published on the date shown, or you may "
            "not have access to it.",
        )
    label = feature_label(dataset, record)
    if record.geometry is None or record.geometry.empty:
        raise BadRequest(
            f"feature: {key} has no place on the map",
            for_field=f"The feature this link points to, {label} ({dataset.title}), has no "
            "place on the map.",
        )
    return ShownFeature(dataset=dataset, record=record, label=label)
