"""Small datasets for tests, made through the same services as real loads."""

from typing import Any

from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction

from infraplan.accounts.models import Organisation
from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.models import Dataset, DatasetVersion
from infraplan.catalogue.services import (
    FeatureRow,
    dataset_save,
    version_add_features,
    version_publish,
    version_start,
)

# Points in Ashford (EPSG:27700): the council offices area and the international station.
ASHFORD_POINTS = {"civic-centre": (601300, 142700), "station": (601650, 142180)}


def dataset_make(
    *, slug: str, owner: Organisation, access_level: str = "public", geometry_type: str = "point",
    **fields: Any,
) -> Dataset:  # fmt: skip
    defaults = {
        "title": slug.replace("-", " ").capitalize(),
        "abstract": f"Test dataset {slug}.",
        "theme": "community",
        "licence": "Open Government Licence v3.0",
        "attribution": f"Test attribution for {slug}",
        "lineage": "Made by the test suite.",
        "geometry_type": geometry_type,
    }
    return dataset_save(
        actor=None, slug=slug, owner=owner, access_level=access_level, **{**defaults, **fields}
    )


def version_publish_points(
    *, dataset: Dataset, points: dict[str, tuple[float, float]], actor: Any = None,
    properties: dict[str, dict] | None = None,
) -> DatasetVersion:  # fmt: skip
    """Publish a version holding exactly ``points`` (reference -> BNG easting, northing)."""
    version = version_start(actor=actor, dataset=dataset, source="test")
    rows = [
        FeatureRow(
            organisation=dataset.owner,
            reference=reference,
            properties={"name": reference, **(properties or {}).get(reference, {})},
            geometry=GEOSGeometry(f"POINT({x} {y})", srid=27700),
        )
        for reference, (x, y) in points.items()
    ]
    with transaction.atomic():
        version_add_features(version=version, rows=rows)
        return version_publish(actor=actor, version=version)


def demo_dataset_load(slug: str) -> Dataset:
    """Load one dataset of the demo manifest, from the repository's data folder."""
    (version,) = demo_load(only={slug})
    return version.dataset
