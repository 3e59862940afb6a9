"""National designations from planning.data.gov.uk, set up switched off and switched on by a
platform admin.

The authority profile's ``[national]`` section lists them. ``national_sources_sync`` makes each
one's dataset (empty) and its ``planning_data`` source, disabled, without touching the network:
a deployment may have none. ``national_source_enable`` switches one on: a weekly refresh and a
first load asked for at once; ``national_source_disable`` switches it off again. Every write goes
through the catalogue's and the connectors' services, so each is audited.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from infraplan.accounts.models import Organisation
from infraplan.catalogue.ingest import IngestMapping
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.services import dataset_save
from infraplan.core.profile import NationalDataset

from .load_requests import ingest_request
from .models import IngestRun, Source
from .sources import source_save

CONNECTOR = "planning_data"
SCHEDULE = "weekly"
# Each entity's number is unique across the platform; publishers' references are not (two
# councils may both have a conservation area "CA1"). Asked for the entities meeting a box around
# the platform's areas, a source also answers with those of its neighbours (the box takes in
# parts of other counties): those are left out, not counted as problems.
MAPPING = IngestMapping(reference="entity", max_invalid_share=0.02, outside_areas_left_out=True)


@dataclass
class NationalEntry:
    """A national dataset as the platform admin's page shows it."""

    spec: NationalDataset
    dataset: Dataset | None
    source: Source | None

    @property
    def enabled(self) -> bool:
        return bool(self.source and self.source.enabled)


def national_datasets() -> list[NationalDataset]:
    national = settings.AUTHORITY_PROFILE.national
    return list(national.datasets) if national else []


def national_spec(slug: str) -> NationalDataset | None:
    return next((spec for spec in national_datasets() if spec.slug == slug), None)


def national_area_wkt() -> str:
    """The map's bounds from the profile as a WKT polygon (WGS84)."""
    west, south, east, north = settings.AUTHORITY_PROFILE.map.bounds
    return f"POLYGON(({west} {south},{east} {south},{east} {north},{west} {north},{west} {south}))"


def national_config(spec: NationalDataset) -> dict[str, Any]:
    """The planning_data connector's configuration for ``spec``: one publisher's part, or the
    entities meeting the map's bounds."""
    config: dict[str, Any] = {
        "dataset": spec.dataset,
        "service": settings.AUTHORITY_PROFILE.national.service,
    }
    if spec.organisation_entity:
        config["organisation_entity"] = spec.organisation_entity
    else:
        config["geometry"] = national_area_wkt()
    return config


def _dataset_fields(spec: NationalDataset) -> dict[str, Any]:
    return {
        "title": spec.title,
        "abstract": spec.abstract,
        "theme": spec.theme,
        "access_level": "public",
        "licence": spec.licence,
        "attribution": spec.attribution,
        "lineage": (
            f"The {spec.dataset} dataset of planning.data.gov.uk (MHCLG's planning data "
            "platform), read through its entity search"
            + (
                f", organisation entity {spec.organisation_entity}."
                if spec.organisation_entity
                else ", limited to the entities meeting the service's map area."
            )
        ),
        "update_frequency": "weekly",
        "geometry_type": spec.geometry_type,
        "field_schema": spec.field_schema,
        "min_zoom": spec.min_zoom,
        "keywords": list(spec.keywords),
        "source_format": "GeoJSON",
        "style": spec.style,
        "label_field": "name",
    }


def national_sources_sync(*, actor: Any = None) -> list[Source]:
    """Create or update the national datasets and their sources from the profile; idempotent.

    New sources are disabled. An existing source keeps whether it is switched on and its
    schedule (a platform admin's choice); its configuration and mapping follow the profile.
    Nothing is fetched. Run after ``organisations_sync_from_profile`` (the owner must exist).
    """
    national = settings.AUTHORITY_PROFILE.national
    if national is None:
        return []
    owner = Organisation.objects.filter(slug=national.owner).first()
    if owner is None:
        raise ImproperlyConfigured(
            f"national.owner {national.owner!r} has no organisation yet: sync the profile's "
            "organisations first."
        )
    sources = []
    for spec in national.datasets:
        with transaction.atomic():
            dataset = dataset_save(
                actor=actor, slug=spec.slug, owner=owner, **_dataset_fields(spec)
            )
            source = Source.objects.filter(dataset=dataset, organisation=None).first()
            sources.append(
                source_save(
                    actor=actor, dataset=dataset, connector_key=CONNECTOR,
                    config=national_config(spec), mapping=MAPPING,
                    schedule=source.schedule if source else "",
                    enabled=source.enabled if source else False,
                    source=source, addresses_checked=False,
                )
            )  # fmt: skip
    return sources


def national_entries() -> list[NationalEntry]:
    """Every national dataset in the profile with its dataset and source, if synced."""
    specs = national_datasets()
    datasets = Dataset.objects.in_bulk([spec.slug for spec in specs], field_name="slug")
    sources = {
        source.dataset_id: source
        for source in Source.objects.filter(
            dataset__in=datasets.values(), organisation=None
        ).select_related("last_run")
    }
    entries = []
    for spec in specs:
        dataset = datasets.get(spec.slug)
        entries.append(NationalEntry(spec, dataset, sources.get(dataset.pk) if dataset else None))
    return entries


def national_source_enable(*, actor: Any, source: Source) -> IngestRun | None:
    """Switch a national source on: refreshed weekly, and a first load asked for now (unless
    one is already waiting or running). Returns that run."""
    with transaction.atomic():
        source = source_save(
            actor=actor, dataset=source.dataset, connector_key=source.connector_key,
            config=source.config, mapping=source.mapping, schedule=SCHEDULE, enabled=True,
            source=source,
        )  # fmt: skip
        if source.runs.filter(state__in=IngestRun.ACTIVE).exists():
            return None
        return ingest_request(
            actor=actor, dataset=source.dataset, connector_key=source.connector_key,
            config=source.config, mapping=source.mapping, source=source,
        )  # fmt: skip


def national_source_disable(*, actor: Any, source: Source) -> Source:
    """Switch a national source off: no more scheduled loads; what was loaded stays published."""
    return source_save(
        actor=actor, dataset=source.dataset, connector_key=source.connector_key,
        config=source.config, mapping=source.mapping, schedule="", enabled=False, source=source,
    )  # fmt: skip
