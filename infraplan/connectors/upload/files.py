"""What an uploaded file is, made safe for GDAL to read.

An officer uploads whatever their GIS or spreadsheet produced: GeoJSON, a GeoPackage (any
layer), a zipped Shapefile, FlatGeobuf, or a CSV/XLSX table with coordinate columns or a WKT
column. ``upload_open`` recognises the format from the file's bytes (not its name), unpacks
archives safely (no path traversal, links, zip bombs or runaway member counts), and works out
where the geometry is and in which coordinate system: declared by the file, or inferred from
the coordinates' ranges (British National Grid against latitude/longitude) and said so.

Every refusal is an ``UploadError`` whose message tells the officer what to fix. Nothing here
writes to the database: the pipeline reads the ``OpenedUpload`` afterwards.
"""

import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pyogrio
import shapely

from .encodings import (
    UTF8,
    WINDOWS_1252,
    UndecodableText,
    file_chunks,
    shapefile_text,
    text_encoding,
)

WGS84 = "EPSG:4326"
BNG = "EPSG:27700"

# Header pairs UK publishers use for point coordinates, in order of preference (lower case),
# each with the coordinate system the names imply (None: decided from the values).
POINT_HEADERS: list[tuple[str, str, str | None]] = [
    ("easting", "northing", BNG),
    ("geox", "geoy", None),
    ("x", "y", None),
    ("x_coordinate", "y_coordinate", None),
    ("longitude", "latitude", WGS84),
    ("lon", "lat", WGS84),
    ("long", "lat", WGS84),
    ("lng", "lat", WGS84),
]
WKT_HEADERS = ["wkt", "geometry", "geom", "the_geom", "point"]
VECTOR_SUFFIXES = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".fgb": "FlatGeobuf"}
TABLE_SUFFIXES = {".csv": "CSV", ".xlsx": "XLSX"}
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf")
GDAL_SUFFIXES = {"GeoJSON": ".geojson", "GPKG": ".gpkg", "FlatGeobuf": ".fgb"}
# GDAL's driver names as officers know the formats.
_FORMAT_TITLES = {
    "GeoJSON": "GeoJSON", "GPKG": "a GeoPackage", "FlatGeobuf": "FlatGeobuf",
    "ESRI Shapefile": "a Shapefile", "CSV": "CSV", "XLSX": "an XLSX workbook",
}  # fmt: skip
_CHOOSE_BY_NAME = "choose one by giving its name as the layer name"

# What British National Grid coordinates can be: the grid's false origin is south-west of the
# Scilly Isles, and it covers Great Britain within 700 km east and 1,300 km north.
BNG_RANGE = ((0.0, 700_000.0), (0.0, 1_300_000.0))
WGS84_RANGE = ((-180.0, 180.0), (-90.0, 90.0))
# Great Britain and Northern Ireland in longitude and latitude, with a margin.
UK_LONLAT = ((-9.0, 2.5), (49.0, 61.5))


class UploadError(Exception):
    """An upload that cannot be read; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 500 * 1024 * 1024
    max_members: int = 1_000
    max_unpacked_bytes: int = 4 * 1024 * 1024 * 1024
    max_ratio: int = 200  # unpacked / packed size of one member; real data compresses far less


@dataclass
class OpenedUpload:
    path: Path  # a local file or folder GDAL may open: the upload or what it unpacked to
    format: str  # GDAL's driver name
    name: str  # the file as the officer knows it, for messages: never a path on the server
    layer: str | None = None  # a workbook's sheet, too
    layers: list[str] = field(default_factory=list)
    encoding: str | None = None  # the text's encoding, where the reader decides it (not GDAL)
    x_column: str | None = None  # tables only: point coordinate columns ...
    y_column: str | None = None
    wkt_column: str | None = None  # ... or a WKT column
    crs: str | None = None
    crs_inferred: bool = False  # True when the coordinate system was worked out from the values
    notes: list[str] = field(default_factory=list)  # what the report should tell the officer

    @property
    def is_table(self) -> bool:
        return self.format in ("CSV", "XLSX")

    @property
    def open_options(self) -> dict[str, str]:
        """GDAL's options for reading the file. GeoJSON dates stay the file's text: GDAL would
        otherwise read them as dates, and one no calendar has (30 February) would fail the
        whole read instead of being a problem of its row when the pipeline checks it.

        A workbook's first row is its header, as the upload page asks. GDAL would otherwise
        guess, and take the column names for a row of data (naming the columns Field1,
        Field2 ...) when every cell is text, or when empty cells beside the header or an empty
        column A make the first row look shorter than the rows below it."""
        if self.format == "GeoJSON":
            return {"DATE_AS_STRING": "YES"}
        return {"HEADERS": "FORCE"} if self.format == "XLSX" else {}


def _sniff(path: Path) -> str:
    """The format from the first bytes: zip, GPKG, FlatGeobuf, GeoJSON or text (CSV)."""
    with path.open("rb") as stream:
        head = stream.read(512)
    if not head:
        raise UploadError("The file is empty.")
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"SQLite format 3\x00"):
        return "GPKG"
    if head.startswith(b"fgb\x03"):
        return "FlatGeobuf"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"{"):
        return "GeoJSON"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UploadError(
            "The file is UTF-16 text (as Excel saves \u201cUnicode Text\u201d), which the platform "
            "does not read: save it as UTF-8 (from a spreadsheet, as CSV UTF-8)."
        )
    # NUL bytes alone are stray characters in a text file (removed when it is opened); with
    # other control characters, the file is binary.
    if b"\x00" in head and _CONTROL.search(head.replace(b"\x00", b"")):
        raise UploadError(
            "The file is not a format the platform reads: upload GeoJSON, a GeoPackage, a "
            "zipped Shapefile, FlatGeobuf, or a CSV or XLSX table."
        )
    return "CSV"


# Bytes no text file holds (tab, line feed, form feed and carriage return are text).
_CONTROL = re.compile(rb"[\x01-\x08\x0b\x0e-\x1f\x7f]")


def _safe_unpack(archive: Path, into: Path, limits: UploadLimits) -> list[Path]:
    """Unpack ``archive`` under ``into``; refuse traversal, links, bombs and floods."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [member for member in zipped.infolist() if not member.is_dir()]
            if len(members) > limits.max_members:
                raise UploadError(
                    f"The zip file holds {len(members):,} files, more than the "
                    f"{limits.max_members:,} allowed."
                )
            members = [member for member in members if not _is_mac_metadata(member.filename)]
            total = sum(member.file_size for member in members)
            if total > limits.max_unpacked_bytes:
                raise UploadError(
                    f"The zip file unpacks to {total:,} bytes, more than the "
                    f"{limits.max_unpacked_bytes:,} allowed."
                )
            unpacked = []
            for member in members:
                name = PurePosixPath(member.filename.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts or not name.parts:
                    raise UploadError(
                        f"The zip file names a path outside itself ({member.filename!r}); "
                        "it was refused."
                    )
                if stat.S_ISLNK(member.external_attr >> 16):
                    raise UploadError(f"The zip file holds a link ({member.filename!r}); refused.")
                if (
                    member.compress_size
                    and member.file_size / member.compress_size > limits.max_ratio
                ):
                    raise UploadError(
                        f"{member.filename!r} in the zip file expands {member.file_size // max(member.compress_size, 1):,} "
                        "times: refused as a possible zip bomb."
                    )  # fmt: skip
                target = into.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                written = 0
                with zipped.open(member) as source, target.open("wb") as sink:
                    while block := source.read(1 << 20):
                        written += len(block)
                        if written > member.file_size:  # a header that lies about the size
                            raise UploadError(
                                f"{member.filename!r} in the zip file is larger than it declares; "
                                "refused."
                            )
                        sink.write(block)
                unpacked.append(target)
            return unpacked
    except zipfile.BadZipFile as error:
        raise UploadError(f"The zip file is damaged or incomplete ({error}).") from None


def _is_mac_metadata(member: str) -> bool:
    """Whether a zip member is what a Mac adds when it zips a folder: the ``__MACOSX`` folder
    and AppleDouble ``._`` files (the Finder's notes about a file, not data)."""
    parts = PurePosixPath(member.replace("\\", "/")).parts
    return "__MACOSX" in parts[:-1] or (bool(parts) and parts[-1].startswith("._"))


def _from_archive(files: list[Path], layer: str | None) -> tuple[Path, str]:
    """The data file inside an unpacked archive (a Shapefile or one vector/table file)."""
    shapefiles = {path.with_suffix(""): path for path in files if path.suffix.lower() == ".shp"}
    others = [
        path
        for path in files
        if path.suffix.lower() in VECTOR_SUFFIXES | TABLE_SUFFIXES and not path.name.startswith(".")
    ]
    if shapefiles:
        names = ", ".join(sorted(stem.name for stem in shapefiles))
        if len(shapefiles) > 1 and not layer:
            raise UploadError(
                f"The zip file holds several Shapefiles ({names}): {_CHOOSE_BY_NAME}."
            )
        stem = next((stem for stem in shapefiles if not layer or stem.name == layer), None)
        if stem is None:
            raise UploadError(
                f"The zip file has no Shapefile {layer!r}; its Shapefiles are: {names}. Give the "
                "name of one (without .shp) as the layer name."
            )
        present = {path.suffix.lower() for path in files if path.with_suffix("") == stem}
        missing = [part for part in SHAPEFILE_PARTS if part not in present]
        if missing:
            raise UploadError(
                f"The Shapefile {stem.name} is incomplete: {', '.join(missing)} "
                "missing from the zip file."
            )
        if ".prj" not in present:
            raise UploadError(
                f"The Shapefile {stem.name} has no .prj file, so its coordinate system is "
                "unknown: add the .prj your GIS wrote beside the .shp to the zip file."
            )
        return shapefiles[stem], "ESRI Shapefile"
    if len(others) == 1:
        found = others[0]
        return found, (VECTOR_SUFFIXES | TABLE_SUFFIXES)[found.suffix.lower()]
    if not others:
        raise UploadError(
            "The zip file holds no Shapefile (.shp with .shx, .dbf and .prj) and no GeoJSON, "
            "GeoPackage, FlatGeobuf, CSV or XLSX file."
        )
    names = ", ".join(sorted(path.name for path in others))
    raise UploadError(f"The zip file holds several data files ({names}): upload one at a time.")


def _without_nul(opened: OpenedUpload, workdir: Path) -> OpenedUpload:
    """A CSV file as a copy without its NUL bytes, if it has any, said in the notes.

    Text cannot carry NUL (PostgreSQL refuses it, and GDAL ends a line at the first one,
    silently losing the rest of the row), so they are removed, as the pipeline removes them
    from JSON sources."""
    data = opened.path.read_bytes()
    if b"\x00" not in data:
        return opened
    lines, line, searched = [], 1, 0
    for run in re.finditer(rb"\x00+", data):
        line += data.count(b"\n", searched, run.start())
        searched = run.start()
        if not lines or lines[-1] != line:
            lines.append(line)
    cleaned = workdir / "without-nul.csv"
    cleaned.parent.mkdir(parents=True, exist_ok=True)
    cleaned.write_bytes(data.replace(b"\x00", b""))
    opened.path = cleaned
    shown = [f"{number:,}" for number in lines[:5]]
    if len(lines) > 5:
        shown.append(f"{len(lines) - 5:,} more")
    listed = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
    opened.notes.append(
        f"The file held NUL characters on line{'s' if len(lines) > 1 else ''} {listed} (the "
        "header is line 1), which text cannot carry; they were removed."
    )
    return opened


def _text_encoding(opened: OpenedUpload) -> str:
    """UTF-8 (with or without a byte-order mark), else Windows-1252 (council spreadsheets
    saved by Excel carry £ as byte 0xA3; older GIS write GeoJSON so too), said in the notes."""
    try:
        found = text_encoding(file_chunks(opened.path)) or UTF8
    except UndecodableText as error:
        save = (
            "save it from your spreadsheet as CSV UTF-8"
            if opened.format == "CSV"
            else "export it again as UTF-8, as GeoJSON must be"
        )
        raise UploadError(
            f"The {opened.format} file is neither UTF-8 nor Windows-1252 text (byte "
            f"{error.offset:,}); {save}."
        ) from None
    if found == WINDOWS_1252:
        must = ", as GeoJSON must be" if opened.format == "GeoJSON" else ""
        opened.notes.append(f"Read as Windows-1252 text (not UTF-8{must}).")
    return found


def _number_array(values: np.ndarray) -> np.ndarray:
    def number(value) -> float:
        try:
            return float(value) if value not in (None, "") else np.nan
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


def _point_columns(names: list[str]) -> tuple[str, str, str | None] | None:
    by_lower = {name.lower().strip(): name for name in names}
    for x, y, crs in POINT_HEADERS:
        if x in by_lower and y in by_lower:
            return by_lower[x], by_lower[y], crs
    return None


def _wkt_column(names: list[str]) -> str | None:
    return next((name for name in names if name.lower().strip() in WKT_HEADERS), None)


_COORDINATE_NAMES = (
    "Easting and Northing (British National Grid), Latitude and Longitude, GeoX and GeoY, or X "
    "and Y, or give a WKT column"
)
# GDAL's name for a column whose header cell is empty: Field3 in a workbook, field_3 in CSV.
_UNNAMED = re.compile(r"field_?\d+", re.IGNORECASE)


def _listed(names: list[str], limit: int = 10) -> str:
    shown = names[:limit] + ([f"{len(names) - limit:,} more"] if len(names) > limit else [])
    return ", ".join(shown)


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
            f"row 1 holds only {_listed([repr(name) for name in named])}"
            if named
            else "row 1 is empty"
        )
        return UploadError(
            "The table has no coordinate columns, and its header row was not found in row 1: "
            f"{len(unnamed):,} of its {len(names):,} columns have no name there, and {holds}. "
            "Put the column names in row 1, deleting any title or empty rows above them, and "
            f"name the coordinate columns {_COORDINATE_NAMES}."
        )
    return UploadError(
        f"The table has no coordinate columns: name them {_COORDINATE_NAMES}. Its columns are: "
        f"{_listed(names)}."
    )


def _choose_sheet(opened: OpenedUpload, layer: str | None) -> OpenedUpload:
    """The sheet of a workbook to read: the one ``layer`` names; without one, the only sheet,
    else the only sheet with rows, else the only one of those with coordinate columns (a
    read-me sheet beside the data), said in the notes. A workbook that leaves the choice open
    is refused, listing its sheets, as a GeoPackage with several layers is."""
    try:
        opened.layers = [name for name, _ in pyogrio.list_layers(opened.path)]
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
        return opened
    if len(opened.layers) <= 1:
        opened.layer = opened.layers[0] if opened.layers else None
        return opened
    sheets = {
        sheet: pyogrio.read_info(opened.path, layer=sheet, **opened.open_options)
        for sheet in opened.layers
    }
    with_rows = [sheet for sheet, info in sheets.items() if info["features"] > 0]
    located = [
        sheet for sheet in with_rows
        if _point_columns(list(sheets[sheet]["fields"]))
        or _wkt_column(list(sheets[sheet]["fields"]))
    ]  # fmt: skip
    if len(with_rows) == 1:
        opened.layer, why = with_rows[0], "with data"
    elif len(located) == 1:
        opened.layer, why = located[0], "with coordinate columns"
    elif not with_rows:
        raise UploadError(f"The workbook's sheets ({listed}) are all empty.")
    else:
        raise UploadError(
            f"The workbook has several sheets with data ({', '.join(with_rows)}): {_CHOOSE_BY_NAME}."
        )
    others = ", ".join(sheet for sheet in opened.layers if sheet != opened.layer)
    opened.notes.append(
        f"Read the sheet {opened.layer}, the workbook's only sheet {why} (its other sheets: "
        f"{others})."
    )
    return opened


def _open_table(opened: OpenedUpload) -> OpenedUpload:
    try:
        info = pyogrio.read_info(
            opened.path, layer=opened.layer, encoding=opened.encoding, **opened.open_options
        )
    except pyogrio.errors.DataSourceError as error:
        raise UploadError(
            f"The file cannot be read as {_FORMAT_TITLES[opened.format]}: it may be damaged "
            f"({gdal_reason(error, opened.name)})."
        ) from None
    names = list(info["fields"])
    columns = _point_columns(names)
    if columns is None:
        wkt = _wkt_column(names)
        if wkt is None:
            raise _without_coordinates(opened, names, info["features"])
        opened.wkt_column = wkt
        _, _, _, values = pyogrio.raw.read(
            opened.path, layer=opened.layer, columns=[wkt], read_geometry=False,
            encoding=opened.encoding, **opened.open_options,
        )  # fmt: skip
        shapes, _ = wkt_shapes(values[0])
        bounds = shapely.bounds(shapes)  # NaN where a value is not WKT (reported per row later)
        crs = crs_infer(
            np.concatenate([bounds[:, 0], bounds[:, 2]]),
            np.concatenate([bounds[:, 1], bounds[:, 3]]),
        )
        if crs is None:
            raise UploadError(
                f"The geometries in the column {wkt!r} are neither British National Grid nor "
                "longitude/latitude (or none of its values is WKT)."
            )
        opened.crs, opened.crs_inferred = crs, True
        opened.notes.append(f"Geometry read as WKT from the column {wkt!r}, in {crs}.")
        return opened
    opened.x_column, opened.y_column, named_crs = columns
    meta, _, _, values = pyogrio.raw.read(
        opened.path, layer=opened.layer, columns=[opened.x_column, opened.y_column],
        read_geometry=False, encoding=opened.encoding, **opened.open_options,
    )  # fmt: skip
    # The columns come back in the table's order, not the order asked for.
    by_name = dict(zip(meta["fields"], values, strict=True))
    xs, ys = _number_array(by_name[opened.x_column]), _number_array(by_name[opened.y_column])
    if len(xs) == 0:
        raise UploadError(
            "The table has a header but no rows (if it has rows, look for a value whose opening "
            "quote mark is never closed: the value then runs to the end of the file)."
        )
    inferred = crs_infer(xs, ys)
    if named_crs and inferred and inferred != named_crs:
        raise UploadError(
            f"The columns {opened.x_column} and {opened.y_column} are named as "
            f"{'grid' if named_crs == BNG else 'latitude/longitude'} coordinates but hold "
            f"{'latitude/longitude' if inferred == WGS84 else 'grid'} values."
        )
    crs = named_crs or inferred
    if crs is None:
        raise UploadError(
            f"The values in {opened.x_column} and {opened.y_column} are neither British "
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
    opened.crs, opened.crs_inferred = crs, named_crs is None
    opened.notes.append(
        f"Points from the columns {opened.x_column} and {opened.y_column} as "
        f"{'British National Grid (EPSG:27700)' if crs == BNG else 'WGS84 (EPSG:4326)'}"
        f"{', worked out from the values' if opened.crs_inferred else ''}."
    )
    return opened


# Parts of GDAL's messages an officer has no use for: a path on the server, the advice to name
# a driver (which the platform chooses), and the SQL statement SQLite failed in.
_SERVER_PATH = re.compile(r"(?<![\w.:])(?:/[^\s'\"/]+)+")
_SQL_STATEMENT = re.compile(r"sqlite3_\w+\(.*?\) failed: ")


def gdal_reason(error: Exception, name: str) -> str:
    """GDAL's reason for ``error`` as an officer may read it: a path on the server (the upload's
    folder, or the work folder an archive was unpacked into) shows as ``name``, the file's own
    name; advice meant for GDAL's programmers is left out, and a reason said twice is said once."""
    parts = []
    for part in str(error).split("; "):
        part = _SQL_STATEMENT.sub("", _SERVER_PATH.sub(lambda _: name, part)).strip().rstrip(".")
        if part and not part.startswith("It might help") and part not in parts:
            parts.append(part)
    return "; ".join(parts)


def _open_vector(opened: OpenedUpload, layer: str | None) -> OpenedUpload:
    title = _FORMAT_TITLES[opened.format]
    try:
        found = pyogrio.list_layers(opened.path)
    except pyogrio.errors.DataSourceError as error:
        raise UploadError(
            f"The file cannot be read as {title}: it may be truncated or damaged "
            f"({gdal_reason(error, opened.name)})."
        ) from None
    opened.layers = [name for name, _ in found]
    if not opened.layers:
        raise UploadError(
            f"The file cannot be read as {title}: it holds no layers, so it may be truncated, "
            f"or not be {title} at all."
        )
    if layer and layer not in opened.layers:
        raise UploadError(
            f"The file has no layer {layer!r}; its layers are: {', '.join(opened.layers)}. "
            "Give the name of one as the layer name."
        )
    if not layer and len(opened.layers) > 1:
        raise UploadError(
            f"The file holds several layers ({', '.join(opened.layers)}): {_CHOOSE_BY_NAME}."
        )
    opened.layer = layer or opened.layers[0]
    try:
        info = pyogrio.read_info(
            opened.path, layer=opened.layer, encoding=opened.encoding, **opened.open_options
        )
    except pyogrio.errors.DataSourceError as error:
        raise UploadError(
            f"The layer {opened.layer!r} cannot be read ({gdal_reason(error, opened.name)})."
        ) from None
    if info["geometry_type"] is None:
        with_geometry = [name for name, kind in found if kind is not None]
        choose = (
            f"give the name of a layer with geometry ({', '.join(with_geometry)}) as the layer name"
            if with_geometry
            else "export the data with its geometry"
        )
        raise UploadError(
            f"The layer {opened.layer!r} has no geometry (it is a table without a geometry "
            f"column), so it cannot be loaded as features: {choose}."
        )
    if info["features"] == 0:
        raise UploadError(f"The layer {opened.layer!r} holds no features.")
    bounds = info.get("total_bounds")
    if bounds is None:
        bounds = pyogrio.read_bounds(opened.path, layer=opened.layer)
        bounds = (bounds[1][0].min(), bounds[1][1].min(), bounds[1][2].max(), bounds[1][3].max())
    inferred = crs_infer(np.array(bounds[0::2], dtype=float), np.array(bounds[1::2], dtype=float))
    if info["crs"]:
        if opened.format == "GeoJSON" and info["crs"] == WGS84 and not _declares_crs(opened.path):
            _geojson_crs(opened, bounds, inferred)
        else:
            opened.crs = info["crs"]
        return opened
    if inferred is None:
        raise UploadError(
            "The file declares no coordinate system and its coordinates are neither British "
            "National Grid nor longitude/latitude: export it with its coordinate system."
        )
    opened.crs, opened.crs_inferred = inferred, True
    opened.notes.append(f"No coordinate system declared: {inferred} worked out from the values.")
    return opened


def _declares_crs(path: Path) -> bool:
    """Whether a GeoJSON file has a "crs" member (GDAL says EPSG:4326 with or without one).
    GIS software writes it before the features, so the file's start is enough."""
    with path.open("rb") as stream:
        head = stream.read(1 << 16)
    features = head.find(b'"features"')
    return re.search(rb'"crs"\s*:', head if features < 0 else head[:features]) is not None


def _geojson_crs(opened: OpenedUpload, bounds, inferred: str | None) -> None:
    """The coordinate system of a GeoJSON file that declares none.

    GeoJSON is longitude/latitude by definition (RFC 7946), but councils' GIS often write grid
    coordinates into it: it is read as grid only when none of its coordinates could be a
    longitude and latitude. A file that mixes both is read as longitude/latitude, and each
    feature beyond their ranges is a problem of its row.
    """
    west, south, east, north = (float(value) for value in bounds)
    if inferred == BNG and (west > 180 or south > 90):
        opened.crs, opened.crs_inferred = BNG, True
        opened.notes.append(
            "The GeoJSON declares no coordinate system but holds British National Grid "
            "coordinates: read as EPSG:27700."
        )
        return
    opened.crs = WGS84
    if max(abs(west), abs(east)) > 180 or max(abs(south), abs(north)) > 90:
        opened.notes.append(
            "The GeoJSON declares no coordinate system, so it is read as longitude/latitude "
            "(as GeoJSON is by definition), but some of its coordinates are beyond their "
            "ranges. If it holds British National Grid coordinates, export it with its "
            "coordinate system (EPSG:27700)."
        )


def upload_open(
    path: Path, *, workdir: Path, layer: str | None = None, limits: UploadLimits | None = None
) -> OpenedUpload:
    """Recognise ``path`` and say how to read it; UploadError saying why it cannot be.

    ``workdir`` is a private, empty folder for what archives unpack to; the caller removes it.
    """
    limits = limits or UploadLimits()
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise UploadError(f"The file is {size:,} bytes, over the limit of {limits.max_bytes:,}.")
    kind, name = _sniff(path), path.name
    if kind == "zip":
        try:
            is_xlsx = "xl/workbook.xml" in zipfile.ZipFile(path).namelist()
        except zipfile.BadZipFile as error:
            raise UploadError(f"The zip file is damaged or incomplete ({error}).") from None
        if is_xlsx:
            opened = OpenedUpload(path=path, format="XLSX", name=name)
            return _open_table(_choose_sheet(_with_gdal_suffix(opened, ".xlsx", workdir), layer))
        unpacked = workdir / "unpacked"
        path, kind = _from_archive(_safe_unpack(path, unpacked, limits), layer)
        name = f"{path.relative_to(unpacked).as_posix()} in {name}"
    opened = OpenedUpload(path=path, format=kind, name=name)
    if kind == "CSV":
        opened = _without_nul(opened, workdir)
        opened.encoding = _text_encoding(opened)
        return _open_table(_with_gdal_suffix(opened, ".csv", workdir))
    if kind == "GeoJSON":
        opened.encoding = _text_encoding(opened)
    if kind == "ESRI Shapefile":
        _shapefile_encoding(opened)
    if kind in GDAL_SUFFIXES:
        opened = _with_gdal_suffix(opened, GDAL_SUFFIXES[kind], workdir)
    return _open_vector(opened, layer)


def _shapefile_encoding(opened: OpenedUpload) -> None:
    """Read a Shapefile's text in its encoding: as its .cpg file or language driver byte says,
    unless the bytes show otherwise (see ``encodings.shapefile_text``), said in the notes."""
    try:
        text = shapefile_text(opened.path)
    except UndecodableText:
        raise UploadError(
            f"The text in the Shapefile {opened.path.stem} is neither UTF-8 nor Windows-1252: "
            "add a .cpg file naming its encoding (such as ISO-8859-15) beside the .shp in the "
            "zip file, or export the Shapefile again with UTF-8 text."
        ) from None
    opened.encoding = text.encoding
    if text.note:
        opened.notes.append(text.note)


def _with_gdal_suffix(opened: OpenedUpload, suffix: str, workdir: Path) -> OpenedUpload:
    """GDAL picks its CSV and XLSX drivers by the file's suffix (and warns about other
    formats without theirs): give it the format's suffix if the upload lacks it."""
    if opened.path.suffix.lower() == suffix or (
        suffix == ".geojson" and opened.path.suffix.lower() == ".json"
    ):
        return opened
    named = workdir / f"upload{suffix}"
    named.parent.mkdir(parents=True, exist_ok=True)
    named.symlink_to(opened.path.resolve())
    opened.path = named
    return opened
