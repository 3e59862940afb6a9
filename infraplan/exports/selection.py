"""Reading the features a download chose: streamed in reference order, and summed up (how many,
which properties, which kinds of geometry, where) before a file is begun.

The feature store is read in SQL (``StoreFeatureSource.within_sql``, the same conditions the
features-in-view table and the OGC API count and page with), through a server-side cursor: a
download of any size holds one batch of rows at a time. Other sources (typed domain records) are
read through their ``FeatureSource`` stream, each feature tested in Python.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.gis.geos import GEOSGeometry
from django.db import connection

from infraplan.catalogue.models import Dataset
from infraplan.catalogue.sources import FeatureRecord, FeatureSource, PropertyFilter
from infraplan.catalogue.store import StoreFeatureSource, organisation_slug_sql

BATCH = 2000  # rows fetched from the server-side cursor at a time


@dataclass(frozen=True)
class Selection:
    """Which features of a dataset a download holds: those meeting every geometry of ``meets``
    (EPSG:27700: a box), kept by ``keep``, and in an area: placed in one of ``districts``, or in
    one of ``wards`` (GSS codes; None: not chosen so), or, for a feature the platform has not
    placed at all (in no district), with its inner point in ``unplaced_within`` (the area's
    boundary; None: such features are not in the area).

    An area holds the features the platform placed in its districts or its ward (a district by
    the source's own code, or by where the feature's inner point lies; a ward of that district,
    by where it lies), as the download's ``district`` and ``ward`` columns say: not every
    feature its boundary touches, since boundaries generalised apart overlap their neighbours'
    features by slivers (a ward of the next district, say)."""

    meets: tuple[GEOSGeometry, ...] = ()
    keep: PropertyFilter | None = None
    districts: tuple[str, ...] | None = None
    wards: tuple[str, ...] | None = None
    unplaced_within: GEOSGeometry | None = None

    def admits(self, record: FeatureRecord, *, tested: int = 0) -> bool:
        """Whether ``record`` is chosen (the first ``tested`` geometries already known met)."""
        for geometry in self.meets[tested:]:
            if record.geometry is None or not record.geometry.intersects(geometry):
                return False
        if (self.districts is not None or self.wards is not None) and not self._in_area(record):
            return False
        return self.keep is None or self.keep(record.properties)

    def _in_area(self, record: FeatureRecord) -> bool:
        if self.wards is not None and record.ward:
            return record.ward in self.wards
        if record.district:  # placed in a district (and, when wards are chosen, in none of them)
            return self.districts is not None and record.district in self.districts
        return (
            self.unplaced_within is not None
            and record.geometry is not None
            and not record.geometry.empty
            and self.unplaced_within.contains(record.geometry.point_on_surface)
        )


@dataclass(frozen=True)
class Summary:
    count: int
    property_names: tuple[str, ...]  # every property any chosen feature has, sorted
    geometry_types: frozenset[str]  # OGC names in capitals: POINT, MULTIPOLYGON ...
    extent: tuple[float, float, float, float] | None  # BNG min x, min y, max x, max y


def _store_where(
    dataset: Dataset, source: StoreFeatureSource, selection: Selection
) -> tuple[str, dict[str, Any]]:
    first = selection.meets[0] if selection.meets else None
    within, parameters = source.within_sql(dataset, first, selection.keep)
    conditions = []
    for index, geometry in enumerate(selection.meets[1:], start=1):
        conditions.append(f"ST_Intersects(f.geom, %(export_meets_{index})s::geometry)")
        parameters[f"export_meets_{index}"] = geometry.hexewkb.decode()
    if selection.districts is not None or selection.wards is not None:
        unplaced = "f.district = ''"
        if selection.wards is not None:
            placed = "f.ward = ANY(%(export_wards)s)"
            parameters["export_wards"] = list(selection.wards)
            unplaced += " AND f.ward = ''"
        else:
            placed = "f.district = ANY(%(export_districts)s)"
            parameters["export_districts"] = list(selection.districts)
        if selection.unplaced_within is not None:
            placed = (
                f"({placed} OR ({unplaced} AND "
                "ST_Contains(%(export_unplaced_within)s::geometry, ST_PointOnSurface(f.geom))))"
            )
            parameters["export_unplaced_within"] = selection.unplaced_within.hexewkb.decode()
        conditions.append(placed)
    return " AND ".join([within, *conditions]), parameters


def selection_records(
    dataset: Dataset, source: FeatureSource, selection: Selection, *, organisations: bool = False
) -> Iterator[FeatureRecord]:
    """The chosen features with their geometry (EPSG:27700), in reference order; with
    ``organisations``, each with the slug of the organisation whose part it is in."""
    if not isinstance(source, StoreFeatureSource):
        yield from _generic_records(dataset, source, selection)
        return
    within, parameters = _store_where(dataset, source, selection)
    organisation = organisation_slug_sql() if organisations else "''"
    sql = f"""
        SELECT f.id, f.reference, f.properties, f.district, f.ward, ST_AsEWKB(f.geom),
               {organisation} {within}
        ORDER BY f.reference, f.organisation_id, f.id
    """
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, parameters)
        while rows := cursor.fetchmany(BATCH):
            for pk, reference, properties, district, ward, geometry, slug in rows:
                yield FeatureRecord(
                    id=pk, reference=reference,
                    # Django's psycopg loader hands jsonb over as text, for JSONField to read.
                    properties=json.loads(properties),
                    geometry=GEOSGeometry(memoryview(geometry)) if geometry else None,
                    district=district, ward=ward, organisation=slug,
                )  # fmt: skip


def _generic_records(
    dataset: Dataset, source: FeatureSource, selection: Selection
) -> Iterator[FeatureRecord]:
    if selection.meets:
        records, tested = source.features_within(dataset, selection.meets[0]), 1
    else:
        records, tested = source.features(dataset), 0
    for record in records:
        if selection.admits(record, tested=tested):
            yield record


def selection_summary(dataset: Dataset, source: FeatureSource, selection: Selection) -> Summary:
    """How many features are chosen, with which properties and kinds of geometry, and where."""
    if not isinstance(source, StoreFeatureSource):
        return _generic_summary(_generic_records(dataset, source, selection))
    within, parameters = _store_where(dataset, source, selection)
    counted = f"""
        SELECT n, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), types FROM (
            SELECT count(*) AS n, ST_Extent(f.geom) AS e,
                   array_agg(DISTINCT GeometryType(f.geom))
                       FILTER (WHERE f.geom IS NOT NULL) AS types
            {within}
        ) counted
    """  # noqa: S608 (the conditions are the store's and this module's own; values are bound)
    names = f"SELECT DISTINCT jsonb_object_keys(f.properties) {within}"
    with connection.cursor() as cursor:
        cursor.execute(counted, parameters)
        count, *extent, types = cursor.fetchone()
        cursor.execute(names, parameters)
        property_names = tuple(sorted(name for (name,) in cursor.fetchall()))
    return Summary(
        count=count,
        property_names=property_names,
        geometry_types=frozenset(types or ()),
        extent=tuple(extent) if extent[0] is not None else None,
    )


def selection_geometry_types(
    dataset: Dataset, source: FeatureSource, selection: Selection
) -> frozenset[str]:
    """The kinds of geometry the chosen features have (OGC names in capitals), without the
    rest of their summary."""
    if not isinstance(source, StoreFeatureSource):
        records = _generic_records(dataset, source, selection)
        return frozenset(
            record.geometry.geom_type.upper()
            for record in records
            if record.geometry is not None and not record.geometry.empty
        )
    within, parameters = _store_where(dataset, source, selection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT GeometryType(f.geom) {within} AND f.geom IS NOT NULL", parameters
        )
        return frozenset(kind for (kind,) in cursor.fetchall())


def _generic_summary(records: Iterator[FeatureRecord]) -> Summary:
    count, names, types, extent = 0, set(), set(), None
    for record in records:
        count += 1
        names.update(record.properties)
        if record.geometry is not None and not record.geometry.empty:
            types.add(record.geometry.geom_type.upper())
            box = record.geometry.extent
            extent = box if extent is None else (
                min(extent[0], box[0]), min(extent[1], box[1]),
                max(extent[2], box[2]), max(extent[3], box[3]),
            )  # fmt: skip
    return Summary(count, tuple(sorted(names)), frozenset(types), extent)
