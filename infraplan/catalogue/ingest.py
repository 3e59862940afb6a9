"""The ingest pipeline: any connector's features into a dataset as a new version.

1. A draft version is opened (committed on its own, so a crash leaves a visible draft).
2. The connector's batches are mapped onto the dataset's schema (rename, constant, type) and
   copied into a temporary staging table with PostgreSQL's COPY: no row-by-row inserts.
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
report keeps the first ``REPORT_PROBLEMS_KEPT`` of them with the total count.
"""

import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import shapely
from django.db import connection, transaction
from pydantic import BaseModel, ConfigDict, Field
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from infraplan.accounts.models import Organisation
from infraplan.connectors.base import (
    ConnectorError,
    FeatureBatch,
    Progress,
    RowProblem,
    SourceContext,
)
from infraplan.connectors.fetch import FetchPolicy
from infraplan.connectors.registry import connector_config, connector_for

from .loading import MAX_EXACT_INTEGER, _json_value, typed_value
from .models import Dataset, DatasetVersion, Feature, GeometryType
from .placement import features_place
from .services import version_fail, version_publish, version_start

REPORT_PROBLEMS_KEPT = 10_000
# Great Britain in British National Grid metres, with a margin for offshore features: 10 km
# south and west of the grid's origin, east to 2°E and north to 61°N (the bounds of the grid's
# own extent, EPSG:27700's area of use), less the open Atlantic west of 70 km east and south of
# 700 km north (the Isles of Scilly reach 80 km east, Barra Head lies 780 km north). Longitudes
# and latitudes wrongly read as grid metres fall in that corner of the sea.
GREAT_BRITAIN = shapely.Polygon(
    [(70_000, -10_000), (688_900, -10_000), (616_700, 1_243_000), (-10_000, 1_256_000),
     (-10_000, 700_000), (70_000, 700_000)]
).wkt  # fmt: skip
BNG_SRID = 27700
REFERENCE_MAX_LENGTH = Feature._meta.get_field("reference").max_length
FieldType = Literal["string", "integer", "number", "boolean", "date"]
_DIMENSION = {GeometryType.POINT: 0, GeometryType.LINE: 1, GeometryType.POLYGON: 2}


class IngestMapping(BaseModel):
    """How a source's columns become the dataset's properties; saved with the source so the
    next refresh maps the same way."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reference: str = Field(
        description="The column (after renaming) holding each feature's reference."
    )
    rename: dict[str, str] = Field(default_factory=dict, description="Source column -> field name.")
    constants: dict[str, str | int | float | bool] = Field(default_factory=dict)
    casts: dict[str, FieldType] = Field(
        default_factory=dict,
        description="Field name (after renaming) -> the type its values are read as, for fields "
        "the dataset's schema does not type itself (the schema's type wins for its own fields).",
    )
    max_invalid_share: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="Reject the load when more than this share of rows has a problem; rows "
        "with problems are otherwise left out and listed.",
    )  # fmt: skip


class IngestRejected(Exception):
    """A load that did not become the current version; ``version`` holds its report."""

    def __init__(self, message: str, version: DatasetVersion) -> None:
        super().__init__(message)
        self.version = version


@dataclass
class _Staging:
    total: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    problem_count: int = 0
    rejected_rows: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    flattened: int = 0  # geometries whose heights were dropped
    nul_rows: int = 0  # rows whose NUL characters were removed

    def add(self, problem: RowProblem) -> None:
        self.problem_count += 1
        self.rejected_rows.add(problem.row)
        if len(self.problems) < REPORT_PROBLEMS_KEPT:
            self.problems.append(problem)


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


def _schema(dataset: Dataset) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in dataset.field_schema}


def _column_values(column: np.ndarray) -> list[Any]:
    """A column as JSON values (what ``_json_value`` makes of each), converted in one go where
    numpy can: this runs for every value of every load."""
    if column.dtype.kind in "iub":
        return column.tolist()
    if column.dtype.kind == "f":
        values = column.astype(object)
        values[~np.isfinite(column)] = None
        return values.tolist()
    if column.dtype.kind == "O":
        return [
            value if value is None or type(value) in _PLAIN else _json_value(value)
            for value in column.tolist()
        ]
    return [_json_value(value) for value in column]


# Kept as they are; a float is not among them, as it may be NaN or infinite (ArcGIS writes an
# unset double as a bare NaN, which Python's JSON reader accepts): ``_json_value`` makes that
# null, where PostgreSQL would refuse the JSON.
_PLAIN = {str, int, bool}


def _rows(
    batch: FeatureBatch, mapping: IngestMapping, schema: dict[str, dict[str, Any]],
    staging: _Staging,
) -> list[tuple]:  # fmt: skip
    """The batch as staging rows (row, reference, properties JSON, WKB), its problems noted.

    Works column by column (typing and the schema's rules once per column, not per value
    where the column's type settles it); the problems are reported in row order.
    """
    for problem in batch.problems:
        staging.add(problem)
    # Rows the connector could not read are reported as it said, not checked again here.
    unreadable = {problem.row for problem in batch.problems}
    count = len(batch)
    columns: dict[str, list[Any]] = {}
    source_columns: dict[str, np.ndarray] = {}
    for name, column in batch.fields.items():
        source_columns[mapping.rename.get(name, name)] = column
        columns[mapping.rename.get(name, name)] = _column_values(column)
    for name, value in mapping.constants.items():
        columns[name] = [value] * count
    empty_reference = (
        "the reference is empty"
        if mapping.reference in columns
        else f"the reference is empty: this part of the source has no column {mapping.reference!r}"
        f" (its columns are: {', '.join(columns) or 'none'})"
    )
    found: list[tuple[int, int, RowProblem]] = []  # (row, order, problem) to sort by row
    specs = {name: {"type": kind} for name, kind in mapping.casts.items() if name not in schema}
    specs.update(schema)
    for order, (name, spec) in enumerate(specs.items()):
        values = columns.get(name)
        if values is None:
            if name not in schema:
                continue  # a cast of a column this source does not have
            values = columns[name] = [None] * count
        kind = spec.get("type", "string")
        if kind == "string" and name in mapping.casts:
            values = columns[name] = [_as_text(value) for value in values]
            bad = set()
        elif kind != "string":
            # Infinity is null by now (JSON has none); in a number field it is not unknown but
            # wrong, so it is found in the source's column.
            infinite = (
                _infinities(source_columns[name])
                if kind in ("integer", "number") and name in source_columns
                else {}
            )
            typed = []
            for index, value in enumerate(values):
                if index in infinite:
                    typed.append(None)
                    shown = infinite[index]
                    problem = RowProblem(0, name, shown, f"{shown} is not a finite number")
                    found.append((index, 2 * order, problem))
                    continue
                try:
                    typed.append(typed_value(value, kind))
                except ValueError as error:
                    typed.append(value)
                    found.append((index, 2 * order, RowProblem(0, name, str(value), str(error))))
            bad = {index for index, rank, _ in found if rank == 2 * order}
            values = columns[name] = typed
        else:
            bad = set()
        allowed = spec.get("allowed")
        if spec.get("required") or allowed:
            shown = ", ".join(map(str, allowed or []))
            for index, value in enumerate(values):
                if index in bad:
                    continue
                if value in (None, ""):
                    if spec.get("required"):
                        found.append((index, 2 * order + 1, RowProblem(0, name, "", "is required")))
                elif allowed and value not in allowed:
                    found.append(
                        (index, 2 * order + 1,
                         RowProblem(0, name, str(value), f"is not one of: {shown}"))
                    )  # fmt: skip
    references = columns.get(mapping.reference, [None] * count)
    names = list(columns)
    rows = []
    for index, values in enumerate(zip(*columns.values(), strict=True) if names else [()] * count):
        number = batch.first_row + index
        if number in unreadable:
            continue
        reference = "" if references[index] is None else str(references[index])
        properties = json.dumps(dict(zip(names, values, strict=True)))
        if "\x00" in reference or "\\u0000" in properties:
            reference, properties = _without_nul(reference, properties, staging)
        if not reference:
            found.append(
                (
                    index,
                    2 * len(specs),
                    RowProblem(0, mapping.reference, "", empty_reference),
                )
            )
            continue
        if len(reference) > REFERENCE_MAX_LENGTH:
            found.append(
                (index, 2 * len(specs),
                 RowProblem(0, mapping.reference, f"{reference[:40]}…",
                            f"the reference is longer than {REFERENCE_MAX_LENGTH} characters"))
            )  # fmt: skip
            continue
        geometry = batch.geometry[index] if batch.geometry is not None else None
        rows.append((number, reference, properties, geometry))
    for index, _, problem in sorted(found, key=lambda item: item[:2]):
        number = batch.first_row + index
        if number not in unreadable:
            staging.add(RowProblem(number, problem.field, problem.value, problem.reason))
    return rows


def _infinities(column: np.ndarray) -> dict[int, str]:
    """The positions of infinite numbers in a source's column, each as JSON would write it.

    NaN is not among them: pyogrio gives an empty number as NaN and ArcGIS writes an unset one
    so, which makes NaN unknown (null), never a value."""
    if column.dtype.kind == "f":
        positions = np.flatnonzero(np.isinf(column)).tolist()
    elif column.dtype.kind == "O":
        positions = [
            index
            for index, value in enumerate(column.tolist())
            if isinstance(value, float) and math.isinf(value)
        ]
    else:
        return {}
    return {index: _number_text(float(column[index])) for index in positions}


def _number_text(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def _as_text(value: Any) -> str | None:
    """A value cast to text: true and false in lower case (as in JSON), and a whole number read
    as a double (as ArcGIS and GDAL often give codes) without its ".0" (one beyond what a
    double holds exactly keeps its exponent: its last digits would be made up)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_EXACT_INTEGER:
        return str(int(value))
    return str(value)


def _without_nul(reference: str, properties: str, staging: _Staging) -> tuple[str, str]:
    """The row's reference and properties JSON without NUL characters, which PostgreSQL cannot
    store in text (JSON sources can carry them as ``\\u0000``); the row is counted if any went."""
    cleaned = {
        name.replace("\x00", ""): value.replace("\x00", "") if isinstance(value, str) else value
        for name, value in json.loads(properties).items()
    }
    without = json.dumps(cleaned)
    if "\x00" in reference or without != properties:
        staging.nul_rows += 1
    return reference.replace("\x00", ""), without


_STAGE = """
    CREATE TEMPORARY TABLE ingest_stage (
        row integer PRIMARY KEY, reference text NOT NULL, properties jsonb NOT NULL,
        wkb bytea, srid integer, geom geometry, repaired boolean NOT NULL DEFAULT false
    ) ON COMMIT DROP
"""
_TRANSFORM = """
    UPDATE ingest_stage SET geom = CASE WHEN srid = 27700 THEN ST_SetSRID(ST_GeomFromWKB(wkb), 27700)
        ELSE ST_Transform(ST_SetSRID(ST_GeomFromWKB(wkb), srid), 27700) END
    WHERE wkb IS NOT NULL
"""
_REPAIR = """
    UPDATE ingest_stage
    SET geom = ST_CollectionExtract(ST_MakeValid(geom), %(dimension)s + 1), repaired = true
    WHERE geom IS NOT NULL AND NOT ST_IsValid(geom)
"""
# A geometry collection whose parts are all of the dataset's kind becomes the multi-geometry of
# that kind (nothing is lost: every vertex stays); one that mixes kinds is reported below.
_COLLECTIONS = """
    UPDATE ingest_stage SET geom = ST_CollectionExtract(geom, %(dimension)s + 1)
    WHERE GeometryType(geom) = 'GEOMETRYCOLLECTION'
          AND ST_NPoints(ST_CollectionExtract(geom, %(dimension)s + 1)) = ST_NPoints(geom)
"""
_CHECKS = """
    SELECT row, 'geometry', '', 'the geometry is missing or empty' FROM ingest_stage
    WHERE geom IS NULL OR ST_IsEmpty(geom)
    UNION ALL
    SELECT row, 'geometry', GeometryType(geom),
           'a ' || GeometryType(geom) || ' in a dataset of ' || %(kind)s || 's'
    FROM ingest_stage WHERE NOT ST_IsEmpty(geom) AND ST_Dimension(geom) <> %(dimension)s
    UNION ALL
    SELECT row, 'geometry', 'GEOMETRYCOLLECTION',
           'a GEOMETRYCOLLECTION mixing ' || %(kind)s || 's with other kinds of geometry: save '
           'its ' || %(kind)s || 's as one feature and the rest elsewhere'
    FROM ingest_stage
    WHERE GeometryType(geom) = 'GEOMETRYCOLLECTION' AND ST_Dimension(geom) = %(dimension)s
    UNION ALL
    SELECT row, 'geometry', ST_AsText(ST_PointOnSurface(geom), 0),
           'lies outside Great Britain (in British National Grid, E ' ||
           round(ST_X(ST_PointOnSurface(geom))) || ' N ' || round(ST_Y(ST_PointOnSurface(geom))) || ')'
    FROM ingest_stage
    WHERE NOT ST_IsEmpty(geom) AND NOT ST_Within(geom, ST_GeomFromText(%(great_britain)s, 27700))
"""
_DUPLICATES = """
    SELECT row, 'reference', reference, 'reference ' || quote_literal(reference) ||
           ' is also on row ' || first
    FROM (SELECT row, reference, min(row) OVER (PARTITION BY reference) AS first FROM ingest_stage) s
    WHERE row <> first
"""
_INSERT = """
    INSERT INTO {feature} (dataset_id, organisation_id, reference, properties, geom,
                                   district, ward, valid_from)
    SELECT %(dataset)s, %(organisation)s, reference, properties, {geometry}, '', '', %(version)s
    FROM ingest_stage WHERE row <> ALL(%(rejected)s::integer[]) ORDER BY row
"""


def _flattened(shapes: np.ndarray) -> tuple[np.ndarray, int]:
    """``shapes`` with heights (Z) dropped, and how many had them: the feature table holds
    two-dimensional geometry, and GPS heights and CAD levels are common in exports."""
    raised = shapely.has_z(shapes)
    count = int(raised.sum())
    if count:
        shapes = shapes.copy()
        shapes[raised] = shapely.force_2d(shapes[raised])
    return shapes, count


NOT_FINITE = "coordinates are not finite numbers"
NOT_LONGITUDE_LATITUDE = (
    "longitude/latitude out of range: longitudes lie between -180 and 180 and latitudes "
    "between -90 and 90"
)


def _with_usable_coordinates(
    rows: list[tuple], shapes: np.ndarray, srid: int, staging: _Staging
) -> tuple[list[tuple], np.ndarray]:
    """The rows (and their shapes) whose coordinates can be put on the grid; each other row is
    a problem naming its first bad coordinate, and is not staged.

    The transformation to the grid runs over the whole staging table in one statement, which
    one coordinate it cannot transform (NaN, or beyond what the coordinate system covers) would
    fail; so such coordinates are found here first, with the same transformation.
    """
    coordinates, owners = shapely.get_coordinates(shapes, return_index=True)
    if not len(coordinates):
        return rows, shapes
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
    bad: dict[int, tuple[str, str]] = {}  # the row's index -> (coordinate, reason), first found
    for failing, reason in checks:
        for position in np.flatnonzero(failing).tolist():
            point = f"POINT({_coordinate_text(xs[position])} {_coordinate_text(ys[position])})"
            bad.setdefault(int(owners[position]), (point, reason))
    if not bad:
        return rows, shapes
    for index in sorted(bad):
        staging.add(RowProblem(rows[index][0], "geometry", *bad[index]))
    keep = [index for index in range(len(rows)) if index not in bad]
    return [rows[index] for index in keep], shapes[keep]


def _coordinate_text(value: float) -> str:
    return _number_text(value) if not math.isfinite(value) else format(value, ".15g")


def _stage_geometries(copy: Any, rows: list[tuple], shapes: np.ndarray, srid: int) -> None:
    """COPY a batch's rows with their geometry. Already on the grid, a geometry is staged as
    itself (hex EWKB, which COPY's text format reads); in another system, as WKB with its SRID
    for the transforming UPDATE."""
    if srid == BNG_SRID:
        geometries = shapely.to_wkb(shapely.set_srid(shapes, BNG_SRID), hex=True, include_srid=True)
        for (number, reference, properties, _), geometry in zip(rows, geometries, strict=True):
            copy.write_row((number, reference, properties, None, srid, geometry))
    else:
        for (number, reference, properties, _), wkb in zip(
            rows, shapely.to_wkb(shapes), strict=True
        ):
            copy.write_row((number, reference, properties, wkb, srid, None))


def _stage_and_check(
    cursor: Any, *, dataset: Dataset, batches: Any, mapping: IngestMapping,
    staging: _Staging, progress: Progress,
) -> int:  # fmt: skip
    """Copy every batch into the staging table and run the checks; returns repaired count."""
    spatial = dataset.geometry_type != GeometryType.NONE
    schema = _schema(dataset)
    cursor.execute(_STAGE)
    transforming = False  # whether any batch came in another coordinate system
    with cursor.copy(
        "COPY ingest_stage (row, reference, properties, wkb, srid, geom) FROM STDIN"
    ) as copy:
        for batch in batches:
            srid = _srid(batch.crs) if spatial and batch.geometry is not None else None
            rows = _rows(batch, mapping, schema, staging)
            if srid is None:
                for number, reference, properties, _ in rows:
                    copy.write_row((number, reference, properties, None, None, None))
            else:
                # Unreadable WKB becomes a missing geometry, reported by the checks below.
                shapes = shapely.from_wkb([row[3] for row in rows], on_invalid="ignore")
                shapes, flattened = _flattened(shapes)
                staging.flattened += flattened
                rows, shapes = _with_usable_coordinates(rows, shapes, srid, staging)
                _stage_geometries(copy, rows, shapes, srid)
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
        repaired = cursor.rowcount
        cursor.execute(
            _CHECKS,
            {"dimension": dimension, "kind": dataset.geometry_type, "great_britain": GREAT_BRITAIN},
        )
        for row in cursor.fetchall():
            staging.add(RowProblem(*row))
    cursor.execute(_DUPLICATES)
    for row in cursor.fetchall():
        staging.add(RowProblem(*row))
    return repaired


def _report(staging: _Staging, repaired: int) -> dict[str, Any]:
    problems = sorted(staging.problems, key=lambda problem: (problem.row, problem.field))
    notes = list(staging.notes)
    if staging.nul_rows:
        rows = "1 row" if staging.nul_rows == 1 else f"{staging.nul_rows:,} rows"
        notes.append(
            f"{rows} held NUL characters, which PostgreSQL cannot store in text; they were removed."
        )
    if staging.flattened:
        geometries = "1 geometry" if staging.flattened == 1 else f"{staging.flattened:,} geometries"
        notes.append(
            f"{geometries} had heights (Z), which are not kept: the platform stores two dimensions."
        )
    return {
        "rows_read": staging.total,
        "rows_rejected": len(staging.rejected_rows),
        "geometries_repaired": repaired,
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
) -> DatasetVersion:
    """Read the source, check it and publish it as the dataset's new current version.

    ``on_version`` is told of the draft as soon as it exists (the task queue records it, so a
    load whose worker dies can have its draft failed).

    Raises IngestRejected (the failed version keeps the report) when the source cannot be read
    or too many rows have problems; the current version is untouched either way.
    """
    connector = connector_for(connector_key)
    settings = connector_config(connector_key, config)
    version = version_start(
        actor=actor, dataset=dataset, source=connector.describe(settings), organisation=organisation
    )
    on_version(version)
    staging = _Staging()
    with tempfile.TemporaryDirectory(prefix="infraplan-ingest-") as scratch:
        context = SourceContext(
            workdir=Path(scratch),
            fetch_policy=fetch_policy or FetchPolicy.from_settings(),
            progress=progress,
            notes=staging.notes,
        )
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                repaired = _stage_and_check(
                    cursor, dataset=dataset, batches=connector.batches(settings, context),
                    mapping=mapping, staging=staging, progress=progress,
                )  # fmt: skip
                report = _report(staging, repaired)
                if staging.total == 0:
                    raise _Reject("The source holds no features.", report)
                share = len(staging.rejected_rows) / staging.total
                if share > mapping.max_invalid_share:
                    raise _Reject(
                        f"{len(staging.rejected_rows):,} of {staging.total:,} rows have problems "
                        f"({share:.1%}), over the {mapping.max_invalid_share:.0%} allowed.",
                        report,
                    )
                progress(staging.total, "publishing")
                geometry = "geom" if dataset.geometry_type != GeometryType.NONE else "NULL"
                cursor.execute(
                    _INSERT.format(feature=Feature._meta.db_table, geometry=geometry),
                    {
                        "dataset": dataset.pk,
                        "organisation": (organisation or dataset.owner).pk,
                        "version": version.number,
                        "rejected": sorted(staging.rejected_rows),
                    },
                )
                # ON COMMIT DROP waits for the outermost transaction: a caller that runs two
                # loads in one would find the first one's table still there.
                cursor.execute("DROP TABLE ingest_stage")
                version.report = {**version.report, **report}
                version.save(update_fields=["report"])
                if dataset.geometry_type != GeometryType.NONE:
                    placed = _place(version)
                    if placed:
                        version.report = {**version.report, "placement": placed}
                        version.save(update_fields=["report"])
                return version_publish(actor=actor, version=version)
        except _Reject as rejection:
            failed = version_fail(
                actor=actor, version=version, report={"error": str(rejection), **rejection.report}
            )
            raise IngestRejected(str(rejection), failed) from None
        except ConnectorError as error:
            failed = version_fail(
                actor=actor, version=version,
                report={"error": str(error), "temporary": error.temporary, **_report(staging, 0)},
            )  # fmt: skip
            raise IngestRejected(str(error), failed) from None
        except Exception as error:
            version_fail(actor=actor, version=version, report={"error": f"internal error: {error}"})
            raise


class _Reject(Exception):
    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


def _place(version: DatasetVersion) -> dict[str, Any] | None:
    """Districts and wards by containment, where the platform has those boundaries."""
    boundaries = set(
        Dataset.objects.filter(slug__in=["districts", "wards"]).values_list("slug", flat=True)
    )
    if boundaries != {"districts", "wards"}:
        return None
    return features_place(version=version, districts="districts", wards="wards")
