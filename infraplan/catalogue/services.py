"""Writes to the catalogue: datasets, versions and their features.

A load happens in three steps so the dataset is never without a good version:
``version_start`` (a draft, committed on its own), ``version_add_features`` + ``version_publish``
(one transaction), or ``version_fail`` if anything went wrong (the draft's rows are removed, the
report kept, the previous version stays current).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from infraplan.accounts.models import Organisation
from infraplan.audit.services import audit_record, model_snapshot

from .generalise import dataset_generalise
from .models import Dataset, DatasetVersion, Feature, GeometryType, VersionState
from .partitions import partition_ensure, partition_name
from .store import live_at

DATASET_FIELDS = [
    "slug", "title", "abstract", "theme", "access_level", "licence", "attribution", "lineage",
    "update_frequency", "geometry_type", "field_schema", "min_zoom", "source_key", "owner_id",
    "style", "label_field", "keywords", "temporal_start", "temporal_end", "reference_date",
    "source_format",
]  # fmt: skip


@dataclass(frozen=True)
class FeatureRow:
    """One feature as a loader hands it over: geometry already in EPSG:27700 (or None)."""

    organisation: Organisation
    reference: str
    properties: dict[str, Any]
    geometry: Any  # GEOSGeometry with srid 27700, or None for a non-spatial dataset
    district: str = ""  # GSS codes of where it lies, when known
    ward: str = ""


def dataset_save(*, actor: Any, slug: str, owner: Organisation, **fields: Any) -> Dataset:
    """Create the dataset ``slug`` or update its metadata; audited either way.

    Returns the dataset; an unchanged dataset is not written or audited again.
    """
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().filter(slug=slug).first()
        if dataset is None:
            dataset = Dataset(slug=slug, owner=owner, **fields)
            dataset.full_clean()
            dataset.save()
            audit_record(
                actor=actor, action="dataset.create", target=dataset,
                after=model_snapshot(dataset, DATASET_FIELDS),
            )  # fmt: skip
            return dataset
        before = model_snapshot(dataset, DATASET_FIELDS)
        dataset.owner = owner
        for name, value in fields.items():
            setattr(dataset, name, value)
        after = model_snapshot(dataset, DATASET_FIELDS)
        if after != before:
            dataset.full_clean()
            dataset.save()
            audit_record(
                actor=actor, action="dataset.update", target=dataset, before=before, after=after
            )
        return dataset


def version_start(
    *,
    actor: Any,
    dataset: Dataset,
    source: str,
    source_checksum: str = "",
    organisation: Organisation | None = None,
) -> DatasetVersion:
    """Open a draft version numbered after every earlier one. Commits on its own.

    With ``organisation``, the load replaces only that organisation's features (a dataset such
    as the brownfield register has one publisher per council); without, the whole dataset.
    """
    with transaction.atomic():
        Dataset.objects.select_for_update().get(pk=dataset.pk)
        highest = dataset.versions.aggregate(highest=Max("number"))["highest"] or 0
        version = DatasetVersion.objects.create(
            dataset=dataset,
            number=highest + 1,
            source=source[:500],
            source_checksum=source_checksum,
            organisation=organisation,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_record(
            actor=actor, action="version.start", target=version,
            after={"source": source, "organisation": organisation.slug if organisation else None},
        )  # fmt: skip
    return version


def version_add_features(*, version: DatasetVersion, rows: Iterable[FeatureRow]) -> int:
    """Add features to a draft; returns how many. Call inside the publishing transaction."""
    if version.state != VersionState.DRAFT:
        raise ValueError(f"{version} is {version.state}, not a draft")
    partition_ensure(version.dataset_id)
    batch: list[Feature] = []
    scope = version.organisation_id
    added = 0
    for row in rows:
        if scope is not None and row.organisation.pk != scope:
            raise ValueError(
                f"{version} replaces only {version.organisation}'s features, "
                f"not {row.organisation}'s ({row.reference})"
            )
        batch.append(
            Feature(
                dataset_id=version.dataset_id,
                organisation=row.organisation,
                reference=row.reference,
                properties=row.properties,
                geom=row.geometry,
                district=row.district,
                ward=row.ward,
                valid_from=version.number,
            )
        )
        if len(batch) >= 1000:
            added += len(Feature.objects.bulk_create(batch))
            batch.clear()
    if batch:
        added += len(Feature.objects.bulk_create(batch))
    return added


# Publishing compares the draft with the live rows it replaces, joined on identity. Each side's
# ids and identities are first copied into a temporary table and analysed, so every join is
# planned on true row counts; the feature table's own statistics may be stale or missing
# (autovacuum off, or a load larger than the rest of the table), and on those the planner once
# ran the comparison as a nested loop reading the whole dataset again for each live row:
# quadratic, minutes for a 20,000-row reload. The feature table is then read only by one scan of
# each side and by primary key.
_STAGE_DRAFT = """
    CREATE TEMPORARY TABLE publish_draft ON COMMIT DROP AS
    SELECT id, organisation_id, reference FROM {feature}
    WHERE dataset_id = %(dataset)s AND valid_from = %(new)s
"""
_STAGE_LIVE = """
    CREATE TEMPORARY TABLE publish_live ON COMMIT DROP AS
    SELECT id, organisation_id, reference FROM {feature}
    WHERE dataset_id = %(dataset)s AND valid_to IS NULL AND valid_from <= %(old)s
      AND (%(organisation)s::bigint IS NULL OR organisation_id = %(organisation)s::bigint)
"""
# Each live row that has a draft row of its identity (one at most: identity is unique in a
# version), and whether the draft row is the same feature.
_STAGE_PAIRS = """
    CREATE TEMPORARY TABLE publish_pairs ON COMMIT DROP AS
    SELECT l.id AS old_id, n.id AS new_id,
           c.properties = d.properties AND c.district = d.district AND c.ward = d.ward
           AND ST_AsEWKB(c.geom) IS NOT DISTINCT FROM ST_AsEWKB(d.geom) AS unchanged
    FROM publish_live l
    JOIN publish_draft n ON n.organisation_id = l.organisation_id AND n.reference = l.reference
    JOIN {feature} c ON c.id = l.id
    JOIN {feature} d ON d.id = n.id
"""
_CLOSE_REPLACED = """
    UPDATE {feature} c SET valid_to = %(new)s
    FROM publish_live l
    WHERE c.id = l.id
      AND NOT EXISTS (SELECT 1 FROM publish_pairs p WHERE p.old_id = l.id AND p.unchanged)
"""
_DROP_UNCHANGED = """
    DELETE FROM {feature} d USING publish_pairs p WHERE d.id = p.new_id AND p.unchanged
"""
_COUNT_DRAFT_CHANGED = """
    SELECT (SELECT count(*) FROM publish_draft), count(*) FILTER (WHERE NOT unchanged)
    FROM publish_pairs
"""
# ON COMMIT DROP waits for the outermost transaction, which may publish again.
_UNSTAGE = "DROP TABLE publish_draft, publish_live, publish_pairs"


def _sql(template: str) -> str:
    return template.format(feature=Feature._meta.db_table)


def version_publish(*, actor: Any, version: DatasetVersion, note: str = "") -> DatasetVersion:
    """Make a draft the current version, keeping unchanged features' rows as they are.

    Rows of the old version that the draft replaces or drops are closed (``valid_to`` = new
    number); draft rows identical to a live row are discarded so history only grows by changes.
    Must run inside a transaction, with the draft's features added.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("version_publish must run inside a transaction")
    dataset = Dataset.objects.select_for_update().get(pk=version.dataset_id)
    version = DatasetVersion.objects.select_for_update().get(pk=version.pk)
    if version.state != VersionState.DRAFT:
        raise ValueError(f"{version} is {version.state}, not a draft")
    previous = dataset.versions.filter(is_current=True).first()
    params = {
        "dataset": dataset.pk,
        "new": version.number,
        "old": previous.number if previous else 0,
        "organisation": version.organisation_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(_sql(_STAGE_DRAFT), params)
        cursor.execute(_sql(_STAGE_LIVE), params)
        cursor.execute("ANALYZE publish_draft, publish_live")
        cursor.execute(_sql(_STAGE_PAIRS))
        cursor.execute("ANALYZE publish_pairs")
        cursor.execute(_sql(_CLOSE_REPLACED), params)
        closed = cursor.rowcount
        cursor.execute(_sql(_DROP_UNCHANGED))
        unchanged = cursor.rowcount
        cursor.execute(_COUNT_DRAFT_CHANGED)
        drafted, changed = cursor.fetchone()
        cursor.execute(_UNSTAGE)
    inserted = drafted - unchanged
    # Run after the commit, in a transaction of its own (ANALYZE holds its lock until commit);
    # robust: the publish has committed by then, and stale statistics only slow reads down.
    transaction.on_commit(
        lambda: _statistics_refresh(dataset_id=dataset.pk, written=drafted + closed), robust=True
    )
    if previous:
        previous.is_current = False
        previous.save(update_fields=["is_current"])
    version.state = VersionState.PUBLISHED
    version.is_current = True
    version.published_at = timezone.now()
    version.feature_count = Feature.objects.filter(live_at(version.number), dataset=dataset).count()
    version.report = {
        **version.report,
        "added": inserted - changed,
        "changed": changed,
        "removed": closed - changed,
        "unchanged": unchanged,
    }
    version.save()
    if dataset.geometry_type == GeometryType.POLYGON and (closed or inserted):
        dataset_generalise(dataset=dataset, version_number=version.number)
    audit_record(
        actor=actor,
        action="version.publish",
        target=version,
        before={"current": previous.number if previous else None},
        after={"current": version.number, **version.report},
        note=note,
    )
    return version


def _statistics_refresh(*, dataset_id: int, written: int) -> None:
    """Analyse the dataset's partition of the feature table when a publish has written more of
    it than autovacuum lets change before it analyses (its threshold and scale factor, 50 rows
    and a tenth by default).

    Every statement on the table is planned on these statistics; where autovacuum is off,
    nothing else refreshes them, and a table analysed empty looks empty to the planner forever.
    """
    table = partition_name(dataset_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples, current_setting('autovacuum_analyze_threshold')::integer,"
            " current_setting('autovacuum_analyze_scale_factor')::float8"
            " FROM pg_class WHERE oid = to_regclass(%s)",
            [table],
        )
        found = cursor.fetchone()
        if found is None:  # a dataset that has never had features has no partition
            return
        rows, threshold, scale_factor = found
        if rows < 0 or written > threshold + scale_factor * rows:  # reltuples -1: never analysed
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def version_fail(*, actor: Any, version: DatasetVersion, report: dict[str, Any]) -> DatasetVersion:
    """Mark a draft as failed and remove its rows; the current version is untouched."""
    with transaction.atomic():
        version = DatasetVersion.objects.select_for_update().get(pk=version.pk)
        if version.state != VersionState.DRAFT:
            raise ValueError(f"{version} is {version.state}, not a draft")
        Feature.objects.filter(dataset_id=version.dataset_id, valid_from=version.number).delete()
        version.state = VersionState.FAILED
        version.report = {**version.report, **report}
        version.save(update_fields=["state", "report"])
        audit_record(actor=actor, action="version.fail", target=version, after=report)
    return version


def version_rollback(*, actor: Any, dataset: Dataset, to: DatasetVersion) -> DatasetVersion:
    """Restore an earlier version's content as a new version; history is never rewritten."""
    if to.dataset_id != dataset.pk or to.state != VersionState.PUBLISHED:
        raise ValueError(f"{to} is not a published version of {dataset}")
    draft = version_start(actor=actor, dataset=dataset, source=f"rollback to version {to.number}")
    with transaction.atomic():
        draft.rolled_back_to = to
        draft.save(update_fields=["rolled_back_to"])
        partition_ensure(dataset.pk)
        feature = Feature._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {feature} (dataset_id, organisation_id, reference, properties, geom,
                                       district, ward, valid_from)
                SELECT dataset_id, organisation_id, reference, properties, geom, district, ward,
                       %(new)s
                FROM {feature}
                WHERE dataset_id = %(dataset)s AND valid_from <= %(to)s
                  AND (valid_to IS NULL OR valid_to > %(to)s)
                """,  # noqa: S608 (table name from model metadata, values bound)
                {"new": draft.number, "dataset": dataset.pk, "to": to.number},
            )
        return version_publish(actor=actor, version=draft, note=f"Rollback to version {to.number}")
