"""Reads for the OGC API: which collections a user may see, and their features a page at a time.

Every read starts from the one gate (``Dataset.objects.permitting`` / ``permitted_get``). The
feature store is counted and paged in SQL, geometry written as GeoJSON in the output CRS by
PostGIS, rows read through a server-side cursor: a page of 10,000 features is streamed, never
held whole. Other sources (typed domain records) are read through their FeatureSource stream.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db import connection, transaction

from infraplan.catalogue.access import Action, DatasetQuerySet
from infraplan.catalogue.models import Dataset, DatasetVersion, GeometryType
from infraplan.catalogue.sources import FeatureRecord, FeatureSource
from infraplan.catalogue.store import (
    StoreFeatureSource,
    feature_identity,
    organisation_slug_sql,
    several_publishers,
)
from infraplan.maps.ended import ended_on
from infraplan.maps.selectors import MapMoment, source_at, visible_spatial_datasets

from .crs import Crs
from .errors import not_found
from .params import ItemQuery, ItemsQuery

CHUNK = 500  # rows fetched from the server-side cursor at a time


def collections_visible(user: Any) -> DatasetQuerySet:
    """The spatial datasets ``user`` may see that have a published version: the collections."""
    return visible_spatial_datasets(user)


def current_versions(datasets: list[Dataset]) -> dict[int, DatasetVersion]:
    """Each dataset's current version by dataset id, without its report (which can hold
    thousands of problems): what a collection's description needs (number, extent)."""
    versions = DatasetVersion.objects.filter(dataset__in=datasets, is_current=True).only(
        "id", "dataset_id", "number", "extent"
    )
    return {version.dataset_id: version for version in versions}


def collection_get(user: Any, slug: str) -> Dataset:
    """The collection ``slug`` if ``user`` may see it; the same 404 when it does not exist, is
    not spatial, has nothing published, or is not theirs to see."""
    dataset = Dataset.objects.permitted_get(user, slug, Action.VIEW)
    if (
        dataset is None
        or dataset.geometry_type == GeometryType.NONE
        or not dataset.current_version_number()
    ):
        raise not_found(f"There is no collection {slug!r}.")
    return dataset


def source_then(dataset: Dataset, moment: MapMoment) -> FeatureSource:
    """The dataset's source as published on the moment's date; 404 before its first publish."""
    source = source_at(dataset, moment)
    if source is None:
        raise not_found(
            f"{dataset.title} had not been published by the end of "
            f"{moment.as_of:%-d %B %Y}: nothing to show on that date."
        )
    return source


@dataclass(frozen=True)
class Row:
    """One feature as the API writes it: its geometry already GeoJSON text in the output CRS."""

    id: int
    reference: str
    properties: dict[str, Any]
    district: str
    ward: str
    geometry: str  # GeoJSON text, or "null"
    # The slug of the organisation whose part it is in, for a dataset with several publishers
    # (``store.several_publishers``); "" for any other.
    organisation: str = ""


@contextmanager
def _snapshot() -> Iterator[None]:
    """A transaction in which the count and the page see the same data (a publish between the
    two would otherwise make them disagree); within one already open, that one's."""
    nested = connection.in_atomic_block
    with transaction.atomic():
        if not nested:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


_COLUMNS = "f.id, f.reference, f.properties, f.district, f.ward"


def _columns(dataset: Dataset, source: StoreFeatureSource) -> str:
    """``_COLUMNS`` and each feature's organisation (its slug where the dataset, at the version
    read, has several publishers; else "")."""
    shared = several_publishers(dataset, version=source.version)
    organisation = organisation_slug_sql() if shared else "''"
    return f"{_COLUMNS}, {organisation}"


def _store_rows(sql: str, parameters: dict[str, Any]) -> Iterator[Row]:
    """Rows of ``sql`` (selecting ``_columns`` and the geometry), through a server-side cursor."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, parameters)
        while chunk := cursor.fetchmany(CHUNK):
            yield from map(_row, chunk)


def _row(values: tuple) -> Row:
    pk, reference, properties, district, ward, organisation, geometry = values
    # Django's psycopg loader hands jsonb over as text, for JSONField to read.
    return Row(
        pk, reference, json.loads(properties), district, ward, geometry or "null", organisation
    )


def _generic_records(
    dataset: Dataset, source: FeatureSource, query: ItemsQuery
) -> Iterator[FeatureRecord]:
    records = (
        source.features_within(dataset, query.box)
        if query.box is not None
        else source.features(dataset)
    )
    for record in records:
        if query.keep is None or query.keep(record.properties):
            yield record


def _generic_row(record: FeatureRecord, crs: Crs) -> Row:
    return Row(
        record.id, record.reference, record.properties, record.district, record.ward,
        crs.geometry_json(record.geometry),
    )  # fmt: skip


@dataclass
class Page:
    """A page of features: ``matched`` is known once ``rows`` is entered (the count and the
    page are read together, in one snapshot of the database)."""

    dataset: Dataset
    source: FeatureSource
    query: ItemsQuery
    matched: int | None = None
    returned: int = 0

    @property
    def next_offset(self) -> int | None:
        """Where the next page starts; None when no feature lies beyond this page."""
        query = self.query
        if query.offset + self.returned < (self.matched or 0):
            return query.offset + query.limit
        return None

    @property
    def prev_offset(self) -> int | None:
        """Where the previous page starts; None on the first. From past the last feature it is
        the last full page (``numberMatched`` less ``limit``), not the empty page before this
        one: an offset taken too far is one step from the features, not thousands."""
        query = self.query
        if query.offset == 0:
            return None
        last = max((self.matched or 0) - query.limit, 0)
        return min(max(query.offset - query.limit, 0), last)

    def rows(self) -> Iterator[Row]:
        if isinstance(self.source, StoreFeatureSource):
            yield from self._store()
            return
        self.matched = sum(1 for _ in _generic_records(self.dataset, self.source, self.query))
        page = islice(
            _generic_records(self.dataset, self.source, self.query),
            self.query.offset,
            self.query.offset + self.query.limit,
        )
        for record in page:
            self.returned += 1
            yield _generic_row(record, self.query.crs)

    def _store(self) -> Iterator[Row]:
        query = self.query
        within, parameters = self.source.within_sql(self.dataset, query.box, query.keep)
        with _snapshot():
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) {within}", parameters)
                (self.matched,) = cursor.fetchone()
            if query.offset >= self.matched:
                return
            # Ordered by id: a stable order the primary key serves, the same on every page.
            sql = f"""
                SELECT {_columns(self.dataset, self.source)}, {query.crs.geometry_sql()} {within}
                ORDER BY f.id LIMIT %(limit)s OFFSET %(offset)s
            """
            page = {**parameters, "limit": query.limit, "offset": query.offset}
            for row in _store_rows(sql, page):
                self.returned += 1
                yield row


def item_successor(
    dataset: Dataset, source: FeatureSource, feature_id: int, query: ItemQuery
) -> int | None:
    """The id, at the query's moment, of the feature whose row ``feature_id`` was in another
    version: a feature's id is its row's, and a load that changes the feature gives it a new
    row. None when the row was never the dataset's, or its feature (organisation and reference)
    is not there at that moment."""
    if not isinstance(source, StoreFeatureSource):
        return None
    identity = feature_identity(dataset, feature_id)
    if identity is None:
        return None
    within, parameters = source.within_sql(dataset, None, query.keep)
    sql = f"SELECT f.id {within} AND f.organisation_id = %(organisation)s AND f.reference = %(reference)s"
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {**parameters, "organisation": identity["organisation_id"],
             "reference": identity["reference"]},
        )  # fmt: skip
        found = cursor.fetchone()
    return found[0] if found and found[0] != feature_id else None


def item_get(dataset: Dataset, source: FeatureSource, feature_id: int, query: ItemQuery) -> Row:
    """One feature of the dataset as published at the query's moment; 404 when it was not part
    of it then, or has ended and ended features were not asked for (the 404 then says so, and
    how to ask for it: an id taken from a layer of ended features is no dead end)."""
    missing = not_found(f"{dataset.title} has no feature {feature_id}.")
    if isinstance(source, StoreFeatureSource):
        columns = _columns(dataset, source)
        within, parameters = source.within_sql(dataset, None, None)
        sql = f"SELECT {columns}, {query.crs.geometry_sql()} {within} AND f.id = %(feature)s"
        with connection.cursor() as cursor:
            cursor.execute(sql, {**parameters, "feature": feature_id})
            found = cursor.fetchone()
        if found is None:
            raise missing
        row = _row(found)
        properties = row.properties
    else:
        record = source.feature(dataset, feature_id)
        if record is None:
            raise missing
        row, properties = _generic_row(record, query.crs), record.properties
    keep = query.keep
    if keep is not None and not keep(properties):
        ended = ended_on(properties)
        raise not_found(
            f"Feature {feature_id} of {dataset.title} had ended"
            + (f" on {ended.isoformat()}" if ended else "")
            + ": features that have ended are left out unless asked for with ended=show."
        )
    return row
