"""The generic feature store as a FeatureSource (key ``store``)."""

import json
from collections.abc import Collection, Iterator
from typing import Any

from django.contrib.gis.geos import GEOSGeometry
from django.db import connection
from django.db.models import Q

from infraplan.accounts.models import Organisation

from .models import Dataset, Feature, FeatureGeneralisation
from .sources import FeatureRecord, FeatureSource, PropertyFilter

# Tiles up to this zoom use a per-zoom generalisation; above it, the cleaned coverage geometry
# (stored as level CLEANED_ZOOM) where the dataset is a coverage, else the stored geometry.
MAX_GENERALISED_ZOOM = 12
CLEANED_ZOOM = MAX_GENERALISED_ZOOM + 1


def live_at(version_number: int) -> Q:
    """Feature rows that belong to the dataset as it was at ``version_number``."""
    return Q(valid_from__lte=version_number) & (
        Q(valid_to__isnull=True) | Q(valid_to__gt=version_number)
    )


# What counts as a change between two rows of one feature, shared by publishing (which keeps
# an unchanged row rather than adding a copy) and the diff between versions (which lists the
# changed fields). Coordinates are British National Grid metres: a geometry whose every vertex
# lies within a centimetre of the other's is no change. That takes in the rounding of the
# platform's own outputs loaded back (the OGC API writes the grid to the centimetre, GeoJSON
# seven decimal places of a degree, under 7 mm) and the noise of another projection library;
# a site moved on purpose moves further. A property whose value is null is the same as one the
# feature lacks: both say "unknown", and a file that leaves out an empty column changes nothing.
# JSON already ignores the order of keys and the writing of numbers (10 and 10.0).
GEOMETRY_TOLERANCE = 0.01  # metres


def same_geometry_sql(a: str, b: str) -> str:
    """SQL that is true when geometries ``a`` and ``b`` are the same to within
    GEOMETRY_TOLERANCE (both null counts as the same), false otherwise (never null). The
    Hausdorff distance is measured only where the two differ at all and have as many vertices.
    A single part and a multi-part geometry of that one part are the same (a Shapefile's rings
    are read as either)."""
    return (
        f"(ST_AsEWKB({a}) IS NOT DISTINCT FROM ST_AsEWKB({b}) OR COALESCE("
        f"ST_GeometryType(ST_Multi({a})) = ST_GeometryType(ST_Multi({b})) "
        f"AND ST_NPoints({a}) = ST_NPoints({b}) "
        f"AND ST_HausdorffDistance({a}, {b}) <= {GEOMETRY_TOLERANCE}, false))"
    )


def same_properties_sql(a: str, b: str) -> str:
    """SQL that is true when property objects ``a`` and ``b`` differ in no value, a null value,
    an empty text and a missing key being the same: downloads and the API write an empty text
    as no value, so a download loaded again changes nothing. The empty texts are only looked
    for where the cheap comparison finds a difference."""
    return (
        f"(jsonb_strip_nulls({a}) = jsonb_strip_nulls({b}) "
        f"OR {_without_empty_values(a)} = {_without_empty_values(b)})"
    )


def _without_empty_values(properties: str) -> str:
    """SQL for the property object ``properties`` (a column, ours) without its null and empty
    text values."""
    return (
        f"(SELECT coalesce(jsonb_object_agg(key, value), '{{}}') FROM jsonb_each({properties}) "  # noqa: S608
        """WHERE value NOT IN ('null', '""'))"""
    )


def current_features(dataset: Dataset):
    """The dataset's current features (none before its first publish)."""
    number = dataset.current_version_number()
    if not number:
        return Feature.objects.none()
    return Feature.objects.filter(dataset=dataset, valid_to__isnull=True, valid_from__lte=number)


def feature_identity(dataset: Dataset, feature_id: int) -> dict[str, Any] | None:
    """The identity (``organisation_id`` and ``reference``) of the feature whose row, in any
    version, is ``feature_id``; None for a row that was never the dataset's. A link to a row
    another version replaced follows it to the same feature."""
    return (
        Feature.objects.filter(dataset=dataset, pk=feature_id)
        .values("organisation_id", "reference")
        .first()
    )


def several_publishers(dataset: Dataset, *, version: int | None = None) -> bool:
    """Whether ``dataset`` has several publishers, each with a part of its own: organisations
    other than its owner contribute to it (``Dataset.contributing_organisations``), or any of its
    features live at ``version`` (None: the current one) belongs to an organisation other than
    its owner (a contributor since removed keeps its part until it is replaced; an owner since
    changed). The one rule for it: such a dataset's downloads and OGC API features say whose
    part each feature is in (``organisation``, that organisation's slug), and a download of it
    loaded again is read by that column. A feature that may not be its owner's is never
    written without it, so a whole-dataset load of a download never gives it to the owner.
    Only the feature store has parts."""
    if dataset.source_key != StoreFeatureSource.key:
        return False
    if dataset.contributing_organisations.exclude(pk=dataset.owner_id).exists():
        return True
    number = dataset.current_version_number() if version is None else version
    # Two ranges rather than "not the owner": the identity index (dataset, organisation, ...)
    # answers them without reading a single-publisher dataset's features.
    others = Q(organisation_id__lt=dataset.owner_id) | Q(organisation_id__gt=dataset.owner_id)
    return Feature.objects.filter(live_at(number), others, dataset=dataset).exists()


def organisation_slug_sql(alias: str = "f") -> str:
    """SQL for the slug of the organisation whose part the feature row ``alias`` is in, for the
    downloads and the API of a dataset with several publishers (``several_publishers``). A
    subquery by primary key in a table of a few dozen organisations: the store's conditions come
    as FROM and WHERE (``within_sql``), which a join would have to be woven into."""
    table = Organisation._meta.db_table
    return f"(SELECT o.slug FROM {table} o WHERE o.id = {alias}.organisation_id)"  # noqa: S608 (the model's table; no value)


class StoreFeatureSource(FeatureSource):
    """The registered source serves each dataset's current version; ``at_version`` gives one
    that serves the dataset as it was at an earlier published version (the map as of a date)."""

    key = "store"

    def __init__(self, version: int | None = None) -> None:
        self.version = version

    @classmethod
    def at_version(cls, number: int) -> "StoreFeatureSource":
        """A source of every store dataset's features live at version ``number``."""
        return cls(version=number)

    def _number(self, dataset: Dataset) -> int:
        return dataset.current_version_number() if self.version is None else self.version

    def _rows(self, dataset: Dataset):
        if self.version is None:
            return current_features(dataset)
        return Feature.objects.filter(live_at(self.version), dataset=dataset)

    def tile_rows(
        self, dataset: Dataset, zoom: int, fields: Collection[str]
    ) -> tuple[str, dict[str, Any]]:
        number = self._number(dataset)
        feature = Feature._meta.db_table
        generalisation = FeatureGeneralisation._meta.db_table
        # Only the keys asked for, each bound as a parameter; a key a feature lacks is left out.
        names = sorted(fields)
        pairs = ", ".join(
            f"%(field_{i})s::text, f.properties -> %(field_{i})s::text" for i in range(len(names))
        )
        properties = f"jsonb_strip_nulls(jsonb_build_object({pairs}))"
        sql = f"""
            SELECT f.id, f.reference, {properties} AS properties,
                   COALESCE(g.geom_3857, f.geom_3857) AS geom_3857
            FROM {feature} f
            LEFT JOIN {generalisation} g ON g.feature_id = f.id AND g.zoom = %(generalised_zoom)s
            WHERE f.dataset_id = %(dataset_id)s AND {self._live_sql()}
              AND f.geom_3857 && %(envelope)s
        """  # noqa: S608 (table names come from model metadata, values are bound)
        return sql, {
            "dataset_id": dataset.pk,
            "version": number,
            "generalised_zoom": min(zoom, CLEANED_ZOOM),
            **{f"field_{i}": name for i, name in enumerate(names)},
        }

    def _live_sql(self) -> str:
        """SQL true for a row ``f`` of the version ``%(version)s`` stands for."""
        # The current version keeps to the partial indexes on live rows (valid_to IS NULL).
        if self.version is None:
            return "f.valid_to IS NULL AND f.valid_from <= %(version)s"
        return "f.valid_from <= %(version)s AND (f.valid_to IS NULL OR f.valid_to > %(version)s)"

    def within_sql(
        self, dataset: Dataset, box: GEOSGeometry | None, keep: PropertyFilter | None
    ) -> tuple[str, dict[str, Any]]:
        """FROM and WHERE of the dataset's features (as ``f``) meeting ``box`` (EPSG:27700;
        None: anywhere, features without geometry included) and ``keep``, and their parameters:
        what the table of a view and the OGC API count and page through, in the database."""
        kept, parameters = keep.sql("f.properties") if keep else ("TRUE", {})
        within = "ST_Intersects(f.geom, %(box)s::geometry)" if box is not None else "TRUE"
        sql = f"""
            FROM {Feature._meta.db_table} f
            WHERE f.dataset_id = %(dataset_id)s AND {self._live_sql()}
              AND {within} AND {kept}
        """
        if box is not None:
            parameters = {**parameters, "box": box.hexewkb.decode()}
        return sql, {**parameters, "dataset_id": dataset.pk, "version": self._number(dataset)}

    def count_within(
        self, dataset: Dataset, box: GEOSGeometry | None, keep: PropertyFilter | None = None
    ) -> int:
        """As ``FeatureSource.count_within``; a ``box`` of None counts the whole dataset."""
        within, parameters = self.within_sql(dataset, box, keep)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) {within}", parameters)
            (count,) = cursor.fetchone()
        return count

    def page_within(
        self, dataset: Dataset, box: GEOSGeometry, *, offset: int, limit: int,
        keep: PropertyFilter | None = None,
    ) -> list[FeatureRecord]:  # fmt: skip
        within, parameters = self.within_sql(dataset, box, keep)
        # The order of features_within, with the id last: the same on every page.
        sql = f"""
            SELECT f.id, f.reference, f.properties, f.district, f.ward {within}
            ORDER BY f.reference, f.organisation_id, f.id
            LIMIT %(limit)s OFFSET %(offset)s
        """
        with connection.cursor() as cursor:
            cursor.execute(sql, {**parameters, "limit": limit, "offset": offset})
            rows = cursor.fetchall()
        return [
            # Django's psycopg loader hands jsonb over as text, for JSONField to read.
            FeatureRecord(
                id=pk, reference=reference, properties=json.loads(properties), geometry=None,
                district=district, ward=ward,
            )
            for pk, reference, properties, district, ward in rows
        ]  # fmt: skip

    def features(self, dataset: Dataset) -> Iterator[FeatureRecord]:
        yield from self._records(self._rows(dataset))

    def feature(self, dataset: Dataset, feature_id: int) -> FeatureRecord | None:
        """The feature whose row is ``feature_id``. A row another version replaced (the feature
        changed since a link to it was shared) leads to the same feature (organisation and
        reference) as it is in this version, if it is there."""
        record = next(self._records(self._rows(dataset).filter(pk=feature_id)), None)
        if record is not None:
            return record
        identity = feature_identity(dataset, feature_id)
        if identity is None:
            return None
        return next(self._records(self._rows(dataset).filter(**identity)), None)

    def features_within(self, dataset: Dataset, box: GEOSGeometry) -> Iterator[FeatureRecord]:
        yield from self._records(self._rows(dataset).filter(geom__intersects=box))

    @staticmethod
    def _records(rows: Any, limit: int | None = None) -> Iterator[FeatureRecord]:
        """``rows`` as records in reference order: all, or the first ``limit`` (read in the
        database, which finds them by the reference index instead of sorting every row)."""
        rows = rows.order_by("reference", "organisation_id")
        if limit is not None:
            rows = rows[:limit]
        for feature in rows.iterator(chunk_size=2000):
            yield FeatureRecord(
                id=feature.pk,
                reference=feature.reference,
                properties=feature.properties,
                geometry=feature.geom,
                district=feature.district,
                ward=feature.ward,
            )

    def version_tag(self, dataset: Dataset) -> str:
        return str(self._number(dataset))
