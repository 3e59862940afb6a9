"""GeoPackage (1.3, the version the widest range of GIS reads): one layer named after the
dataset's slug, in EPSG:27700, with columns typed from the field schema (whole numbers, numbers,
booleans, dates, text) and the download's metadata on the layer and the file. The layer's
geometry type is that of the features chosen; an empty download's is that of the whole dataset,
so that it can be used as a template.

Written with pyogrio a batch of features at a time to a temporary file, which is then copied to
the output. A value that is not of its field's declared type (a load may keep some) is left
empty in a typed column; a property outside the schema is text (lists and objects as JSON).
"""

import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy
import pyogrio.raw

from infraplan.catalogue.models import GeometryType

from .base import Exporter
from .registry import exporter_register
from .selection import Selection, selection_geometry_types
from .table import Column, json_text, table_columns, table_row

if TYPE_CHECKING:
    from infraplan.catalogue.sources import FeatureRecord

    from .selectors import Export

BATCH = 5000
VERSION = "1.3"  # pyogrio's GDAL writes 1.4, which older readers warn about

_MULTI = {"POINT": "MultiPoint", "LINESTRING": "MultiLineString", "POLYGON": "MultiPolygon"}
_SINGLE = {"POINT": "Point", "LINESTRING": "LineString", "POLYGON": "Polygon"}
# The layer type of an empty download of a dataset that has no geometry yet: lines and
# polygons as multi-part, which single parts fit too (promoted).
_BY_DATASET = {
    GeometryType.POINT: "Point", GeometryType.LINE: "MultiLineString",
    GeometryType.POLYGON: "MultiPolygon",
}  # fmt: skip


def layer_geometry_type(types: frozenset[str]) -> tuple[str, bool]:
    """The layer's geometry type for the kinds of geometry chosen, and whether single parts must
    be made multi-part to fit it (GeoPackage wants one type per layer)."""
    if not types:
        return "Unknown", False
    if len(types) == 1 and next(iter(types)) in _SINGLE:
        return _SINGLE[next(iter(types))], False
    bases = {kind.removeprefix("MULTI") for kind in types}
    if len(bases) == 1 and next(iter(bases)) in _MULTI:
        return _MULTI[next(iter(bases))], True
    return "Unknown", False


def empty_layer_geometry_type(export: "Export") -> str:
    """The layer type of a download that holds no geometry: the type a download of all of the
    dataset (as shown) has, so that the empty file is a template its features fit; else, where
    the dataset has no geometry to judge by, the one its geometry type names."""
    types = selection_geometry_types(export.dataset, export.source, Selection())
    if not types:
        return _BY_DATASET.get(export.dataset.geometry_type, "Unknown")
    return layer_geometry_type(types)[0]


_NUMPY_TYPES = {"integer": "int64", "number": "float64", "boolean": "bool"}


def _fits(value: Any, kind: str) -> bool:
    """Whether ``value`` can be written in a column of ``kind`` (true is not the number 1)."""
    if isinstance(value, bool):
        return kind == "boolean"
    return {"integer": isinstance(value, int), "number": isinstance(value, int | float)}.get(
        kind, False
    )


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json_text(value)


def _array(values: list[Any], column: Column) -> tuple[numpy.ndarray, numpy.ndarray | None]:
    """A column's values as a typed array and its mask of unknown values (None: no mask)."""
    kind = column.type
    if kind in _NUMPY_TYPES:
        fits = [value if _fits(value, kind) else None for value in values]
        mask = numpy.array([value is None for value in fits], dtype=bool)
        filled = [0 if value is None else value for value in fits]
        return numpy.array(filled, dtype=_NUMPY_TYPES[kind]), mask
    if kind == "date":
        days = [value.isoformat() if isinstance(value, date) else "NaT" for value in values]
        return numpy.array(days, dtype="datetime64[D]"), None
    return numpy.array([_text(value) for value in values], dtype=object), None


def _batches(export: "Export") -> Iterator[list["FeatureRecord"]]:
    batch: list[FeatureRecord] = []
    for record in export.records():
        batch.append(record)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@exporter_register
class GeoPackageExporter(Exporter):
    key = "gpkg"
    title = "GeoPackage"
    hint = "For QGIS and ArcGIS: one layer in British National Grid with typed columns."
    media_type = "application/geopackage+sqlite3"
    spatial_only = True

    def write(self, export: "Export", out: BinaryIO) -> None:
        columns = table_columns(export, geometry="none")
        if export.summary.geometry_types:
            geometry_type, promote = layer_geometry_type(export.summary.geometry_types)
        else:  # no feature chosen, or none with a geometry
            geometry_type, promote = empty_layer_geometry_type(export), False
        metadata = dict(export.about.rows())
        options = {
            "driver": "GPKG", "layer": export.dataset.slug, "geometry_type": geometry_type,
            "crs": "EPSG:27700", "promote_to_multi": promote, "fields": [c.name for c in columns],
        }  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="infraplan-export-") as folder:
            path = Path(folder) / f"{export.dataset.slug}.gpkg"
            first = True
            for batch in _batches(export):
                self._write_batch(path, batch, export, columns, options, first, metadata)
                first = False
            if first:  # nothing chosen: the layer, empty, with its columns
                self._write_batch(path, [], export, columns, options, first, metadata)
            with path.open("rb") as written:
                shutil.copyfileobj(written, out)

    @staticmethod
    def _write_batch(
        path: Path, batch: list["FeatureRecord"], export: "Export", columns: list[Column],
        options: dict[str, Any], first: bool, metadata: dict[str, str],
    ) -> None:  # fmt: skip
        rows = [table_row(export, columns, record) for record in batch]
        arrays, masks = [], []
        for index, column in enumerate(columns):
            array, mask = _array([row[index] for row in rows], column)
            arrays.append(array)
            masks.append(mask)
        geometry = numpy.array(
            [
                bytes(record.geometry.wkb)
                if record.geometry is not None and not record.geometry.empty else None
                for record in batch
            ],
            dtype=object,
        )  # fmt: skip
        extra: dict[str, Any] = {"append": True}
        if first:
            extra = {
                "dataset_options": {"VERSION": VERSION},
                "layer_options": {"IDENTIFIER": export.about.title, "DESCRIPTION": export.dataset.abstract},
                "layer_metadata": metadata,
                "dataset_metadata": metadata,
            }  # fmt: skip
        pyogrio.raw.write(str(path), geometry, arrays, field_mask=masks, **options, **extra)
