"""Writes to the catalogue's versions and their features.

A load happens in three steps so the dataset is never without a good version:
``version_start`` (a draft, committed on its own), ``version_add_features`` + ``version_publish``
(one transaction), or ``version_fail`` if anything went wrong (the draft's rows are removed, the
report kept, the previous version stays current).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.gis.db.models import Extent
from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from pyproj import Transformer

from infraplan.accounts.models import Organisation
from infraplan.audit.services import audit_record
from infraplan.connectors.base import names_listed

from .generalise import dataset_generalise
from .models import Dataset, DatasetVersion, Feature, GeometryType, VersionState
from .partitions import partition_ensure, partition_name
from .services import DatasetWithdrawn
from .store import current_features, live_at, same_geometry_sql, same_properties_sql


@dataclass(frozen=True)
class FeatureRow:
    """One feature as a loader hands it over: geometry already in EPSG:27700 (or None)."""

    organisation: Organisation
    reference: str
    properties: dict[str, Any]
    geometry: Any  # GEOSGeometry with srid 27700, or None for a non-spatial dataset
    district: str = ""  # GSS codes of where it lies, when known
    ward: str = ""


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


# A reference is compared, and stored, in Unicode normal form C: "é" as one character or as
# "e" and a combining accent (as some systems save files) look the same to everyone and are one
# feature. Two draft rows of one organisation that normalise alike would be one identity twice.
# Read from the draft's copy (below), which says of each row whether its reference was
# stored in normal form C: the draft's rows are scanned once for both.
_DRAFT_UNNORMALISED = "SELECT EXISTS (SELECT FROM publish_draft WHERE NOT normalised)"
_DRAFT_UNICODE_CLASHES = """
    SELECT organisation_id, array_agg(reference ORDER BY reference COLLATE "C")
    FROM {feature}
    WHERE dataset_id = %(dataset)s AND valid_from = %(new)s
    GROUP BY organisation_id, normalize(reference, NFC)
    HAVING count(*) > 1
    ORDER BY 2 LIMIT 5
"""
_DRAFT_NORMALISE = """
    UPDATE {feature} SET reference = normalize(reference, NFC)
    WHERE dataset_id = %(dataset)s AND valid_from = %(new)s AND reference IS NOT NFC NORMALIZED;
    UPDATE publish_draft SET reference = normalize(reference, NFC) WHERE NOT normalised
"""


# Publishing compares the draft with the live rows it replaces, joined on identity. Each side's
# ids and identities are first copied into a temporary table and analysed, so every join is
# planned on true row counts; the feature table's own statistics may be stale or missing
# (autovacuum off, or a load larger than the rest of the table), and on those the planner once
# ran the comparison as a nested loop reading the whole dataset again for each live row:
# quadratic, minutes for a 20,000-row reload. The feature table is then read only by one scan of
# each side and by primary key.
_STAGE_DRAFT = """
    CREATE TEMPORARY TABLE publish_draft ON COMMIT DROP AS
    SELECT id, organisation_id, reference, reference IS NFC NORMALIZED AS normalised
    FROM {feature}
    WHERE dataset_id = %(dataset)s AND valid_from = %(new)s
"""
_STAGE_LIVE = """
    CREATE TEMPORARY TABLE publish_live ON COMMIT DROP AS
    SELECT id, organisation_id, normalize(reference, NFC) AS reference FROM {feature}
    WHERE dataset_id = %(dataset)s AND valid_to IS NULL AND valid_from <= %(old)s
      AND (%(organisation)s::bigint IS NULL OR organisation_id = %(organisation)s::bigint)
"""
# Each live row that has a draft row of its identity (one at most: identity is unique in a
# version), and whether the draft row is the same feature.
_STAGE_PAIRS = """
    CREATE TEMPORARY TABLE publish_pairs ON COMMIT DROP AS
    SELECT l.id AS old_id, n.id AS new_id,
           {same_properties} AND c.district = d.district AND c.ward = d.ward
           AND {same_geometry} AS unchanged
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
    return template.format(
        feature=Feature._meta.db_table,
        same_properties=same_properties_sql("c.properties", "d.properties"),
        same_geometry=same_geometry_sql("c.geom", "d.geom"),
    )


# A load may remove at most half of the current features it replaces unless it says it means
# to (``IngestMapping.allow_large_removal``): a wrong file, or a service that answered with a
# fraction of its features, would otherwise empty the map at once. Parts of fewer features than
# the minimum are not guarded (one outline replaced by another is routine).
LARGE_REMOVAL_SHARE = 0.5  # "half", as LargeRemoval's message says
LARGE_REMOVAL_MINIMUM = 10


class LargeRemoval(Exception):
    """A load that would remove more of the current features than it may; nothing published."""

    def __init__(self, *, removed: int, live: int, added: int) -> None:
        super().__init__(
            f"This load would remove {removed:,} of the {live:,} current features "
            f"({removed / live:.0%}) and add {added:,}: a load may remove at most half of them "
            "unless it is allowed to, in case the wrong file was chosen or the source answered "
            "only in part. If the removals are meant, load it again allowing large removals (a "
            "choice on the upload and source pages; --allow-large-removal at the command line)."
        )
        self.removed, self.live, self.added = removed, live, added


class FieldsEmptied(Exception):
    """A load whose source fills none of fields that most current features of its part hold a
    value in (a column renamed, or cut to ten characters by a Shapefile); nothing published."""

    def __init__(self, *, held: dict[str, int], live: int, columns: list[str]) -> None:
        several = len(held) > 1
        fields = " and ".join(
            f"{name} (a value in {count:,} of the {live:,} current features)"
            for name, count in held.items()
        )
        super().__init__(
            f"No column of this source fills the dataset's field{'s' if several else ''} "
            f"{fields}: this load would empty {'them' if several else 'it'} in every feature. "
            f"Its columns that are no field: {names_listed(columns) or 'none'}. If one of them "
            "holds the field under another name (a zipped Shapefile cuts names to ten "
            "characters), rename that column to the field in the column mapping (Columns to "
            "rename on the upload page, the source's column mapping, --rename at the command "
            "line) and load again. If emptying "
            f"{'them' if several else 'it'} is meant, load it again allowing large removals (a "
            "choice on the upload and source pages; --allow-large-removal at the command line)."
        )
        self.held, self.live, self.columns = held, live, columns


def fields_emptying_guard(
    *, version: DatasetVersion, missing: list[str], columns: list[str]
) -> None:
    """Raise FieldsEmptied when the draft's source fills none of the fields ``missing`` and one
    of them holds a value (not null, not empty text) in more than ``LARGE_REMOVAL_SHARE`` of the
    current features of the part the draft replaces, however few (unlike LargeRemoval: a small
    part's features change wholesale as a matter of course, its fields do not): published, the
    load would empty it in each of them, with only a note in its report to say so. ``columns`` are the source's
    columns that are no field, named in the message as the likely renames. One count of the
    part's current rows, and none when nothing is missing; call it before the draft's features
    are added."""
    if not missing:
        return
    part = current_features(version.dataset)
    if version.organisation_id is not None:
        part = part.filter(organisation_id=version.organisation_id)
    values = {
        f"value_{index}": KeyTextTransform(name, "properties") for index, name in enumerate(missing)
    }
    counts = part.alias(**values).aggregate(
        live=Count("pk"),
        **{
            f"held_{index}": Count(
                "pk", filter=Q(**{f"value_{index}__isnull": False}) & ~Q(**{f"value_{index}": ""})
            )
            for index in range(len(missing))
        },
    )
    live = counts["live"]
    held = {
        name: counts[f"held_{index}"]
        for index, name in enumerate(missing)
        if counts[f"held_{index}"] > LARGE_REMOVAL_SHARE * live
    }
    if held:
        raise FieldsEmptied(held=held, live=live, columns=columns)


def version_publish(
    *, actor: Any, version: DatasetVersion, note: str = "", removals_guarded: bool = False
) -> DatasetVersion:
    """Make a draft the current version, keeping unchanged features' rows as they are.

    With ``removals_guarded``, raises LargeRemoval (and publishes nothing: the caller's
    transaction is to be rolled back) when the draft would remove more than
    ``LARGE_REMOVAL_SHARE`` of at least ``LARGE_REMOVAL_MINIMUM`` current features of the part
    it replaces. Raises DatasetWithdrawn, the same way, when the dataset is withdrawn.

    Rows of the old version that the draft replaces or drops are closed (``valid_to`` = new
    number); draft rows the same as a live row (``store.same_properties_sql`` and
    ``same_geometry_sql``) are discarded so history only grows by changes. References are stored
    in Unicode normal form C. A draft numbered before the current version (another load or a
    rollback published while it loaded) is renumbered after it. Must run inside a transaction,
    with the draft's features added.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("version_publish must run inside a transaction")
    dataset = Dataset.objects.select_for_update().get(pk=version.dataset_id)
    if dataset.withdrawn_at is not None:
        # Withdrawn while this draft loaded: the load services refuse before they start, and
        # the dataset's lock makes this the last word.
        raise DatasetWithdrawn(dataset)
    version = DatasetVersion.objects.select_for_update().get(pk=version.pk)
    if version.state != VersionState.DRAFT:
        raise ValueError(f"{version} is {version.state}, not a draft")
    previous = dataset.versions.filter(is_current=True).first()
    if previous is not None and previous.number > version.number:
        version = _version_renumber(version=version, published=previous)
    params = {
        "dataset": dataset.pk,
        "new": version.number,
        "old": previous.number if previous else 0,
        "organisation": version.organisation_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(_sql(_STAGE_DRAFT), params)
        cursor.execute(_DRAFT_UNNORMALISED)
        if cursor.fetchone()[0]:  # rare: only then read the whole draft for clashes
            cursor.execute(_sql(_DRAFT_UNICODE_CLASHES), params)
            clashes = cursor.fetchall()
            if clashes:
                raise ValueError(_unicode_clashes_message(version, clashes))
            cursor.execute(_sql(_DRAFT_NORMALISE), params)
        cursor.execute(_sql(_STAGE_LIVE), params)
        live = cursor.rowcount
        cursor.execute("ANALYZE publish_draft, publish_live")
        cursor.execute(_sql(_STAGE_PAIRS))
        cursor.execute("ANALYZE publish_pairs")
        cursor.execute(_sql(_CLOSE_REPLACED), params)
        closed = cursor.rowcount
        cursor.execute(_sql(_DROP_UNCHANGED))
        unchanged = cursor.rowcount
        cursor.execute(_COUNT_DRAFT_CHANGED)
        drafted, changed = cursor.fetchone()
        removed, inserted = closed - changed, drafted - unchanged
        if (
            removals_guarded
            and live >= LARGE_REMOVAL_MINIMUM
            and removed > LARGE_REMOVAL_SHARE * live
        ):
            raise LargeRemoval(removed=removed, live=live, added=inserted - changed)
        cursor.execute(_UNSTAGE)
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
    # Counted and measured once here, not on every visit to the dataset's pages.
    version.feature_count, version.extent = _version_measured(version)
    version.report = {
        **version.report,
        "added": inserted - changed,
        "changed": changed,
        "removed": removed,
        "unchanged": unchanged,
    }
    version.save()
    if dataset.geometry_type == GeometryType.POLYGON and (closed or inserted):
        dataset_generalise(
            dataset=dataset, version_number=version.number, feature_count=version.feature_count
        )
    audit_record(
        actor=actor,
        action="version.publish",
        target=version,
        before={"current": previous.number if previous else None},
        after={"current": version.number, **version.report},
        note=note,
    )
    return version


_MERCATOR_TO_WGS84 = Transformer.from_crs(3857, 4326, always_xy=True)


def _version_measured(version: DatasetVersion) -> tuple[int, dict[str, list[float] | None]]:
    """How many features the version has, and their bounding boxes in EPSG:27700 and WGS84,
    and in WGS84 the box a map opened on the dataset fits (``fit_wgs84``): a feature flagged
    outside every district (a site's coordinates typed wrong, in the Channel) would otherwise
    open it on the sea. That box is of the features placed in a ward, which lie in or near one;
    where no feature has a ward (a deployment without wards), of those placed in a district.
    A feature its source's own code put in a district (a brownfield register's authority) is
    placed there wherever it lies, so only its ward tells that it lies there. Each None when no
    feature has a geometry (or none was placed).

    The WGS84 boxes are those of the stored EPSG:3857 copies, whose corners turn into WGS84
    exactly (longitude grows with x alone, latitude with y alone): the same box as transforming
    every geometry, without transforming a million of them at each publish. The transformed BNG
    box would be slightly off at the corners."""
    found = Feature.objects.filter(
        live_at(version.number), dataset_id=version.dataset_id
    ).aggregate(
        count=Count("pk"),
        bng=Extent("geom"),
        mercator=Extent("geom_3857"),
        in_ward=Extent("geom_3857", filter=~Q(ward="")),
        in_district=Extent("geom_3857", filter=~Q(district="")),
    )
    extent = {"bng": list(found["bng"]) if found["bng"] else None}
    fit = found["in_ward"] or found["in_district"]
    for name, box in (("wgs84", found["mercator"]), ("fit_wgs84", fit)):
        extent[name] = None
        if box:
            min_x, min_y, max_x, max_y = box
            west, south = _MERCATOR_TO_WGS84.transform(min_x, min_y)
            east, north = _MERCATOR_TO_WGS84.transform(max_x, max_y)
            extent[name] = [west, south, east, north]
    return found["count"], extent


def version_extent_record(*, version: DatasetVersion) -> dict[str, list[float] | None]:
    """The extent of a published version that was published before versions were measured
    (``DatasetVersion.extent`` empty) or before the box a map fits was (``fit_wgs84``):
    measured now, once, and recorded."""
    _, extent = _version_measured(version)
    DatasetVersion.objects.filter(pk=version.pk).update(extent=extent)
    version.extent = extent
    return extent


def _unicode_clashes_message(version: DatasetVersion, clashes: list[tuple]) -> str:
    organisations = dict(
        Organisation.objects.filter(pk__in=[pk for pk, _ in clashes]).values_list("pk", "name")
    )
    named = "; ".join(
        f"references {' and '.join(map(repr, references))} ({organisations[pk]})"
        for pk, references in clashes
    )
    return (
        f"{version}: {named} are the same text with the accents written in different Unicode "
        "characters; give each feature a reference of its own"
    )


def _version_renumber(*, version: DatasetVersion, published: DatasetVersion) -> DatasetVersion:
    """Give a draft the next free number, when a version numbered after it was published while
    it loaded (two organisations' loads side by side, or a rollback during a load).

    Validity ranges compare numbers, so they must follow the order of publishing: a draft
    published under its old, lower number would close rows with ``valid_to`` before their
    ``valid_from``, or hide the later version's rows from "current" and "as at" reads.
    The caller holds the dataset's lock; the draft's rows are still its own (``valid_from``).
    """
    old = version.number
    new = (version.dataset.versions.aggregate(highest=Max("number"))["highest"] or 0) + 1
    Feature.objects.filter(dataset_id=version.dataset_id, valid_from=old).update(valid_from=new)
    version.number = new
    notes = list(version.report.get("notes", []))
    notes.append(
        f"Opened as version {old} and published as version {new}: version {published.number} "
        f"was published while it loaded, and versions are numbered in the order they are "
        f"published."
    )
    version.report = {**version.report, "notes": notes}
    version.save(update_fields=["number", "report"])
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


def version_attempt_discard(version: DatasetVersion) -> None:
    """Delete a failed draft that holds nothing: an attempt of a load that will be tried again
    (its rows went when it failed, and its error is the run's)."""
    with transaction.atomic():
        version = DatasetVersion.objects.select_for_update().get(pk=version.pk)
        if version.state != VersionState.FAILED:
            raise ValueError(f"{version} is {version.state}, not failed")
        if Feature.objects.filter(
            dataset_id=version.dataset_id, valid_from=version.number
        ).exists():
            raise ValueError(f"{version} still has features")
        version.delete()


def version_rollback(
    *,
    actor: Any,
    dataset: Dataset,
    to: DatasetVersion,
    organisation: Organisation | None = None,
    on_version: Callable[[DatasetVersion], None] = lambda version: None,
) -> DatasetVersion:
    """Restore an earlier version's content as a new version; history is never rewritten.

    With ``organisation``, only that organisation's part is restored (its features as they were
    in ``to``) and every other part stays as it is now, as a load of that part would leave
    them. ``on_version`` is told of the draft as soon as it is opened, so that a run watching
    the rollback can fail it should its process die.
    """
    if to.dataset_id != dataset.pk or to.state != VersionState.PUBLISHED:
        raise ValueError(f"{to} is not a published version of {dataset}")
    whose = f" of {organisation.name}'s features" if organisation else ""
    draft = version_start(
        actor=actor, dataset=dataset, source=f"rollback{whose} to version {to.number}",
        organisation=organisation,
    )  # fmt: skip
    on_version(draft)
    try:
        with transaction.atomic():
            draft.rolled_back_to = to
            draft.save(update_fields=["rolled_back_to"])
            partition_ensure(dataset.pk)
            feature = Feature._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    INSERT INTO {feature} (dataset_id, organisation_id, reference, properties,
                                           geom, district, ward, valid_from)
                    SELECT dataset_id, organisation_id, reference, properties, geom, district,
                           ward, %(new)s
                    FROM {feature}
                    WHERE dataset_id = %(dataset)s AND valid_from <= %(to)s
                      AND (valid_to IS NULL OR valid_to > %(to)s)
                      AND (%(organisation)s::bigint IS NULL
                           OR organisation_id = %(organisation)s::bigint)
                    """,  # noqa: S608 (table name from model metadata, values bound)
                    {
                        "new": draft.number, "dataset": dataset.pk, "to": to.number,
                        "organisation": organisation.pk if organisation else None,
                    },
                )  # fmt: skip
                # What a load calls the rows read: here the features restored.
                draft.report = {**draft.report, "rows_read": cursor.rowcount}
                draft.save(update_fields=["report"])
            return version_publish(
                actor=actor, version=draft, note=f"Rollback{whose} to version {to.number}"
            )
    except Exception as error:
        # The draft committed on its own: without this it would stay "being loaded" for ever
        # (no load run watches it). The current version is untouched; the error propagates.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        version_fail(
            actor=actor,
            version=draft,
            report={"error": f"The rollback{whose} to version {to.number} failed: {reason}"},
        )
        raise
