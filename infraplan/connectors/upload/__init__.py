"""The ``upload`` connector: a file an officer uploaded (or the CLI was given), read in batches.

What the file is and where its geometry lies is worked out by ``files.upload_open``; this module
turns it into ``FeatureBatch``es: vector formats as they are, tables by building points from their
coordinate columns (or geometries from a WKT column), each unreadable value a row problem.
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyogrio
import shapely

from ..base import (
    Connector,
    ConnectorConfig,
    ConnectorError,
    FeatureBatch,
    RowProblem,
    SourceContext,
)
from ..registry import connector_register
from .cells import text_cells_as_shown
from .encodings import ENCODING_TITLES
from .files import upload_open
from .opened import OpenedUpload, UploadError, column_names, gdal_reason
from .tables import coordinate_number, wkt_shapes

CURVED = (
    "is a curved geometry (arcs), which the platform does not read: save it with straight segments"
)


NOT_A_NUMBER = "is not a number"
WITH_A_COMMA = (
    ": write coordinates without thousands separators and with a full stop before any "
    "decimals (615000.5), or save the table separated by semicolons to keep decimal commas"
)
# The same in a table already separated by semicolons, whose commas are its decimal signs.
WITH_A_THOUSANDS_COMMA = ": write coordinates without thousands separators (615100, not 615,100)"


class UploadConfig(ConnectorConfig):
    path: str  # a file the platform stored: never a path or URL typed by a user
    layer: str | None = None
    batch_size: int = 50_000


def _numbers(
    values: np.ndarray, name: str, first_row: int, *, decimal_comma: bool
) -> tuple[np.ndarray, list[RowProblem]]:
    numbers = np.full(len(values), np.nan)
    problems = []
    for index, value in enumerate(values):
        if _is_empty(value):
            continue
        try:
            numbers[index] = coordinate_number(value, decimal_comma=decimal_comma)
        except (TypeError, ValueError):
            hint = WITH_A_THOUSANDS_COMMA if decimal_comma else WITH_A_COMMA
            why = NOT_A_NUMBER + (hint if "," in str(value) else "")
            problems.append(RowProblem(first_row + index, name, str(value), why))
    return numbers, problems


def _table_geometry(
    opened: OpenedUpload, fields: dict[str, np.ndarray], first_row: int
) -> tuple[np.ndarray, list[RowProblem]]:
    if opened.wkt_column:
        values = fields[opened.wkt_column]
        shapes, curved = wkt_shapes(values)
        problems = [
            RowProblem(first_row + index, opened.wkt_column, str(value)[:200],
                       CURVED if curved[index] else "is not WKT")
            for index, (value, shape) in enumerate(zip(values, shapes, strict=True))
            if shape is None and value not in (None, "")
        ]  # fmt: skip
        return shapely.to_wkb(shapes), problems
    comma = opened.decimal_comma
    xs, x_problems = _numbers(
        fields[opened.x_column], opened.x_column, first_row, decimal_comma=comma
    )
    ys, y_problems = _numbers(
        fields[opened.y_column], opened.y_column, first_row, decimal_comma=comma
    )
    present = ~(np.isnan(xs) | np.isnan(ys))
    geometry = np.full(len(xs), None, dtype=object)
    geometry[present] = shapely.to_wkb(shapely.points(xs[present], ys[present]))
    return geometry, x_problems + y_problems + _half_points(opened, fields, first_row)


def _half_points(
    opened: OpenedUpload, fields: dict[str, np.ndarray], first_row: int
) -> list[RowProblem]:
    """Rows with one coordinate cell empty and the other not: the empty cell, named. (Rows with
    both empty have no point at all, which the pipeline reports against the geometry.)"""
    x_empty = _empty(fields[opened.x_column])
    y_empty = _empty(fields[opened.y_column])
    problems = []
    for index in np.flatnonzero(x_empty != y_empty):
        empty, filled = (opened.x_column, opened.y_column)
        if y_empty[index]:
            empty, filled = filled, empty
        why = f"is empty, while {filled} has a value: a point needs both coordinates"
        problems.append(RowProblem(first_row + int(index), empty, "", why))
    return problems


def _is_empty(value: object) -> bool:
    """A cell with nothing in it (no value, or only spaces)."""
    return value is None or (isinstance(value, str) and not value.strip())


def _empty(values: np.ndarray) -> np.ndarray:
    return np.array([_is_empty(value) for value in values], dtype=bool)


_DATES_AND_TIMES = {"OFTDate", "OFTDateTime", "OFTTime"}


def _read(opened: OpenedUpload, *, skip: int, count: int) -> tuple[dict, np.ndarray, list]:
    """Up to ``count`` features after the first ``skip``: metadata, WKB and field values.

    A file can hold a date no calendar has (30 February), which pyogrio cannot make a date of:
    it fails the whole read. The batch is then read again with its date and time fields as
    text (in ISO 8601, as the pipeline checks dates in), so that the date is a problem of its
    row rather than of the load.
    """
    try:
        meta, _, wkb, field_data = pyogrio.raw.read(
            opened.gdal_path, layer=opened.layer, encoding=opened.encoding,
            read_geometry=opened.geometry and not opened.is_table, skip_features=skip,
            max_features=count,
            **opened.open_options,
        )  # fmt: skip
        return meta, wkb, field_data
    except UnicodeDecodeError:
        raise  # text not in its encoding: no read of the batch helps (a ValueError, too)
    except ValueError:
        info = pyogrio.read_info(
            opened.gdal_path, layer=opened.layer, encoding=opened.encoding, **opened.open_options
        )
        dated = {
            name for name, kind in zip(info["fields"], info["ogr_types"], strict=True)
            if kind in _DATES_AND_TIMES
        }  # fmt: skip
        if not dated:
            raise
    selected = ", ".join(
        f"CAST({_quoted(name)} AS character) AS {_quoted(name)}" if name in dated else _quoted(name)
        for name in info["fields"]
    )
    meta, _, wkb, field_data = pyogrio.raw.read(
        opened.gdal_path, sql=f"SELECT {selected} FROM {_quoted(info['layer_name'])}",  # noqa: S608 (names quoted)
        sql_dialect="OGRSQL", encoding=opened.encoding,
        read_geometry=opened.geometry and not opened.is_table,
        skip_features=skip, max_features=count, **opened.open_options,
    )  # fmt: skip
    for position, name in enumerate(meta["fields"]):
        if name in dated:
            # OGR writes 2026/02/30 14:30:00 for what ISO 8601 writes 2026-02-30T14:30:00.
            field_data[position] = np.array(
                [value if value is None else value.replace("/", "-").replace(" ", "T", 1)
                 for value in field_data[position]],
                dtype=object,
            )  # fmt: skip
    return meta, wkb, field_data


def _quoted(name: str) -> str:
    """A name in OGR SQL, which escapes a double quote in it with a backslash."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _distinct_names(names: list[str], notes: list[str] | None) -> list[str]:
    """Column names made distinct: a table may repeat a header, and each column must keep its
    values. The second ``name`` becomes ``name_2`` (the third ``name_3``), said in ``notes``."""
    seen: dict[str, int] = {}
    distinct = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        renamed = name
        if seen[name] > 1:
            renamed = f"{name}_{seen[name]}"
            while renamed in names or renamed in distinct:  # a column of that name exists
                renamed += "_"
        distinct.append(renamed)
    repeated = [name for name, times in seen.items() if times > 1]
    if repeated and notes is not None:
        notes.append(
            f"The column{'s' if len(repeated) > 1 else ''} {', '.join(repeated)} "
            f"{'appear' if len(repeated) > 1 else 'appears'} more than once; later ones are read "
            "as "
            + ", ".join(new for new, old in zip(distinct, names, strict=True) if new != old)
            + "."
        )
    return distinct


def _not_text(name: str, encoding: str | None, row: int | None) -> str:
    """What to say of text GDAL handed over that is not in the encoding it was read in: a
    GeoPackage or FlatGeobuf whose text is not UTF-8, as the formats require (the reader
    decides the encoding of CSV, GeoJSON and Shapefiles from their bytes). ``row`` is the
    first of the batch that failed (None: its column names, or a row read to open it)."""
    title = ENCODING_TITLES.get(encoding or "UTF-8", encoding)
    where = "" if row is None else f" (in row {row:,} or after)"
    return (
        f"The text in {name} is not {title}, as the file says it is{where}: export the file "
        "again from your GIS with its text as UTF-8."
    )


@connector_register
class UploadConnector(Connector):
    key = "upload"
    title = "File upload"
    Config = UploadConfig

    def describe(self, config: UploadConfig) -> str:
        return Path(config.path).name + (f" (layer {config.layer})" if config.layer else "")

    def batches(self, config: UploadConfig, context: SourceContext) -> Iterator[FeatureBatch]:
        try:
            opened = upload_open(
                Path(config.path), workdir=context.workdir, layer=config.layer,
                geometry=context.geometry, rename=context.rename,
            )  # fmt: skip
        except UploadError as error:
            raise ConnectorError(str(error)) from None
        except UnicodeDecodeError:
            raise ConnectorError(_not_text(Path(config.path).name, None, None)) from None
        context.notes.extend(opened.notes)
        read = 0
        while True:
            try:
                meta, wkb, field_data = _read(opened, skip=read, count=config.batch_size)
            except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
                raise ConnectorError(
                    f"The file could not be read past row {read:,}: it may be truncated "
                    f"or damaged ({gdal_reason(error, opened.name)})."
                ) from None
            except UnicodeDecodeError:
                raise ConnectorError(_not_text(opened.name, opened.encoding, read + 1)) from None
            names = _distinct_names(
                column_names(meta["fields"]), context.notes if read == 0 else None
            )
            if opened.format == "XLSX":
                field_data = [
                    text_cells_as_shown(values) if values.dtype == object else values
                    for values in field_data
                ]
            fields = dict(zip(names, field_data, strict=True))
            count = len(field_data[0]) if len(field_data) else (0 if wkb is None else len(wkb))
            if count == 0:
                break
            problems: list[RowProblem] = []
            from_columns: tuple[str, ...] = ()
            if not opened.geometry:
                geometry = None
            elif opened.is_table:
                geometry, problems = _table_geometry(opened, fields, read + 1)
                from_columns = tuple(
                    name for name in (opened.x_column, opened.y_column, opened.wkt_column) if name
                )
            else:
                geometry = wkb
            # Said before the batch is checked, so progress reads in the order things happen.
            context.progress(read + count, "reading")
            yield FeatureBatch(read + 1, fields, geometry, opened.crs, problems, from_columns)
            read += count
            if count < config.batch_size:
                break
