"""The demo data: real open data for the configured area, described by data/demo.toml.

Datasets load in the manifest's order; the boundary datasets named under ``[placement]`` come
first, so every later spatial dataset's features are placed in their districts and wards.
"""

import datetime
import logging
import re
import tomllib
from pathlib import Path
from typing import Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, model_validator

from infraplan.accounts.models import Organisation
from infraplan.accounts.services import organisations_sync_from_profile
from infraplan.connectors.national import national_sources_sync
from infraplan.sso.services import allowed_tenants_sync

from .loading import Join, LoadOptions, Placement, PointColumns, dataset_load_file
from .models import AccessLevel, Dataset, DatasetVersion, GeometryType, Theme, UpdateFrequency
from .placement import GSS_CODE
from .services import dataset_save
from .styles import StyleError, style_parse

logger = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldSpec(_Strict):
    name: str
    type: Literal["string", "integer", "number", "boolean", "date"]
    title: str


class PointsSpec(_Strict):
    x: str
    y: str
    crs: str = "EPSG:4326"


class JoinSpec(_Strict):
    file: str
    key: str
    on: str
    fields: dict[str, str] = Field(min_length=1)


class PlacementSpec(_Strict):
    districts: str
    wards: str


class DemoDataset(_Strict):
    slug: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str
    abstract: str
    theme: Theme
    owner: str
    access_level: AccessLevel
    licence: str
    attribution: str
    lineage: str
    update_frequency: UpdateFrequency
    geometry_type: GeometryType
    min_zoom: int = Field(ge=0, le=22)
    keywords: list[str] = Field(default_factory=list)
    temporal_start: datetime.date | None = None
    temporal_end: datetime.date | None = None
    reference_date: datetime.date | None = None
    source_format: str = ""
    style: dict = Field(default_factory=dict)
    label_field: str = ""
    file: str
    reference_field: str = ""
    reference_template: str = ""
    reference_fallback: str = ""
    fields: list[FieldSpec]
    value_fixes: dict[str, dict[str, str]] = Field(default_factory=dict)
    missing_geometry: Literal["fail", "report"] = "fail"
    points: PointsSpec | None = None
    join: JoinSpec | None = None
    district_field: str = ""
    district_codes: dict[str, str] = Field(
        default_factory=dict,
        description="The source's own codes for its districts (a register's planning authority, "
        "say), each with its ONS code, for placing by ``district_field``.",
    )
    place: bool = True
    parts_by_district: bool = Field(
        default=False,
        description="Each row is the part of the council whose district ``district_codes`` "
        "names, and those councils contribute to the dataset: each loads its own part after.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> "DemoDataset":
        if bool(self.reference_field) == bool(self.reference_template):
            raise ValueError("give exactly one of reference_field and reference_template")
        names = [spec.name for spec in self.fields]
        try:
            style_parse(self.style, fields=names)
        except StyleError as error:
            raise ValueError(f"style: {error}") from None
        for name in (self.label_field, self.district_field):
            if name and name not in names:
                raise ValueError(f"{name!r} is not one of the fields ({', '.join(names)})")
        if self.district_codes and not self.district_field:
            raise ValueError("district_codes needs the district_field whose values they map")
        if self.parts_by_district and not self.district_codes:
            raise ValueError("parts_by_district needs the district_codes naming each council")
        not_gss = [code for code in self.district_codes.values() if not re.match(GSS_CODE, code)]
        if not_gss:
            raise ValueError(f"district_codes: not ONS (GSS) codes: {', '.join(not_gss)}")
        return self


METADATA_FIELDS = {
    "title", "abstract", "theme", "access_level", "licence", "attribution", "lineage",
    "update_frequency", "geometry_type", "min_zoom", "keywords", "temporal_start", "temporal_end",
    "reference_date", "source_format", "style", "label_field",
}  # fmt: skip


class DemoManifest(_Strict):
    placement: PlacementSpec | None = None
    postcodes: str | None = Field(
        default=None, description="The postcode directory for search, relative to the manifest."
    )
    datasets: list[DemoDataset]


def demo_manifest(path: Path | None = None) -> DemoManifest:
    path = path or settings.DEMO_DATA_DIR / "demo.toml"
    return DemoManifest.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))


def load_options(
    spec: DemoDataset, *, folder: Path, placement: PlacementSpec | None
) -> LoadOptions:
    """The loader's options for one manifest entry (paths relative to the manifest's folder)."""
    join = spec.join
    # A list without geometry, or a boundary dataset itself, is placed by its own district
    # field alone, where it has one.
    by_geometry = spec.place and spec.geometry_type != GeometryType.NONE
    place = placement is not None and (by_geometry or bool(spec.district_field))
    return LoadOptions(
        parts_field=spec.district_field if spec.parts_by_district else "",
        parts=part_organisations(spec),
        reference_field=spec.reference_field,
        reference_template=spec.reference_template,
        reference_fallback=spec.reference_fallback,
        value_fixes=spec.value_fixes,
        missing_geometry=spec.missing_geometry,
        points=PointColumns(**spec.points.model_dump()) if spec.points else None,
        field_types={field.name: field.type for field in spec.fields},
        join=Join(folder / join.file, join.key, join.on, join.fields) if join else None,
        placement=Placement(
            placement.districts,
            placement.wards,
            spec.district_field,
            spec.district_codes,
            by_geometry,
        )
        if place
        else None,
    )


def part_organisations(spec: DemoDataset) -> dict[str, str]:
    """For a dataset in parts by district: each source code's council (its slug), from the
    profile's organisations and the areas they serve."""
    if not spec.parts_by_district:
        return {}
    council = {
        organisation.area: organisation.slug
        for organisation in settings.AUTHORITY_PROFILE.organisations
        if organisation.area and organisation.kind in ("district", "unitary")
    }
    return {value: council[code] for value, code in spec.district_codes.items() if code in council}


def demo_load(
    *, manifest_path: Path | None = None, only: set[str] | None = None
) -> list[DatasetVersion]:
    """Load the demo datasets (or ``only`` those slugs); idempotent: an unchanged file makes no
    new version. The full load also sets up the profile's national datasets, switched off.

    A dataset an admin has withdrawn is left as they left it, details and versions alike (a
    log line says so): loading the demo again neither restores it nor loads into it."""
    organisations_sync_from_profile(actor=None)
    allowed_tenants_sync(actor=None)
    if only is None:
        national_sources_sync(actor=None)  # set up switched off: nothing is fetched
    manifest_path = manifest_path or settings.DEMO_DATA_DIR / "demo.toml"
    manifest = demo_manifest(manifest_path)
    versions = []
    for spec in manifest.datasets:
        if only is not None and spec.slug not in only:
            continue
        if Dataset.objects.filter(slug=spec.slug, withdrawn_at__isnull=False).exists():
            logger.info("Demo dataset %s is withdrawn: left as it is, not loaded.", spec.slug)
            continue
        metadata = spec.model_dump(include=METADATA_FIELDS)
        dataset = dataset_save(
            actor=None,
            slug=spec.slug,
            owner=Organisation.objects.get(slug=spec.owner),
            field_schema=[field.model_dump() for field in spec.fields],
            **{
                **metadata,
                "theme": spec.theme.value,
                "access_level": spec.access_level.value,
                "update_frequency": spec.update_frequency.value,
                "geometry_type": spec.geometry_type.value,
            },
        )
        if spec.parts_by_district:
            councils = Organisation.objects.filter(slug__in=part_organisations(spec).values())
            dataset.contributing_organisations.add(*councils)
            # How a council's own register names its rows' council, for its uploads.
            part_codes = {"field": spec.district_field, "codes": part_organisations(spec)}
            if dataset.part_codes != part_codes:
                dataset.part_codes = part_codes
                dataset.save(update_fields=["part_codes"])
        versions.append(
            dataset_load_file(
                actor=None,
                dataset=dataset,
                path=manifest_path.parent / spec.file,
                options=load_options(
                    spec, folder=manifest_path.parent, placement=manifest.placement
                ),
            )
        )
    return versions
