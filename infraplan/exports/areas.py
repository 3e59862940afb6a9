"""The areas a download's features can be chosen by (``area=<ONS code>``): the authority
profile's areas (its county, districts and groups of districts), and the wards of the ward
boundaries, the dataset the platform places features in wards by (``catalogue.placement``;
``maps.selectors.WARDS``).

Every boundary is read through the one gate, as the download's own dataset is, unless the
platform itself asks (the command line, which reads every dataset). A ward the person may not
see is no ward at all to them: its code is refused as an unknown one is.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models.fields.json import KT

from infraplan.catalogue.access import Action
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.sources import FeatureRecord
from infraplan.catalogue.store import current_features
from infraplan.core.profile import Area
from infraplan.maps.selectors import WARDS
from infraplan.maps.styling import label_field_of

from .base import ExportError

# Areas that are districts themselves; the features of a list without geometry are chosen by
# the district they were placed in.
DISTRICT_KINDS = ("district", "unitary")
SAVED_AREA_PREFIX = "aoi-"


@dataclass(frozen=True)
class Outline:
    """An area's boundary: the dataset it is a feature of, and the feature (EPSG:27700)."""

    dataset: Dataset
    record: FeatureRecord


@dataclass(frozen=True)
class Ward:
    """A ward of the ward boundaries, as the platform placed features in it."""

    code: str  # its ONS (GSS) code, the boundary's reference
    name: str  # "" when the boundaries name none
    district: str  # the ONS code of its district, as the boundary's district column says
    outline: Outline

    @property
    def district_name(self) -> str:
        """The name of its district, as the profile names it ("" for a district not there)."""
        return area_name(self.district)

    @property
    def described(self) -> str:
        """The ward as a download's metadata names it: "<name> (<code>), a ward of <district>"."""
        named = f"{self.name} ({self.code})" if self.name else self.code
        district = self.district_name
        return f"{named}, a ward of {district}" if district else named


@dataclass(frozen=True)
class Chosen:
    """The area a download's features are chosen by: a profile's area or a ward."""

    code: str
    described: str  # as the download's metadata names it
    districts: tuple[str, ...] | None  # in one of these districts (None: not chosen so)
    wards: tuple[str, ...] | None  # in one of these wards (None: not chosen so)
    # The area's boundary: what a map of the features shows, and what holds a feature the
    # platform has not placed (None for a list without geometry).
    outline: Outline | None
    # The datasets whose boundaries chose the features: read too (private and audited if
    # restricted).
    boundaries: tuple[Dataset, ...]


def area_name(code: str) -> str:
    """The profile's name of the area ``code``; "" when it is none of its areas."""
    return next((area.name for area in settings.AUTHORITY_PROFILE.areas if area.code == code), "")


def _profile_area(code: str) -> Area | None:
    return next(
        (area for area in settings.AUTHORITY_PROFILE.areas if area.code == code.upper()), None
    )


def _wards_dataset(user: Any, *, platform: bool) -> Dataset | None:
    """The ward boundaries, if ``user`` may see them (``platform``: whoever may)."""
    if platform:
        return Dataset.objects.filter(slug=WARDS).first()
    return Dataset.objects.permitted_get(user, WARDS, Action.VIEW)


def ward_find(code: str, user: Any, *, platform: bool = False) -> Ward | None:
    """The ward ``code`` of the current ward boundaries; None when there is none, or ``user``
    may not see them."""
    wards = _wards_dataset(user, platform=platform)
    if wards is None:
        return None
    feature = current_features(wards).filter(reference=code.upper(), geom__isnull=False).first()
    if feature is None:
        return None
    label = label_field_of(wards)
    record = FeatureRecord(
        id=feature.pk, reference=feature.reference, properties=feature.properties,
        geometry=feature.geom, district=feature.district,
    )  # fmt: skip
    return Ward(
        code=feature.reference,
        name=str(feature.properties.get(label) or "").strip() if label else "",
        district=feature.district,
        outline=Outline(wards, record),
    )


@dataclass(frozen=True)
class WardGroup:
    """The wards of one district, as the download form lists them."""

    district: str  # its ONS code ("" for wards the boundaries place in no district)
    name: str  # the district's name, else its code, else "Other wards"
    wards: tuple[tuple[str, str], ...]  # (code, "<name> (<code>)"), by name


def ward_groups(user: Any) -> list[WardGroup]:
    """The wards ``user`` may choose a download by, grouped by district: the profile's districts
    in its order, then any others by code. Empty when there are no ward boundaries they may see."""
    wards = _wards_dataset(user, platform=False)
    if wards is None:
        return []
    label = label_field_of(wards)
    rows = current_features(wards).filter(geom__isnull=False)
    rows = rows.annotate(name=KT(f"properties__{label}")) if label else rows
    by_district: dict[str, list[tuple[str, str]]] = {}
    for reference, district, name in rows.values_list(
        "reference", "district", "name" if label else "reference"
    ):
        shown = f"{name.strip()} ({reference})" if label and name and name.strip() else reference
        by_district.setdefault(district, []).append((reference, shown))
    order = [area.code for area in settings.AUTHORITY_PROFILE.areas]

    def rank(code: str) -> tuple[int, int, str]:
        return (0, order.index(code), "") if code in order else (1, 0, code)

    groups = []
    for district in sorted(by_district, key=rank):
        members = tuple(sorted(by_district[district], key=lambda ward: (ward[1].lower(), ward[0])))
        name = area_name(district) or district or "Other wards"
        groups.append(WardGroup(district, name, members))
    return groups


def area_find(code: str, user: Any = None, *, platform: bool = False) -> Area | Ward:
    """The profile's area ``code``, else the ward ``code``; ExportError saying which codes there
    are otherwise."""
    if code.lower().startswith(SAVED_AREA_PREFIX):
        raise ExportError(
            f"area: {code!r} names a saved area of interest, and saved areas cannot be "
            "downloaded yet; use the code of one of this service's areas, such as "
            f"{_area_example()}, or a bbox"
        )
    area = _profile_area(code)
    if area is not None:
        return area
    ward = ward_find(code, user, platform=platform)
    if ward is not None:
        return ward
    known = ", ".join(f"{area.code} ({area.name})" for area in settings.AUTHORITY_PROFILE.areas)
    wards = _wards_dataset(user, platform=platform)
    also = (
        f"; or give the ONS code of one of the wards of {wards.title} (the dataset page's "
        "download form lists them)"
        if wards is not None
        else ""
    )
    raise ExportError(
        f"area: {code!r} is not an area of this service; its areas are: {known}{also}"
    )


def _area_example() -> str:
    districts = [a for a in settings.AUTHORITY_PROFILE.areas if a.kind in DISTRICT_KINDS]
    return (districts or settings.AUTHORITY_PROFILE.areas)[0].code


def _boundary(area: Area, user: Any, *, platform: bool) -> Outline | None:
    """The current boundary of ``area``, read through the gate unless ``platform``; None when it
    is not loaded or not visible."""
    slug = area.boundary.dataset
    if platform:
        dataset = Dataset.objects.filter(slug=slug).first()
    else:
        dataset = Dataset.objects.permitted_get(user, slug, Action.VIEW)
    if dataset is None:
        return None
    rows = current_features(dataset).filter(reference=area.boundary.reference, geom__isnull=False)
    feature = rows.first()
    if feature is None:
        return None
    record = FeatureRecord(
        id=feature.pk, reference=feature.reference, properties=feature.properties,
        geometry=feature.geom,
    )  # fmt: skip
    return Outline(dataset, record)


def area_boundary(area: Area, user: Any, *, platform: bool = False) -> Outline:
    boundary = _boundary(area, user, platform=platform)
    if boundary is None:
        raise ExportError(
            f"area: the boundary of {area.name} ({area.code}) is not available on the platform, "
            "so features cannot be chosen by it; use a bbox instead"
        )
    return boundary


def area_districts(area: Area, user: Any, *, platform: bool = False) -> tuple[str, ...]:
    """The districts (GSS codes) that make up ``area``: itself if it is one, else those whose
    boundary's inner point lies within it. Features are chosen by the districts they were
    placed in (``Selection``)."""
    if area.kind in DISTRICT_KINDS:
        return (area.code,)
    outline = area_boundary(area, user, platform=platform).record.geometry
    codes = []
    for other in settings.AUTHORITY_PROFILE.areas:
        if other.kind not in DISTRICT_KINDS:
            continue
        boundary = _boundary(other, user, platform=platform)
        if boundary is not None and outline.contains(boundary.record.geometry.point_on_surface):
            codes.append(other.code)
    return tuple(codes)


def _boundary_datasets(area: Area) -> tuple[Dataset, ...]:
    """The datasets holding the boundaries that choose an area's features: its own, and for an
    area made of districts, theirs."""
    slugs = {area.boundary.dataset}
    if area.kind not in DISTRICT_KINDS:
        slugs |= {
            other.boundary.dataset
            for other in settings.AUTHORITY_PROFILE.areas
            if other.kind in DISTRICT_KINDS
        }
    return tuple(Dataset.objects.filter(slug__in=slugs).order_by("slug"))


def area_choose(code: str, user: Any, *, spatial: bool, platform: bool = False) -> Chosen:
    """The area ``code`` (a profile's area or a ward) that chooses a download's features, as
    ``user`` may read it: ExportError when there is no such area, or its boundary cannot be
    read. ``spatial``: the dataset has geometry, and the area's boundary is read for it."""
    area = area_find(code, user, platform=platform)
    if isinstance(area, Ward):
        return Chosen(
            code=area.code,
            described=area.described,
            districts=None,
            wards=(area.code,),
            outline=area.outline if spatial else None,
            boundaries=(area.outline.dataset,),
        )
    return Chosen(
        code=area.code,
        described=f"{area.name} ({area.code})",
        districts=area_districts(area, user, platform=platform),
        wards=None,
        outline=area_boundary(area, user, platform=platform) if spatial else None,
        boundaries=_boundary_datasets(area),
    )


def ward_within(ward: Ward, area_code: str, user: Any) -> bool:
    """Whether ``ward`` lies in the profile's area ``area_code``: its district is one of the
    area's (ExportError when the area's boundary cannot be read)."""
    area = _profile_area(area_code)
    return area is not None and ward.district in area_districts(area, user)
