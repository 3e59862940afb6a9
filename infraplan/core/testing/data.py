"""Small datasets for tests, made through the same services as real loads."""

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from django.utils import timezone

from infraplan.accounts.models import Organisation
from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.models import Dataset, DatasetVersion
from infraplan.catalogue.publishing import (
    FeatureRow,
    version_add_features,
    version_publish,
    version_start,
)
from infraplan.catalogue.services import dataset_save
from infraplan.places.services import PostcodeLoadResult, postcodes_load

POSTCODE_DIRECTORY = (
    Path(__file__).resolve().parents[3]
    / "data"
    / "kent_postcodes_onspd"
    / "kent_medway_postcodes_onspd.csv"
)
POSTCODE_HEADER = "pcd,laua,oseast1m,osnrth1m,lat_wgs84,long_wgs84"
# Real postcodes: the cathedral precincts in Canterbury, a street in Sittingbourne (a 4-character
# outward code, written without a space in ONSPD) and two more in CT1.
POSTCODE_SAMPLE = ("CT1 2EH", "CT1 2EJ", "CT1 1AA", "ME101AA")

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
    properties: dict[str, dict] | None = None, organisation: Organisation | None = None,
) -> DatasetVersion:  # fmt: skip
    """Publish a version holding exactly ``points`` (reference -> BNG easting, northing); with
    ``organisation``, exactly that organisation's part of the dataset."""
    version = version_start(actor=actor, dataset=dataset, source="test", organisation=organisation)
    rows = [
        FeatureRow(
            organisation=organisation or dataset.owner,
            reference=reference,
            properties={"name": reference, **(properties or {}).get(reference, {})},
            geometry=GEOSGeometry(f"POINT({x} {y})", srid=27700),
        )
        for reference, (x, y) in points.items()
    ]
    with transaction.atomic():
        version_add_features(version=version, rows=rows)
        return version_publish(actor=actor, version=version)


# Two councils' parts of one dataset: A's S1 and S2, and B's S1 (the same reference as A's).
SHARED_POINTS = {
    "org-a": {"S1": (615000, 157500), "S2": (615100, 157600)},
    "org-b": {"S1": (631800, 141500)},
}


def shared_sites_make(owner: Organisation, contributor: Organisation) -> Dataset:
    """Sites that ``owner`` (slug org-a) owns and ``contributor`` (org-b) contributes to, each
    council's part of SHARED_POINTS loaded by itself."""
    sites = dataset_make(
        slug="sites", owner=owner,
        field_schema=[{"name": "name", "type": "string", "title": "Name"}],
    )  # fmt: skip
    sites.contributing_organisations.add(contributor)
    for organisation in (owner, contributor):
        version_publish_points(
            dataset=sites, points=SHARED_POINTS[organisation.slug], organisation=organisation
        )
    return sites


def demo_dataset_load(slug: str) -> Dataset:
    """Load one dataset of the demo manifest, from the repository's data folder."""
    (version,) = demo_load(only={slug})
    return version.dataset


def postcode_rows(*postcodes: str) -> list[str]:
    """The ONSPD lines of ``postcodes`` (in the directory's 7-character form) from the real file."""
    wanted = set(postcodes)
    with POSTCODE_DIRECTORY.open(encoding="utf-8") as source:
        rows = [line.rstrip("\n") for line in source if line.split(",", 1)[0] in wanted]
    if len(rows) != len(wanted):
        missing = wanted - {row.split(",", 1)[0] for row in rows}
        raise ValueError(f"not in the postcode directory: {', '.join(sorted(missing))}")
    return rows


def postcodes_write(path: Path, rows: list[str], header: str = POSTCODE_HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def postcodes_load_sample(postcodes: tuple[str, ...] = POSTCODE_SAMPLE) -> PostcodeLoadResult:
    """Load just ``postcodes``, as real rows of the directory, through the real loader."""
    with tempfile.TemporaryDirectory() as folder:
        path = postcodes_write(Path(folder) / "postcodes.csv", postcode_rows(*postcodes))
        return postcodes_load(path=path)


def published_days_ago(version: DatasetVersion, days: int) -> None:
    """Date a published version's publishing ``days`` before now (the history by date)."""
    version.published_at = timezone.now() - timedelta(days=days)
    version.save(update_fields=["published_at"])


def days_ago(days: int) -> str:
    """The date ``days`` before today, as ``as_of`` takes it."""
    return (timezone.localdate() - timedelta(days=days)).isoformat()
