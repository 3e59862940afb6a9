"""The demo data: real open data for the configured area, described by data/demo.toml."""

import tomllib
from pathlib import Path
from typing import Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field

from infraplan.accounts.models import Organisation
from infraplan.accounts.services import organisations_sync_from_profile

from .loading import LoadOptions, dataset_load_file
from .models import AccessLevel, DatasetVersion, GeometryType, Theme, UpdateFrequency
from .services import dataset_save


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    type: Literal["string", "integer", "number", "boolean", "date"]
    title: str


class DemoDataset(BaseModel):
    model_config = ConfigDict(extra="forbid")
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
    file: str
    reference_field: str
    fields: list[FieldSpec]
    value_fixes: dict[str, dict[str, str]] = Field(default_factory=dict)


METADATA_FIELDS = {
    "title", "abstract", "theme", "access_level", "licence", "attribution", "lineage",
    "update_frequency", "geometry_type", "min_zoom",
}  # fmt: skip


class DemoManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    datasets: list[DemoDataset]


def demo_manifest(path: Path | None = None) -> DemoManifest:
    path = path or settings.DEMO_DATA_DIR / "demo.toml"
    return DemoManifest.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))


def demo_load(
    *, manifest_path: Path | None = None, only: set[str] | None = None
) -> list[DatasetVersion]:
    """Load the demo datasets (or ``only`` those slugs); idempotent: an unchanged file makes no
    new version."""
    organisations_sync_from_profile(actor=None)
    manifest_path = manifest_path or settings.DEMO_DATA_DIR / "demo.toml"
    versions = []
    for spec in demo_manifest(manifest_path).datasets:
        if only is not None and spec.slug not in only:
            continue
        dataset = dataset_save(
            actor=None,
            slug=spec.slug,
            owner=Organisation.objects.get(slug=spec.owner),
            field_schema=[field.model_dump() for field in spec.fields],
            **spec.model_dump(include=METADATA_FIELDS, mode="json"),
        )
        versions.append(
            dataset_load_file(
                actor=None,
                dataset=dataset,
                path=manifest_path.parent / spec.file,
                options=LoadOptions(spec.reference_field, spec.value_fixes),
            )
        )
    return versions
