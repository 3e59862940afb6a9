"""The ingest pipeline: any connector's features into a dataset as a new version.

1. A draft version is opened (committed on its own, so a crash leaves a visible draft).
2. The connector's batches are mapped onto the dataset's schema (rename, constant, type: see
   ``ingest_rows``) and copied into a temporary staging table with PostgreSQL's COPY: no
   row-by-row inserts.
3. Validation runs as set-based SQL over the staging table: the coordinate system transformed
   to British National Grid, invalid geometry repaired (``ST_MakeValid``) and counted, geometry
   of the wrong kind, features outside Great Britain and duplicate references reported. Rows
   whose coordinates cannot be transformed (not numbers, beyond longitude/latitude or the
   coordinate system's range) are found before they are staged, each a problem of its row.
4. If the share of rejected rows is over the dataset's threshold the version fails with its
   report and the current version stays as it was. Otherwise the good rows become the draft's
   features and the draft is published, in one transaction: the current version switches only
   when the new one is complete.

Every problem names its row (1-based, in the source's order), field, value and reason; the
report keeps the first ``ingest_rows.REPORT_PROBLEMS_KEPT`` of them with the total count, and
every one is stored with its row's reference (``VersionProblem``), whether the load publishes,
is rejected or cannot read its source to the end.
"""

import math
import tempfile
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from django.db import connection, transaction
from psycopg.copy import QueuedLibpqWriter
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from infraplan.accounts.models import Organisation, OrganisationKind
from infraplan.connectors.base import (
    ConnectorError,
    Progress,
    RowProblem,
    SourceContext,
)
from infraplan.connectors.credentials import load_credentials
from infraplan.connectors.fetch import FetchPolicy
from infraplan.connectors.registry import connector_config, connector_for

from .first_schema import name_field, schema_from_staged, takes_fields_from_load
from .ingest_rows import (
    IngestMapping,
    LoadParts,
    Staging,
    batch_rows,
    number_text,
    schema_differences,
    schema_of,
)
from .loading import times_of_day_note
from .models import Dataset, DatasetVersion, Feature, GeometryType, VersionProblem
from .partitions import (
    PartitionRefused,
    feature_id_sequence,
    partition_attach,
    partition_indexes_build,
    partition_lock,
    partition_table_create,
)
from .placement import features_place, references_outside_area
from .publishing import (
    FieldsEmptied,
    LargeRemoval,
    fields_emptying_guard,
    version_fail,
    version_publish,
    version_start,
)
from .selectors import load_reference_change
from .services import DatasetWithdrawn, dataset_save

# Great Britain in British National Grid metres, with a margin for offshore features: 10 km
# south and west of the grid's origin, east to 2°E and north to 61°N (the bounds of the grid's
# own extent, EPSG:27700's area of use), less the open Atlantic west of 70 km east and south of
# 700 km north (the Isles of Scilly reach 80 km east, Barra Head lies 780 km north), and less
# Ireland, which the grid's numbers reach too but which is not on it: west of a line through
# the sea between the two islands (55.6N 7.6W, 55.45N 6.45W between Islay and Rathlin, 55.3N
# 6W between Kintyre and Antrim, 54.9N 5.45W, 54.5N 5.25W east of the Ards, 54N 5.4W, 53.3N
# 5.6W, 52.5N 5.7W, 51.9N 5.95W off Pembrokeshire, 51.3N 6.6W), at least 5 km from the land
# of each. Longitudes and latitudes wrongly read as grid metres fall in the Atlantic corner.
GREAT_BRITAIN = shapely.Polygon(
    [(70_000, -10_000), (688_900, -10_000), (616_700, 1_243_000), (-10_000, 1_256_000),
     (-10_000, 700_000), (70_000, 700_000), (70_000, 641_300), (118_700, 626_400),
     (146_200, 607_900), (178_900, 561_600), (189_700, 516_500), (177_300, 461_300),
     (160_200, 384_200), (149_000, 295_600), (128_400, 229_800), (79_500, 165_700),
     (70_000, 165_700)]
).wkt  # fmt: skip
BNG_SRID = 27700
POLYGON_TYPE_IDS = (3, 6)  # shapely's type ids of Polygon and MultiPolygon
_DIMENSION = {GeometryType.POINT: 0, GeometryType.LINE: 1, GeometryType.POLYGON: 2}

# Councils whose area is one district: a load of their part is checked against it.
COUNCILS_OF_ONE_DISTRICT = (OrganisationKind.DISTRICT, OrganisationKind.UNITARY)


INTERRUPTED = "interrupted (Ctrl-C) before it finished; the current version is unchanged"


class IngestCancelled(Exception):
    """Raised by a load's progress callback when a person asked for the load to stop
    (``connectors.run_execution.RunProgress``); its message says who and is the failed draft's
    error. Nothing is published: the load's transaction is rolled back."""


class IngestRejected(Exception):
    """A load that did not become the current version; ``version`` holds its report."""

    def __init__(self, message: str, version: DatasetVersion) -> None:
        super().__init__(message)
        self.version = version


def _srid(crs: str | None) -> int:
    if crs is None:
        raise ConnectorError("The source gives no coordinate system for its geometry.")
    try:
        epsg = CRS.from_user_input(crs).to_epsg()
    except CRSError:
        epsg = None
    if epsg is None:
        raise ConnectorError(f"The coordinate system {crs[:80]!r} is not one the platform knows.")
    return epsg


# What the checks ask of each row's reference and geometry is computed as the rows are copied
# in (generated columns): PostgreSQL does it while the connector is still reading and mapping
# the next rows, instead of in scans of its own afterwards. A row whose geometry is changed
# (transformed, repaired) has them computed again. Great Britain is a constant of the code.
_STAGE = f"""
    CREATE TEMPORARY TABLE ingest_stage (
        row integer PRIMARY KEY, reference text NOT NULL, properties jsonb NOT NULL,
        wkb bytea, srid integer, geom geometry(Geometry, 27700), organisation bigint,
        nfc text GENERATED ALWAYS AS (normalize(reference, NFC)) STORED,
        kind text GENERATED ALWAYS AS (GeometryType(geom)) STORED,
        dimension integer GENERATED ALWAYS AS (ST_Dimension(geom)) STORED,
        empty boolean GENERATED ALWAYS AS (ST_IsEmpty(geom)) STORED,
        valid boolean GENERATED ALWAYS AS (ST_IsValid(geom)) STORED,
        in_britain boolean GENERATED ALWAYS AS (
            ST_Within(geom, ST_GeomFromText('{GREAT_BRITAIN}', 27700))) STORED
    ) ON COMMIT DROP
"""
_TRANSFORM = """
    UPDATE ingest_stage SET geom = CASE WHEN srid = 27700 THEN ST_SetSRID(ST_GeomFromWKB(wkb), 27700)
        ELSE ST_Transform(ST_SetSRID(ST_GeomFromWKB(wkb), srid), 27700) END
    WHERE wkb IS NOT NULL
"""
# How many of the features whose geometry was repaired the report names.
REPAIRED_NAMED = 10
_REPAIR = """
    UPDATE ingest_stage
    SET geom = ST_CollectionExtract(ST_MakeValid(geom), %(dimension)s + 1)
    WHERE NOT valid
    RETURNING row, reference, geom IS NULL OR empty
"""
# A geometry invalid because it has no area (or, for a line, no length) has nothing of the
# dataset's kind left when repaired: a problem of its row, said as such, not a repair.
_COLLAPSED = {1: "a line of no length", 2: "a polygon of no area"}
# A geometry collection whose parts are all of the dataset's kind becomes the multi-geometry of
# that kind (nothing is lost: every vertex stays); one that mixes kinds is reported below.
_COLLECTIONS = """
    UPDATE ingest_stage SET geom = ST_CollectionExtract(geom, %(dimension)s + 1)
    WHERE kind = 'GEOMETRYCOLLECTION'
          AND ST_NPoints(ST_CollectionExtract(geom, %(dimension)s + 1)) = ST_NPoints(geom)
"""
# Where a misplaced row lies, as its source gave it, so the officer finds the cell to fix: a
# longitude/latitude source's degrees as latitude and longitude, another coordinate system's
# numbers as its point, the grid's as they are.
_SOURCE_POINT = """CASE
        WHEN s.wkb IS NOT NULL AND s.srid = 4326 THEN
            'latitude ' || trim_scale(round(ST_Y(ST_PointOnSurface(ST_GeomFromWKB(s.wkb)))::numeric, 6))
            || ', longitude '
            || trim_scale(round(ST_X(ST_PointOnSurface(ST_GeomFromWKB(s.wkb)))::numeric, 6))
        WHEN s.wkb IS NOT NULL AND s.srid <> 27700 THEN
            ST_AsText(ST_PointOnSurface(ST_GeomFromWKB(s.wkb)), 6)
        ELSE ST_AsText(ST_PointOnSurface(s.geom), 2) END"""
# One scan: each row failing a check, with a problem for each check it fails.
_CHECKS = f"""
    SELECT s.row, 'geometry', problem.value, problem.reason
    FROM ingest_stage s
    CROSS JOIN LATERAL (VALUES
        (s.geom IS NULL OR s.empty, '', 'the geometry is missing or empty'),
        (NOT s.empty AND s.dimension <> %(dimension)s, s.kind,
         'a ' || s.kind || ' in a dataset of ' || %(kind)s || 's'),
        (s.kind = 'GEOMETRYCOLLECTION' AND s.dimension = %(dimension)s, 'GEOMETRYCOLLECTION',
         'a GEOMETRYCOLLECTION mixing ' || %(kind)s || 's with other kinds of geometry: save '
         'its ' || %(kind)s || 's as one feature and the rest elsewhere'),
        (NOT s.empty AND NOT s.in_britain, {_SOURCE_POINT},
         'lies outside Great Britain (in British National Grid, E ' ||
         round(ST_X(ST_PointOnSurface(s.geom))) || ' N ' ||
         round(ST_Y(ST_PointOnSurface(s.geom))) || ')')
    ) AS problem (failing, value, reason)
    WHERE (s.geom IS NULL OR s.empty OR s.dimension <> %(dimension)s
           OR s.kind = 'GEOMETRYCOLLECTION' OR NOT s.in_britain)
      AND problem.failing AND s.row <> ALL(%(unchecked)s::integer[])
    ORDER BY s.row
"""  # noqa: S608 (a constant; every value is bound)
# How far outside every council area the platform covers a feature may lie: a pier, a harbour
# wall or a site on the shore (the boundaries are generalised to the coastline).
AREAS_MARGIN_METRES = 1_000
# The covered areas (the current districts, grown by the margin) in pieces of a few hundred
# points each, so each row is tested against the one or two pieces its box meets.
_AREAS = f"""
    CREATE TEMPORARY TABLE ingest_areas ON COMMIT DROP AS
    SELECT ST_Subdivide(ST_Buffer(ST_Union(f.geom), {AREAS_MARGIN_METRES}, 4), 256) AS geom
    FROM catalogue_feature f
    WHERE f.dataset_id = %(districts)s AND f.valid_to IS NULL AND f.valid_from <= %(current)s
"""  # noqa: S608 (a constant; every value is bound)
# Rows whose geometry (already found usable) lies wholly outside the covered areas: a point in
# the sea, or a coordinate typed wrongly that still falls in Great Britain.
_OUTSIDE_AREAS = f"""
    SELECT s.row, 'geometry', {_SOURCE_POINT},
           'lies more than {AREAS_MARGIN_METRES:,} m outside every council area this platform '
           'covers: in the sea, or a coordinate typed wrongly? (in British National Grid, E ' ||
           round(ST_X(ST_PointOnSurface(s.geom))) || ' N ' ||
           round(ST_Y(ST_PointOnSurface(s.geom))) || ')'
    FROM ingest_stage s
    WHERE NOT s.empty AND s.dimension = %(dimension)s AND s.in_britain
      AND NOT EXISTS (SELECT FROM ingest_areas a WHERE ST_Intersects(a.geom, s.geom))
    ORDER BY s.row
"""  # noqa: S608 (a constant; every value is bound)
# References are compared in Unicode normal form C, as publishing stores them: "é" as one
# character or as "e" and a combining accent is one reference. Two organisations' features may
# share a reference (a whole-dataset load of a download of several councils' parts).
_DUPLICATES = """
    SELECT row, 'reference', reference, 'reference ' || quote_literal(reference) ||
           ' is also on row ' || first
    FROM (SELECT row, reference, min(row) OVER (PARTITION BY organisation, nfc) AS first
          FROM ingest_stage) s
    WHERE row <> first
"""
# Into the feature table, or into a dataset's first partition before it is attached (which
# has no identity default: its ids are drawn from the feature table's sequence, named once).
_INSERT = """
    INSERT INTO {table} (id, dataset_id, organisation_id, reference, properties, geom,
                         district, ward, valid_from)
    SELECT nextval(%(sequence)s::regclass), %(dataset)s, organisation, reference, properties,
           {geometry}, '', '', %(version)s
    FROM ingest_stage WHERE row <> ALL(%(rejected)s::integer[]) ORDER BY row
"""


# A row with a problem is left out of the new version; when it is a feature the current version
# has (by its organisation and reference), that feature is kept as it is rather than removed: a
# typing slip in one council's 200-row file must not take a live site off the map. Publishing
# then finds it unchanged. Not when a row without problems has the reference too (a duplicate).
# Only a feature of the part the load replaces (``%(part)s``; null: the whole dataset): another
# organisation's row in a council's file is refused, and that organisation's part left alone. A
# row naming no organisation the dataset has (a slip in a download's organisation column) keeps
# every feature of its reference, whoever's it is. Both tests are EXISTS, which PostgreSQL joins
# by hashing: as NOT IN over the staged rows, it planned a scan of them for each feature whenever
# they outgrew work_mem (a reload of 300,000 rows with problems in a few ran for hours).
_KEEP_CURRENT = f"""
    INSERT INTO {Feature._meta.db_table} (id, dataset_id, organisation_id, reference, properties,
                                          geom, district, ward, valid_from)
    SELECT nextval(%(sequence)s::regclass), f.dataset_id, f.organisation_id, f.reference,
           f.properties, f.geom, f.district, f.ward, %(version)s
    FROM {Feature._meta.db_table} f
    WHERE f.dataset_id = %(dataset)s
      AND (%(part)s::bigint IS NULL OR f.organisation_id = %(part)s::bigint)
      AND f.valid_from <= %(current)s AND (f.valid_to IS NULL OR f.valid_to > %(current)s)
      AND EXISTS (
          SELECT FROM ingest_stage s
          WHERE s.row = ANY(%(rejected)s::integer[]) AND s.nfc = f.reference
            AND (s.organisation IS NULL OR s.organisation = f.organisation_id))
      AND NOT EXISTS (
          SELECT FROM ingest_stage g
          WHERE g.row <> ALL(%(rejected)s::integer[]) AND g.nfc = f.reference
            AND (g.organisation IS NULL OR g.organisation = f.organisation_id))
    RETURNING reference
"""  # noqa: S608 (the table's name is the model's; every value is bound)


def _flattened(rows: list[tuple], shapes: np.ndarray) -> tuple[list[tuple], np.ndarray, int]:
    """``rows`` and ``shapes`` with heights (Z) dropped, and how many had them: the feature
    table holds two-dimensional geometry, and GPS heights and CAD levels are common in exports.

    The rows keep the WKB they were read with, to be staged as it is; a flattened one's is
    written again."""
    raised = shapely.has_z(shapes)
    count = int(raised.sum())
    if count:
        shapes = shapes.copy()
        shapes[raised] = shapely.force_2d(shapes[raised])
        rows = list(rows)
        for index in np.flatnonzero(raised).tolist():
            rows[index] = (*rows[index][:3], shapely.to_wkb(shapes[index]), *rows[index][4:])
    return rows, shapes, count


NOT_FINITE = "coordinates are not finite numbers"
NOT_LONGITUDE_LATITUDE = (
    "longitude/latitude out of range: longitudes lie between -180 and 180 and latitudes "
    "between -90 and 90"
)


SHORT_RING = (
    "a ring of the polygon has fewer than 4 points: a ring needs at least three corners and "
    "to end on the point it starts from"
)


def _with_usable_geometry(
    rows: list[tuple], shapes: np.ndarray, srid: int, staging: Staging
) -> list[tuple]:
    """The rows, each geometry (``shapes``, one per row) that cannot be staged and put on the
    grid taken out, and a problem saying why.

    The staging COPY and the transformation to the grid each take a whole load in one
    statement, which one geometry PostGIS refuses (a polygon ring of three points) or one
    coordinate it cannot transform (NaN, or beyond what the coordinate system covers) would
    fail; so such rows are found here first, with the same rules.
    """
    bad: dict[int, tuple[str, str]] = {}  # the row's index -> (value, reason), first found
    for index in np.flatnonzero(shapely.is_missing(shapes)).tolist():
        if rows[index][3] is not None:
            bad[index] = ("", f"the geometry cannot be read: {_unreadable_reason(rows[index][3])}")
    polygonal = np.flatnonzero(np.isin(shapely.get_type_id(shapes), POLYGON_TYPE_IDS))
    if len(polygonal):
        rings, owners = shapely.get_rings(shapes[polygonal], return_index=True)
        for owner in np.unique(owners[shapely.get_num_coordinates(rings) < 4]).tolist():
            index = int(polygonal[owner])
            bad.setdefault(
                index, (shapely.to_wkt(shapes[index], rounding_precision=-1)[:80], SHORT_RING)
            )
    coordinates, owners = shapely.get_coordinates(shapes, return_index=True)
    if not len(coordinates) and not bad:
        return rows
    xs, ys = coordinates[:, 0], coordinates[:, 1]
    finite = np.isfinite(xs) & np.isfinite(ys)
    checks = [(~finite, NOT_FINITE)]
    if srid != BNG_SRID:
        if CRS.from_epsg(srid).is_geographic:
            checks.append(((np.abs(xs) > 180) | (np.abs(ys) > 90), NOT_LONGITUDE_LATITUDE))
        to_grid = Transformer.from_crs(srid, BNG_SRID, always_xy=True)
        grid_x, grid_y = to_grid.transform(xs, ys, errcheck=False)
        checks.append(
            (
                ~(np.isfinite(grid_x) & np.isfinite(grid_y)),
                f"coordinates out of range for EPSG:{srid}: they cannot be converted to "
                "British National Grid",
            )
        )
    for failing, reason in checks:
        for position in np.flatnonzero(failing).tolist():
            point = f"POINT({_coordinate_text(xs[position])} {_coordinate_text(ys[position])})"
            bad.setdefault(int(owners[position]), (point, reason))
    if not bad:
        return rows
    for index in sorted(bad):
        staging.add(RowProblem(rows[index][0], "geometry", *bad[index]))
        staging.unchecked_rows.add(rows[index][0])
    # Staged without their geometry, for their references (see ``Staging.unchecked_rows``).
    return [(*row[:3], None, *row[4:]) if index in bad else row for index, row in enumerate(rows)]


def _unreadable_reason(wkb: bytes) -> str:
    """GEOS's reason for refusing ``wkb``, such as "Points of LinearRing do not form a closed
    linestring" for a polygon whose ring does not close."""
    try:
        shapely.from_wkb(wkb)
    except shapely.errors.GEOSException as error:
        return str(error).split(": ", 1)[-1]
    return "it is not well-known binary"


def _coordinate_text(value: float) -> str:
    return number_text(value) if not math.isfinite(value) else format(value, ".15g")


def _stage_geometries(copy: Any, rows: list[tuple], srid: int) -> None:
    """COPY a batch's rows with their geometry, as the WKB it was read with: not written again
    by GEOS, which for a million polygons took seconds. Already on the grid, a geometry is
    staged as itself (hex WKB, which COPY's text format reads, taking the staging column's
    SRID); in another system, as WKB with its SRID for the transforming UPDATE."""
    if srid == BNG_SRID:
        for number, reference, properties, wkb, organisation in rows:
            geometry = None if wkb is None else wkb.hex()
            copy.write_row((number, reference, properties, None, srid, geometry, organisation))
    else:
        for number, reference, properties, wkb, organisation in rows:
            copy.write_row((number, reference, properties, wkb, srid, None, organisation))


def _stage_and_check(
    cursor: Any, *, dataset: Dataset, batches: Any, mapping: IngestMapping,
    staging: Staging, progress: Progress, parts: LoadParts,
) -> int:  # fmt: skip
    """Copy every batch into the staging table and run the checks; returns repaired count."""
    spatial = dataset.geometry_type != GeometryType.NONE
    schema = schema_of(dataset)
    cursor.execute(_STAGE)
    transforming = False  # whether any batch came in another coordinate system
    # The COPY's data is sent from a thread of its own, so that PostgreSQL stores (and computes
    # the checks of) one batch while this thread reads and maps the next: a million polygons
    # loaded about 15% faster than with the data sent between batches.
    with cursor.copy(
        "COPY ingest_stage (row, reference, properties, wkb, srid, geom, organisation) FROM STDIN",
        writer=QueuedLibpqWriter(cursor.cursor),
    ) as copy:
        for batch in batches:
            srid = _srid(batch.crs) if spatial and batch.geometry is not None else None
            rows = batch_rows(batch, mapping, schema, staging, parts)
            if srid is None:
                for number, reference, properties, _, organisation in rows:
                    copy.write_row((number, reference, properties, None, None, None, organisation))
            else:
                # Unreadable WKB is a problem of its row (below), not a missing geometry.
                shapes = shapely.from_wkb([row[3] for row in rows], on_invalid="ignore")
                rows, shapes, flattened = _flattened(rows, shapes)
                staging.flattened += flattened
                rows = _with_usable_geometry(rows, shapes, srid, staging)
                _stage_geometries(copy, rows, srid)
                transforming = transforming or srid != BNG_SRID
            staging.total = batch.first_row + len(batch) - 1
            progress(staging.total, "checking")
    repaired = 0
    if spatial:
        if transforming:
            cursor.execute(_TRANSFORM)
        dimension = _DIMENSION[GeometryType(dataset.geometry_type)]
        cursor.execute(_COLLECTIONS, {"dimension": dimension})
        cursor.execute(_REPAIR, {"dimension": dimension})
        repaired_rows, collapsed = [], []
        for row, reference, nothing_left in sorted(cursor.fetchall()):
            (collapsed if nothing_left else repaired_rows).append((row, reference))
        repaired = len(repaired_rows)
        staging.repaired_references = [
            reference for _, reference in repaired_rows[:REPAIRED_NAMED] if reference
        ]
        for row, _ in collapsed:
            staging.add(
                RowProblem(row, "geometry", "",
                           f"is invalid, and nothing is left of it when repaired: "
                           f"{_COLLAPSED.get(dimension, 'a geometry of no extent')}")
            )  # fmt: skip
        cursor.execute(
            _CHECKS,
            {"dimension": dimension, "kind": dataset.geometry_type,
             "unchecked": sorted(staging.unchecked_rows | {row for row, _ in collapsed})},
        )  # fmt: skip
        # Row by row from the result, not as a list of them all: every row may have one.
        for row in cursor:
            staging.add(RowProblem(*row))
        areas = covered_areas()
        if areas is not None:
            cursor.execute(_AREAS, areas)
            cursor.execute("CREATE INDEX ON ingest_areas USING gist (geom)")
            cursor.execute(_OUTSIDE_AREAS, {"dimension": dimension})
            if mapping.outside_areas_left_out:
                _outside_areas_leave_out(cursor, staging, [row for row, *_ in cursor.fetchall()])
            else:
                for row in cursor:
                    staging.add(RowProblem(*row))
            cursor.execute("DROP TABLE ingest_areas")  # as ingest_stage: see _publish
    cursor.execute(_DUPLICATES)
    for row in cursor:
        staging.add(RowProblem(*row))
    return repaired


def _outside_areas_leave_out(cursor: Any, staging: Staging, rows: list[int]) -> None:
    """Take ``rows`` (lying wholly outside the areas the platform covers) out of the load, for
    a source that covers more than those areas (``IngestMapping.outside_areas_left_out``), and
    say so in the report."""
    if not rows:
        return
    cursor.execute("DELETE FROM ingest_stage WHERE row = ANY(%s)", [rows])
    staging.notes.append(
        f"{len(rows):,} feature{'s' if len(rows) != 1 else ''} of the source "
        f"{'lie' if len(rows) != 1 else 'lies'} wholly outside the council areas this platform "
        f"covers (by more than {AREAS_MARGIN_METRES:,} m): left out, as this source covers "
        "more than them."
    )


def covered_areas() -> dict[str, int] | None:
    """The districts dataset and its current version's number, as the check for features
    outside the platform's areas asks them; None where the platform has no districts yet."""
    districts = Dataset.objects.filter(slug="districts").first()
    current = districts.current_version if districts else None
    return {"districts": districts.pk, "current": current.number} if current else None


def _report(staging: Staging, repaired: int) -> dict[str, Any]:
    problems = sorted(staging.problems, key=lambda problem: (problem.row, problem.field))
    notes = list(staging.notes)
    if staging.nul_rows:
        rows = "1 row" if staging.nul_rows == 1 else f"{staging.nul_rows:,} rows"
        notes.append(
            f"{rows} held NUL characters, which PostgreSQL cannot store in text; they were removed."
        )
    if staging.blank_rows:
        rows = (
            "1 blank row, with no value and no geometry, was"
            if staging.blank_rows == 1
            else f"{staging.blank_rows:,} blank rows, with no value and no geometry, were"
        )
        notes.append(f"{rows} left out.")
    if staging.flattened:
        geometries = "1 geometry" if staging.flattened == 1 else f"{staging.flattened:,} geometries"
        notes.append(
            f"{geometries} had heights (Z), which are not kept: the platform stores two dimensions."
        )
    notes += [
        times_of_day_note(name, count) for name, count in staging.times_of_day.items() if count
    ]
    return {
        "rows_read": staging.total,
        "rows_rejected": len(staging.rejected_rows),
        "geometries_repaired": repaired,
        "repaired_references": staging.repaired_references,
        "geometries_flattened": staging.flattened,
        "problem_count": staging.problem_count,
        "problems": [problem.as_dict() for problem in problems],
        "notes": notes,
    }


def ingest_run(
    *,
    actor: Any,
    dataset: Dataset,
    connector_key: str,
    config: dict[str, Any],
    mapping: IngestMapping,
    organisation: Organisation | None = None,
    progress: Progress = lambda rows, stage: None,
    fetch_policy: FetchPolicy | None = None,
    on_version: Callable[[DatasetVersion], None] = lambda version: None,
    source: Any = None,
) -> DatasetVersion:
    """Read the source, check it and publish it as the dataset's new current version.

    ``on_version`` is told of the draft as soon as it exists (the task queue records it, so a
    load whose worker dies can have its draft failed). ``source``: the saved source
    (``connectors.models.Source``) the load is of, whose credentials every request sends
    (``connectors.credentials``); a load that is no source's (an upload, the command line's
    address) sends none.

    Raises IngestRejected (the failed version keeps the report) when the source cannot be read
    or too many rows have problems; the current version is untouched either way.
    """
    connector = connector_for(connector_key)
    settings = connector_config(connector_key, config)
    version = version_start(
        actor=actor, dataset=dataset, source=connector.describe(settings), organisation=organisation
    )
    on_version(version)
    # The most rows the connector said it had read: a source that fails before its rows are
    # staged (a column missing, a page that cannot be read) reports the rows it got to.
    rows_seen = [0]

    def progress_seen(rows: int, stage: str) -> None:
        rows_seen[0] = max(rows_seen[0], rows)
        progress(rows, stage)

    with (
        tempfile.TemporaryDirectory(prefix="infraplan-ingest-") as scratch,
        closing(Staging()) as staging,
    ):
        context = SourceContext(
            workdir=Path(scratch),
            fetch_policy=fetch_policy or FetchPolicy.from_settings(),
            progress=progress_seen,
            notes=staging.notes,
            geometry=dataset.geometry_type != GeometryType.NONE,
            rename=dict(mapping.rename),
        )
        try:
            context.credentials = load_credentials(
                source=source, connector=connector, config=settings
            )
            with transaction.atomic(), connection.cursor() as cursor:
                repaired = _stage_and_check(
                    cursor, dataset=dataset, batches=connector.batches(settings, context),
                    mapping=mapping, staging=staging, progress=progress,
                    parts=LoadParts.read(dataset, organisation),
                )  # fmt: skip
                report = _report(staging, repaired)
                _problems_store(cursor, version=version, staging=staging)
                try:
                    # A rejection undoes what follows, not the problems stored: a load that is
                    # not published is the one whose every problem is wanted.
                    with transaction.atomic():
                        return _publish(
                            cursor, actor=actor, dataset=dataset, version=version,
                            organisation=organisation, mapping=mapping, staging=staging,
                            report=report, progress=progress,
                        )  # fmt: skip
                except _Reject as rejection:
                    cursor.execute("DROP TABLE ingest_stage")  # as in _publish
                    failed = version_fail(
                        actor=actor, version=version,
                        report={"error": str(rejection), "rejected": True, **rejection.report},
                    )  # fmt: skip
                    refused = IngestRejected(str(rejection), failed)
        except ConnectorError as error:
            # A server may echo what it was sent: no message keeps the source's credentials.
            said = context.credentials.scrubbed(str(error)) if context.credentials else str(error)
            with transaction.atomic(), connection.cursor() as cursor:
                failed = version_fail(
                    actor=actor, version=version,
                    report={
                        "error": said, "temporary": error.temporary,
                        **_report(staging, 0), "rows_read": max(staging.total, rows_seen[0]),
                    },
                )  # fmt: skip
                # Its rows went with the staging table: the problems are stored without
                # their references, as the report has them.
                _problems_store(cursor, version=failed, staging=staging, staged=False)
            raise IngestRejected(said, failed) from None
        except IngestCancelled as cancelled:
            version_fail(actor=actor, version=version, report={"error": str(cancelled)})
            raise
        except Exception as error:
            version_fail(actor=actor, version=version, report={"error": f"internal error: {error}"})
            raise
        except KeyboardInterrupt:  # Ctrl-C at the command line: the draft is not left loading
            version_fail(actor=actor, version=version, report={"error": INTERRUPTED})
            raise
    # Only a rejection comes here (a published load has returned), raised out of the transaction
    # that stored its failed version and problems.
    raise refused from None


def _publish(
    cursor: Any, *, actor: Any, dataset: Dataset, version: DatasetVersion,
    organisation: Organisation | None, mapping: IngestMapping, staging: Staging,
    report: dict[str, Any], progress: Progress,
) -> DatasetVersion:  # fmt: skip
    """The checked load's good rows as the draft's features, published as the current version;
    raises _Reject (the caller rolls back what this did) when the load may not be published."""
    if staging.total == 0:
        raise _Reject("The source holds no features.", report)
    share = len(staging.rejected_rows) / staging.total
    if share > mapping.max_invalid_share:
        raise _Reject(
            f"{len(staging.rejected_rows):,} of {staging.total:,} rows have problems "
            f"({share:.1%}), over the {mapping.max_invalid_share * 100:.3g}% allowed.",
            report,
        )
    if not mapping.allow_large_removal:
        # Before the draft's rows are written: a load that would empty a field most current
        # features hold is refused as a large removal is, the current version as it was.
        missing, extra = schema_differences(schema_of(dataset), staging.columns, mapping.reference)
        try:
            fields_emptying_guard(version=version, missing=missing, columns=extra)
        except FieldsEmptied as refused:
            raise _Reject(str(refused), report) from None
    if takes_fields_from_load(dataset):
        schema, note = schema_from_staged(
            cursor,
            columns=staging.columns,
            rejected=staging.rejected_rows,
            casts=mapping.casts,
        )
        dataset = dataset_save(
            actor=actor, slug=dataset.slug, owner=dataset.owner, field_schema=schema,
            label_field=dataset.label_field or name_field(schema),
        )  # fmt: skip
        report["notes"].append(note)
    progress(staging.total, "publishing")
    # A dataset's first load fills a table of its own, attached as its partition once its
    # features are placed and its indexes built (``partitions``); later loads insert through
    # the feature table.
    first = not partition_lock(cursor, dataset.pk)
    try:
        table = partition_table_create(cursor, dataset.pk) if first else Feature._meta.db_table
        kept = _features_insert(
            cursor, table=table, dataset=dataset, version=version, rejected=staging.rejected_rows
        )
    except PartitionRefused as refused:
        raise _Reject(str(refused), report) from None
    if kept:
        report["kept"] = len(kept)
        report["notes"].append(_kept_note(kept))
        _problems_mark_kept(cursor, version=version, problems=report["problems"], kept=kept)
    # ON COMMIT DROP waits for the outermost transaction: a caller that runs two loads in one
    # would find the first one's table still there.
    cursor.execute("DROP TABLE ingest_stage")
    version.report = {**version.report, **report}
    version.save(update_fields=["report"])
    if dataset.geometry_type != GeometryType.NONE:
        placed = _place(version, table)
        owner = organisation or dataset.owner
        if placed and owner.kind in COUNCILS_OF_ONE_DISTRICT and owner.area_code:
            placed["outside_own_area"] = references_outside_area(
                version=version, area=owner.area_code, table=table
            )
        if placed:
            version.report = {**version.report, "placement": placed}
            version.save(update_fields=["report"])
    if first:
        try:
            partition_indexes_build(cursor, dataset.pk)
            partition_attach(cursor, dataset.pk)
        except PartitionRefused as refused:
            raise _Reject(str(refused), report) from None
    try:
        return version_publish(
            actor=actor, version=version, removals_guarded=not mapping.allow_large_removal
        )
    except LargeRemoval as refused:
        said = f"{refused}{load_reference_change(dataset, mapping.reference)}"
        raise _Reject(said, report) from None
    except DatasetWithdrawn as refused:
        raise _Reject(str(refused), report) from None


# Every problem of a load, as ``Staging`` wrote them (in the order found), with each row's
# reference from the staging table where it is there.
_PROBLEMS = """
    CREATE TEMPORARY TABLE ingest_problems (
        found bigint GENERATED ALWAYS AS IDENTITY, row integer NOT NULL, field text NOT NULL,
        value text NOT NULL, problem text NOT NULL
    ) ON COMMIT DROP
"""
_PROBLEMS_STORE = f"""
    INSERT INTO {VersionProblem._meta.db_table} (version_id, row, reference, field, value, problem)
    SELECT %(version)s, p.row, {{reference}}, p.field, p.value, p.problem
    FROM ingest_problems p {{join}}
    ORDER BY p.found
"""  # noqa: S608 (the table's name is the model's; every value is bound)
# A megabyte at a time: the file holds as many lines as the load found problems.
_PROBLEMS_CHUNK = 1 << 20


def _problems_store(
    cursor: Any, *, version: DatasetVersion, staging: Staging, staged: bool = True
) -> None:
    """Store every problem ``staging`` found as the version's (``VersionProblem``), in the
    order found (which breaks ties of row and field as the report's sort does), with each
    row's reference where the staging table (``staged``) has the row."""
    if staging.problems_file is None:
        return
    cursor.execute(_PROBLEMS)
    staging.problems_file.seek(0)
    with cursor.copy(
        "COPY ingest_problems (row, field, value, problem) FROM STDIN (FORMAT csv)"
    ) as copy:
        while chunk := staging.problems_file.read(_PROBLEMS_CHUNK):
            copy.write(chunk)
    cursor.execute(
        _PROBLEMS_STORE.format(
            reference="coalesce(s.reference, '')" if staged else "''",
            join="LEFT JOIN ingest_stage s ON s.row = p.row" if staged else "",
        ),
        {"version": version.pk},
    )
    cursor.execute("DROP TABLE ingest_problems")  # as ingest_stage: see _publish


def _features_insert(
    cursor: Any, *, table: str, dataset: Dataset, version: DatasetVersion, rejected: set[int]
) -> list[str]:
    """The staged rows without problems as the draft's features in ``table``, each its staged
    organisation's, and the current features of rows with problems as they are (their
    references returned)."""
    cursor.execute(
        _INSERT.format(
            table=table,
            geometry="geom" if dataset.geometry_type != GeometryType.NONE else "NULL",
        ),
        {
            "sequence": feature_id_sequence(cursor),
            "dataset": dataset.pk,
            "version": version.number,
            "rejected": sorted(rejected),
        },
    )
    current = dataset.current_version
    if not rejected or current is None:
        return []
    cursor.execute(
        _KEEP_CURRENT,
        {
            "sequence": feature_id_sequence(cursor),
            "dataset": dataset.pk,
            "part": version.organisation_id,
            "version": version.number,
            "current": current.number,
            "rejected": sorted(rejected),
        },
    )
    return sorted(reference for (reference,) in cursor.fetchall())


KEPT_NAMED = 20


def _kept_note(kept: list[str]) -> str:
    named = ", ".join(kept[:KEPT_NAMED]) + (" ..." if len(kept) > KEPT_NAMED else "")
    rows = "1 row with problems is a feature" if len(kept) == 1 else (
        f"{len(kept):,} rows with problems are features"
    )  # fmt: skip
    return (
        f"{rows} of the current version: kept as {'it was' if len(kept) == 1 else 'they were'}, "
        f"not removed ({named}). Fix the rows listed below and load the file again to change "
        f"{'it' if len(kept) == 1 else 'them'}."
    )


def _problems_mark_kept(
    cursor: Any, *, version: DatasetVersion, problems: list[dict[str, Any]], kept: list[str]
) -> None:
    """Say on each problem of a row whose feature was kept that it was, in the report and in
    the version's stored problems, so that the report read alone (its CSV, say) does not
    suggest the feature was dropped."""
    cursor.execute("SELECT row, reference FROM ingest_stage WHERE nfc = ANY(%s)", [kept])
    marks = {
        row: f" (feature {reference!r} is kept as the current version has it)"
        for row, reference in cursor.fetchall()
    }
    for problem in problems:
        problem["problem"] += marks.get(problem["row"], "")
    cursor.execute(
        f"UPDATE {VersionProblem._meta.db_table} p SET problem = p.problem || k.mark"  # noqa: S608
        " FROM unnest(%s::integer[], %s::text[]) AS k (row, mark)"
        " WHERE p.version_id = %s AND p.row = k.row",
        [list(marks), list(marks.values()), version.pk],
    )


class _Reject(Exception):
    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


def _place(version: DatasetVersion, table: str) -> dict[str, Any] | None:
    """Districts and wards by containment, where the platform has those boundaries."""
    boundaries = set(
        Dataset.objects.filter(slug__in=["districts", "wards"]).values_list("slug", flat=True)
    )
    if boundaries != {"districts", "wards"}:
        return None
    return features_place(version=version, districts="districts", wards="wards", table=table)
