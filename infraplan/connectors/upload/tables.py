"""CSV and XLSX tables: which sheet to read, where the geometry is (point coordinate columns
under the names UK publishers use, or a WKT column) and in which coordinate system, declared by
the columns' names or worked out from the values' ranges."""

import csv
import re
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from django.conf import settings
from pyproj import Transformer

from infraplan.connectors.base import names_listed

from .formulas import note_formulas_without_results
from .opened import (
    BNG,
    CHOOSE_BY_NAME,
    FORMAT_TITLES,
    WGS84,
    OpenedUpload,
    UploadError,
    column_names,
    gdal_reason,
)
from .sheets import headers_guessed, sheet_first

# Header pairs UK publishers use for point coordinates, in order of preference (lower case),
# each with the coordinate system the names imply (None: decided from the values).
# Names that say "grid" come first; then names a council's GIS exports with the system unsaid.
POINT_HEADERS: list[tuple[str, str, str | None]] = [
    ("easting", "northing", BNG),
    ("eastings", "northings", BNG),
    ("east", "north", BNG),
    ("geox", "geoy", None),
    ("x", "y", None),
    ("x_coordinate", "y_coordinate", None),
    ("x coordinate", "y coordinate", None),
    ("x_coord", "y_coord", None),
    ("xcoord", "ycoord", None),
    ("longitude", "latitude", WGS84),
    ("lon", "lat", WGS84),
    ("long", "lat", WGS84),
    ("lng", "lat", WGS84),
]


WKT_HEADERS = ["wkt", "geometry", "geom", "the_geom", "point"]


# What British National Grid coordinates can be: the grid's false origin is south-west of the
# Scilly Isles, and it covers Great Britain within 700 km east and 1,300 km north.
BNG_RANGE = ((0.0, 700_000.0), (0.0, 1_300_000.0))


WGS84_RANGE = ((-180.0, 180.0), (-90.0, 90.0))


# Great Britain and Northern Ireland in longitude and latitude, with a margin.
UK_LONLAT = ((-9.0, 2.5), (49.0, 61.5))


_DECIMAL_COMMA = re.compile(r"\s*[+-]?\d+,\d+\s*")


_THOUSANDS_COMMAS = re.compile(r"\s*[+-]?\d{1,3}(?:,\d{3})+\s*")
# The longitudes and latitudes of the British National Grid's area, roughly (-9 to 2 east,
# 49 to 61 north), with a margin.
_DEGREES_OF_THE_GRID = (-10.0, 62.0)


def coordinate_number(value: object, *, decimal_comma: bool = False) -> float:
    """A coordinate cell as a number; ValueError (or TypeError) when it is not one. With
    ``decimal_comma`` (a CSV separated by semicolons, as spreadsheets save it where the comma
    is the decimal sign) 51,28 is 51.28: there the comma cannot separate the values.

    A comma before each group of three digits (615,000) is a thousands separator even there, as
    a spreadsheet formatting its numbers writes an easting: it is refused, not read as 615.0,
    which would put every point outside Great Britain with nothing to say why. Unless, read as
    decimals, it is a longitude or latitude of the grid's area (51,280 is 51.28: a latitude
    with three decimals). Read so, eastings and northings below 62,000 written with thousands
    separators (the far west and south of Cornwall, and the sea) would be wrong; such a point
    then lies outside Great Britain and is refused, not placed."""
    if decimal_comma and isinstance(value, str) and _DECIMAL_COMMA.fullmatch(value):
        decimal = float(value.replace(",", "."))
        if (
            not _THOUSANDS_COMMAS.fullmatch(value)
            or _DEGREES_OF_THE_GRID[0] <= decimal <= _DEGREES_OF_THE_GRID[1]
        ):
            return decimal
    return float(value)  # type: ignore[arg-type]


def _number_array(values: np.ndarray, *, decimal_comma: bool = False) -> np.ndarray:
    def number(value) -> float:
        try:
            if value in (None, ""):
                return np.nan
            return coordinate_number(value, decimal_comma=decimal_comma)
        except (TypeError, ValueError):
            return np.nan

    return np.array([number(value) for value in values], dtype=float)


def wkt_shapes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The geometries of a WKT column (None where a value is not WKT) and which values are
    curved (arcs), which shapely does not read: each is then None, for its own message."""
    curved = np.zeros(len(values), dtype=bool)
    try:
        return shapely.from_wkt(values, on_invalid="ignore"), curved
    except NotImplementedError:  # "Nonlinear geometry types are not currently supported"
        shapes = np.full(len(values), None, dtype=object)
        for index, value in enumerate(values):
            try:
                shapes[index] = shapely.from_wkt(value, on_invalid="ignore")
            except NotImplementedError:
                curved[index] = True
        return shapes, curved


def _share_within(xs: np.ndarray, ys: np.ndarray, ranges) -> float:
    """The share of the points given (those with both coordinates) that lie within ``ranges``;
    0 when there are none."""
    present = ~(np.isnan(xs) | np.isnan(ys))
    if not present.any():
        return 0.0
    (x_low, x_high), (y_low, y_high) = ranges
    xs, ys = xs[present], ys[present]
    return float(((xs >= x_low) & (xs <= x_high) & (ys >= y_low) & (ys <= y_high)).mean())


def crs_infer(xs: np.ndarray, ys: np.ndarray) -> str | None:
    """BNG or WGS84 from the coordinates' ranges; None when they fit neither or both."""
    present = ~(np.isnan(xs) | np.isnan(ys))
    if not present.any():
        return None
    fits_bng = _share_within(xs, ys, BNG_RANGE) == 1.0
    fits_wgs84 = _share_within(xs, ys, WGS84_RANGE) == 1.0
    xs, ys = xs[present], ys[present]
    if fits_bng and fits_wgs84:
        # Both fit only when every value is under 90: degrees, unless all are tiny grid values.
        return WGS84 if np.abs(xs).max() <= 180 and np.abs(ys).max() <= 90 else None
    return BNG if fits_bng else WGS84 if fits_wgs84 else None


def crs_of_most(xs: np.ndarray, ys: np.ndarray) -> str | None:
    """BNG or WGS84, as most of a table's points show it; None when most fit neither.

    A table's coordinates are typed by hand: one mistyped easting must not make the whole file
    unreadable. The pipeline then finds each point that does not fit, as a problem of its row.
    Longitudes and latitudes fit the grid's range too, so they are looked for first.
    """
    if not (~(np.isnan(xs) | np.isnan(ys))).any():
        return None
    if _share_within(xs, ys, WGS84_RANGE) > 0.5:
        return WGS84
    return BNG if _share_within(xs, ys, BNG_RANGE) > 0.5 else None


def _grid_swapped(xs: np.ndarray, ys: np.ndarray) -> bool:
    """Whether eastings and northings look the wrong way round: most points lie outside the
    area the platform covers (the profile's map) as given, and inside it swapped. Swapped grid
    values are still grid values (a point on the south coast becomes one in the Highlands), so
    their range alone cannot tell."""
    west, south, east, north = settings.AUTHORITY_PROFILE.map.bounds
    to_grid = Transformer.from_crs("EPSG:4326", BNG, always_xy=True)
    x_low, y_low, x_high, y_high = to_grid.transform_bounds(west, south, east, north)
    area = ((x_low, x_high), (y_low, y_high))
    return _share_within(ys, xs, area) > 0.5 and _share_within(xs, ys, area) <= 0.5


def _as_renamed(names: list[str], rename: dict[str, str]) -> dict[str, str]:
    """The table's columns by their names as the load reads them (lower case), renames applied,
    each to the column's name in the file. A column renamed onto a name the file also has takes
    its place, as it does in the load's fields."""
    by_lower = {name.lower().strip(): name for name in names if name not in rename}
    by_lower |= {rename[name].lower().strip(): name for name in names if name in rename}
    return by_lower


def _point_columns(
    names: list[str], rename: dict[str, str] | None = None
) -> tuple[str, str, str | None] | None:
    """The file's columns holding a point's coordinates, found by their names as renamed, and
    the coordinate system the names say (None: decided from the values)."""
    by_lower = _as_renamed(names, rename or {})
    for x, y, crs in POINT_HEADERS:
        if x in by_lower and y in by_lower:
            return by_lower[x], by_lower[y], crs
    return None


def _wkt_column(names: list[str], rename: dict[str, str] | None = None) -> str | None:
    by_lower = _as_renamed(names, rename or {})
    return next((name for lower, name in by_lower.items() if lower in WKT_HEADERS), None)


_COORDINATE_NAMES = (
    "Easting and Northing (British National Grid), Latitude and Longitude, GeoX and GeoY, or X "
    "and Y, or give a WKT column"
)


# GDAL's name for a column whose header cell is empty: Field3 in a workbook, field_3 in CSV.
_UNNAMED = re.compile(r"field_?\d+", re.IGNORECASE)


def _without_coordinates(opened: OpenedUpload, names: list[str], rows: int) -> UploadError:
    """Why a table has no coordinate columns, and what to do: most often its header is not in
    row 1 (a title above it, or an empty first line), which shows as columns without names."""
    unnamed = [name for name in names if _UNNAMED.fullmatch(name)]
    if opened.format == "XLSX" and names and len(unnamed) == len(names) and rows <= 1:
        # GDAL takes a sheet's only row for data, not for its header.
        return UploadError(
            "The sheet has a single row: put the column names in row 1 and the features in the "
            f"rows below it, and name the coordinate columns {_COORDINATE_NAMES}."
        )
    if not names:
        return UploadError(
            "The table's first row is empty, so it has no column names: put them in row 1, with "
            "no empty or title rows above them, and name the coordinate columns "
            f"{_COORDINATE_NAMES}."
        )
    if unnamed:
        named = [name for name in names if name not in unnamed]
        holds = (
            f"row 1 holds only {names_listed([repr(name) for name in named])}"
            if named
            else "row 1 is empty"
        )
        return UploadError(
            "The table has no coordinate columns, and its header row was not found in row 1: "
            f"{len(unnamed):,} of its {len(names):,} columns have no name there, and {holds}. "
            "Put the column names in row 1, deleting any title or empty rows above them, and "
            f"name the coordinate columns {_COORDINATE_NAMES}."
        )
    unrenamed = _point_columns(names) or (_wkt_column(names),)
    taken = [name for name in unrenamed if name in opened.rename]
    if taken:
        renames = names_listed([f"{name!r} to {opened.rename[name]!r}" for name in taken])
        return UploadError(
            f"The column mapping renames {renames}, which takes away the table's coordinate "
            f"{'columns' if len(taken) > 1 else 'column'}: a coordinate column keeps its name "
            f"({_COORDINATE_NAMES}). Remove that rename from the mapping."
        )
    return UploadError(
        f"The table has no coordinate columns: name them {_COORDINATE_NAMES}. Its columns are: "
        f"{names_listed(names)}."
    )


def sheet_choose(opened: OpenedUpload, layer: str | None, workdir: Path) -> OpenedUpload:
    """The sheet of a workbook to read: the one ``layer`` names; without one, the only sheet,
    else the only sheet with rows, else the only one of those with coordinate columns (a
    read-me sheet beside the data), said in the notes. A workbook that leaves the choice open
    is refused, listing its sheets, as a GeoPackage with several layers is.

    A sheet that is not the workbook's first is read from a copy in which it is (``sheets``:
    GDAL finds the header row of the first sheet only); ``workdir`` holds the copies."""
    try:
        opened.layers = [name for name, _ in pyogrio.list_layers(opened.gdal_path)]
    except pyogrio.errors.DataSourceError as error:
        raise UploadError(
            f"The file cannot be read as an XLSX workbook: it may be damaged "
            f"({gdal_reason(error, opened.name)})."
        ) from None
    listed = ", ".join(opened.layers)
    if layer:
        if layer not in opened.layers:
            raise UploadError(
                f"The workbook has no sheet {layer!r}; its sheets are: {listed}. Give the name "
                "of one, as its tab shows it, as the layer name."
            )
        opened.layer = layer
        return _read_first(opened, workdir)
    if len(opened.layers) <= 1:
        opened.layer = opened.layers[0] if opened.layers else None
        return opened
    sheets = {
        sheet: _sheet_info(opened, sheet, workdir / f"sheet-{number}.xlsx")
        for number, sheet in enumerate(opened.layers)
    }
    with_rows = [sheet for sheet, info in sheets.items() if info["features"] > 0]
    located = [
        sheet for sheet in with_rows
        if _point_columns([name.strip() for name in sheets[sheet]["fields"]], opened.rename)
        or _wkt_column([name.strip() for name in sheets[sheet]["fields"]], opened.rename)
    ]  # fmt: skip
    if len(with_rows) == 1:
        opened.layer, why = with_rows[0], "with data"
    elif len(located) == 1:
        opened.layer, why = located[0], "with coordinate columns"
    elif not with_rows:
        raise UploadError(f"The workbook's sheets ({listed}) are all empty.")
    else:
        raise UploadError(
            f"The workbook has several sheets with data ({', '.join(with_rows)}): {CHOOSE_BY_NAME}."
        )
    others = ", ".join(sheet for sheet in opened.layers if sheet != opened.layer)
    opened.notes.append(
        f"Read the sheet {opened.layer}, the workbook's only sheet {why} (its other sheets: "
        f"{others})."
    )
    return _read_first(opened, workdir)


def _sheet_info(opened: OpenedUpload, sheet: str, copy: Path) -> dict:
    """GDAL's account of ``sheet``, from a copy of the workbook with it first if GDAL did not
    find its header row where it is."""
    info = pyogrio.read_info(opened.gdal_path, layer=sheet, **opened.open_options)
    if not headers_guessed(list(info["fields"])):
        return info
    first = sheet_first(opened.path, sheet, copy)
    return pyogrio.read_info(str(first), layer=sheet, **opened.open_options)


def _read_first(opened: OpenedUpload, workdir: Path) -> OpenedUpload:
    """``opened``, its chosen sheet first in the workbook GDAL reads."""
    if opened.layers and opened.layer != opened.layers[0]:
        opened.path = sheet_first(opened.path, opened.layer, workdir / "chosen-sheet.xlsx")
    return opened


def _separator_of(header: str) -> str:
    """The separator GDAL finds in a CSV's header line: a comma, a semicolon or a tab."""
    return max((",", ";", "\t"), key=header.count)


def _separator(opened: OpenedUpload) -> str:
    with opened.path.open(encoding=opened.encoding or "utf-8", errors="replace") as text:
        return _separator_of(text.readline())


def _note_values_past_the_header(opened: OpenedUpload, columns: int) -> None:
    """Say which lines of a CSV hold more values than its header names columns: GDAL leaves
    the extra values out without a word, and they are most often a value holding a comma
    without double quotes around it (Smith, Jones and Partners), which moves the values after
    it along by one."""
    with opened.path.open(
        encoding=opened.encoding or "utf-8", errors="replace", newline=""
    ) as text:
        header = text.readline()
        reader = csv.reader(text, delimiter=_separator_of(header))
        lines = [
            reader.line_num + 1  # the header line was read before the reader started
            for row in reader
            if len(row) > columns and any(value.strip() for value in row[columns:])
        ]
    if lines:
        shown = ", ".join(f"{line:,}" for line in lines[:10]) + (" ..." if len(lines) > 10 else "")
        which = (
            f"1 row of the file (line {shown}) holds"
            if len(lines) == 1
            else f"{len(lines):,} rows of the file (lines {shown}) hold"
        )
        opened.notes.append(
            f"{which} more values than the header has columns; the extra values were left out. "
            "A value holding a comma needs double quotes around it, or the values after it move "
            "along by one column."
        )


def _values_read(
    opened: OpenedUpload, columns: list[str], file_names: list[str]
) -> dict[str, np.ndarray]:
    """The values of ``columns``, named as the platform reads them (``column_names``), by name;
    ``file_names`` are the table's columns as the file writes them."""
    in_file = {name.strip(): name for name in file_names}
    meta, _, _, values = pyogrio.raw.read(
        opened.gdal_path, layer=opened.layer, columns=[in_file[name] for name in columns],
        read_geometry=False, encoding=opened.encoding, **opened.open_options,
    )  # fmt: skip
    # The columns come back in the table's order, not the order asked for.
    return dict(zip(column_names(meta["fields"]), values, strict=True))


def table_open(opened: OpenedUpload) -> OpenedUpload:
    try:
        info = pyogrio.read_info(
            opened.gdal_path, layer=opened.layer, encoding=opened.encoding, **opened.open_options
        )
    except pyogrio.errors.DataSourceError as error:
        raise UploadError(
            f"The file cannot be read as {FORMAT_TITLES[opened.format]}: it may be damaged "
            f"({gdal_reason(error, opened.name)})."
        ) from None
    file_names = list(info["fields"])
    names = column_names(file_names)
    if opened.format == "CSV":
        _note_values_past_the_header(opened, len(names))
    if opened.format == "XLSX":
        note_formulas_without_results(opened)
    if not opened.geometry:
        if not names or info["features"] == 0:
            raise UploadError(
                "The table has no rows below its header, or no header: put the column names in "
                "row 1 and the rows of values below it."
            )
        return opened
    columns = _point_columns(names, opened.rename)
    if columns is None:
        wkt = _wkt_column(names, opened.rename)
        if wkt is None:
            raise _without_coordinates(opened, names, info["features"])
        opened.wkt_column = wkt
        shapes, _ = wkt_shapes(_values_read(opened, [wkt], file_names)[wkt])
        bounds = shapely.bounds(shapes)  # NaN where a value is not WKT (reported per row later)
        crs = crs_of_most(
            np.concatenate([bounds[:, 0], bounds[:, 2]]),
            np.concatenate([bounds[:, 1], bounds[:, 3]]),
        )
        if crs is None:
            raise UploadError(
                f"Most geometries in the column {wkt!r} are neither British National Grid nor "
                "longitude/latitude (or none of its values is WKT)."
            )
        opened.crs, opened.crs_inferred = crs, True
        opened.notes.append(f"Geometry read as WKT from the column {wkt!r}, in {crs}.")
        return opened
    opened.x_column, opened.y_column, named_crs = columns
    by_name = _values_read(opened, [opened.x_column, opened.y_column], file_names)
    opened.decimal_comma = opened.format == "CSV" and _separator(opened) == ";"
    xs, ys = (
        _number_array(by_name[name], decimal_comma=opened.decimal_comma)
        for name in (opened.x_column, opened.y_column)
    )
    if len(xs) == 0:
        raise UploadError(
            "The table has a header but no rows (if it has rows, look for a value whose opening "
            "quote mark is never closed: the value then runs to the end of the file)."
        )
    inferred = crs_of_most(xs, ys)
    if named_crs and inferred and inferred != named_crs:
        raise UploadError(
            f"The columns {opened.x_column} and {opened.y_column} are named as "
            f"{'grid' if named_crs == BNG else 'latitude/longitude'} coordinates but hold "
            f"{'latitude/longitude' if inferred == WGS84 else 'grid'} values."
        )
    crs = named_crs or inferred
    if crs is None:
        raise UploadError(
            f"Most values in {opened.x_column} and {opened.y_column} are neither British "
            "National Grid eastings and northings nor longitudes and latitudes."
        )
    swapped, as_given = _share_within(ys, xs, UK_LONLAT), _share_within(xs, ys, UK_LONLAT)
    if crs == WGS84 and swapped > 0.5 and as_given <= 0.5:
        raise UploadError(
            f"The values in {opened.x_column} look like latitudes and those in "
            f"{opened.y_column} like longitudes: the two columns seem to be the wrong way round "
            "(in the United Kingdom, longitudes are between -9 and 2 and latitudes between 49 "
            "and 61)."
        )
    if crs == BNG and _grid_swapped(xs, ys):
        raise UploadError(
            f"The values in {opened.x_column} look like northings and those in "
            f"{opened.y_column} like eastings: the two columns seem to be the wrong way round "
            "(as given, most points lie outside the area this platform covers; swapped, they "
            "lie inside it). The easting is the first coordinate, the distance east."
        )
    opened.crs, opened.crs_inferred = crs, named_crs is None
    opened.notes.append(
        f"Points from the columns {opened.x_column} and {opened.y_column} as "
        f"{'British National Grid (EPSG:27700)' if crs == BNG else 'WGS84 (EPSG:4326)'}"
        f"{', worked out from the values' if opened.crs_inferred else ''}."
    )
    if crs == BNG:
        _note_degrees_elsewhere(opened, file_names, xs, ys)
    return opened


# How far a row's longitude and latitude may lie from its easting and northing before they are
# said to disagree: beyond rounding (a download writes six decimal places of a degree) and the
# difference between the grid's transformations (a few metres), not a point moved on purpose.
DEGREES_DISAGREE_METRES = 5.0


def _note_degrees_elsewhere(
    opened: OpenedUpload, file_names: list[str], eastings: np.ndarray, northings: np.ndarray
) -> None:
    """Say which rows' longitude and latitude columns, beside the grid coordinates the points
    are read from, put the point somewhere else. A download carries both pairs; an officer who
    moves a point by editing its longitude and latitude would otherwise see nothing change."""
    pair = next(
        (
            (by_lower[x], by_lower[y])
            for x, y, crs in POINT_HEADERS
            if crs == WGS84
            for by_lower in [_as_renamed(column_names(file_names), opened.rename)]
            if x in by_lower and y in by_lower
        ),
        None,
    )
    if pair is None:
        return
    by_name = _values_read(opened, list(pair), file_names)
    longitudes, latitudes = (
        _number_array(by_name[name], decimal_comma=opened.decimal_comma) for name in pair
    )
    to_grid = Transformer.from_crs("EPSG:4326", BNG, always_xy=True)
    with np.errstate(invalid="ignore"):
        on_grid = to_grid.transform(longitudes, latitudes, errcheck=False)
        apart = np.hypot(on_grid[0] - eastings, on_grid[1] - northings)
        rows = np.flatnonzero(apart > DEGREES_DISAGREE_METRES)  # NaN (a blank cell) is not
    if rows.size == 0:
        return
    shown = ", ".join(f"{row + 1:,}" for row in rows[:10]) + (" ..." if rows.size > 10 else "")
    which = f"row {shown}" if rows.size == 1 else f"{rows.size:,} rows ({shown})"
    opened.notes.append(
        f"In {which}, the columns {pair[0]} and {pair[1]} put the point up to "
        f"{apart[rows].max():,.0f} m from where {opened.x_column} and {opened.y_column} put it. "
        f"The points were placed by {opened.x_column} and {opened.y_column}: to move a point, "
        f"change those, or delete those two columns to place every point by {pair[0]} and "
        f"{pair[1]}."
    )
