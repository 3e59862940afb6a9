"""Loading a vector file into a dataset as a new version.

The file is read and checked in full before anything is published: every problem is reported
with its row number, field and reason, and a file with problems never replaces the current
version (the failed draft and its report are kept for the dataset's history).
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from pyproj import CRS, Transformer

from infraplan.accounts.models import Organisation

from .models import Dataset, DatasetVersion, GeometryType
from .services import FeatureRow, version_add_features, version_fail, version_publish, version_start

BNG = CRS.from_epsg(27700)
_SHAPELY_TYPES = {
    GeometryType.POINT: {"Point", "MultiPoint"},
    GeometryType.LINE: {"LineString", "MultiLineString"},
    GeometryType.POLYGON: {"Polygon", "MultiPolygon"},
}


@dataclass
class RowProblem:
    row: int  # 1-based, in file order
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "reason": self.reason}


@dataclass
class LoadError(Exception):
    """A file that cannot become a version; ``problems`` says exactly why."""

    dataset: str
    problems: list[RowProblem] = field(default_factory=list)
    message: str = ""

    def __str__(self) -> str:
        head = self.message or f"{len(self.problems)} problem(s) in the file for {self.dataset}"
        detail = "; ".join(f"row {p.row}, {p.field}: {p.reason}" for p in self.problems[:10])
        more = f" (and {len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
        return f"{head}: {detail}{more}" if detail else head


@dataclass(frozen=True)
class LoadOptions:
    reference_field: str
    value_fixes: dict[str, dict[str, str]] = field(default_factory=dict)

    def fingerprint(self) -> str:
        return json.dumps(
            {"reference_field": self.reference_field, "value_fixes": self.value_fixes},
            sort_keys=True,
        )


def file_checksum(path: Path, options: LoadOptions) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    digest.update(options.fingerprint().encode())
    return digest.hexdigest()


def _to_bng(geometries: np.ndarray, source_crs: CRS) -> np.ndarray:
    if source_crs.equals(BNG):
        return geometries
    transformer = Transformer.from_crs(source_crs, BNG, always_xy=True)

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometries, project)


def _json_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def read_rows(
    path: Path, *, dataset: Dataset, organisation: Organisation, options: LoadOptions
) -> list[FeatureRow]:
    """Read and check the whole file; raise LoadError listing every problem."""
    try:
        meta, _fids, wkb, field_data = pyogrio.raw.read(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        raise LoadError(
            dataset.slug, message=f"{path.name} cannot be read as a vector file: {error}"
        ) from None
    names = list(meta["fields"])
    if options.reference_field not in names:
        raise LoadError(
            dataset.slug,
            message=f"{path.name} has no field {options.reference_field!r} to use as the "
            f"reference (its fields are: {', '.join(names)})",
        )
    spatial = dataset.geometry_type != GeometryType.NONE
    if spatial and (wkb is None or meta.get("crs") is None):
        raise LoadError(
            dataset.slug, message=f"{path.name} has no geometry or no coordinate system"
        )
    geometries = shapely.from_wkb(wkb) if spatial else None
    if spatial:
        geometries = _to_bng(geometries, CRS.from_user_input(meta["crs"]))
    problems: list[RowProblem] = []
    rows: list[FeatureRow] = []
    seen: dict[str, int] = {}
    for index in range(len(field_data[0]) if field_data else 0):
        number = index + 1
        properties = {name: _json_value(field_data[i][index]) for i, name in enumerate(names)}
        for name, fixes in options.value_fixes.items():
            if properties.get(name) in fixes:
                properties[name] = fixes[properties[name]]
        reference = properties.get(options.reference_field)
        if reference in (None, ""):
            problems.append(RowProblem(number, options.reference_field, "the reference is empty"))
            continue
        reference = str(reference)
        if reference in seen:
            problems.append(
                RowProblem(number, options.reference_field,
                           f"reference {reference!r} is also on row {seen[reference]}")
            )  # fmt: skip
            continue
        seen[reference] = number
        geometry = None
        if spatial:
            shape = geometries[index]
            if shape is None or shape.is_empty:
                problems.append(RowProblem(number, "geometry", "the geometry is missing or empty"))
                continue
            if shape.geom_type not in _SHAPELY_TYPES[GeometryType(dataset.geometry_type)]:
                problems.append(
                    RowProblem(number, "geometry",
                               f"a {shape.geom_type} in a dataset of {dataset.geometry_type}s")
                )  # fmt: skip
                continue
            if not shape.is_valid:
                problems.append(
                    RowProblem(number, "geometry", f"invalid: {shapely.is_valid_reason(shape)}")
                )
                continue
            geometry = GEOSGeometry(memoryview(shapely.to_wkb(shape)), srid=27700)
        rows.append(FeatureRow(organisation, reference, properties, geometry))
    if problems:
        raise LoadError(dataset.slug, problems=problems)
    if not rows:
        raise LoadError(dataset.slug, message=f"{path.name} holds no features")
    return rows


def dataset_load_file(
    *,
    actor: Any,
    dataset: Dataset,
    path: Path,
    options: LoadOptions,
    organisation: Organisation | None = None,
) -> DatasetVersion:
    """Load ``path`` as the dataset's new current version.

    A file identical to the current version's (same bytes, same options) changes nothing and
    returns the current version. A bad file raises LoadError after recording a failed version;
    the current version is untouched.
    """
    checksum = file_checksum(path, options)
    current = dataset.current_version
    if current is not None and current.source_checksum == checksum:
        return current
    version = version_start(
        actor=actor, dataset=dataset, source=path.name, source_checksum=checksum
    )
    try:
        rows = read_rows(path, dataset=dataset, organisation=organisation or dataset.owner,
                         options=options)  # fmt: skip
        with transaction.atomic():
            version_add_features(version=version, rows=rows)
            return version_publish(actor=actor, version=version)
    except LoadError as error:
        version_fail(
            actor=actor,
            version=version,
            report={"error": str(error), "problems": [p.as_dict() for p in error.problems]},
        )
        raise
    except Exception as error:
        # Anything unexpected (a database error, say) still closes the draft, then propagates.
        version_fail(actor=actor, version=version, report={"error": f"internal error: {error}"})
        raise
