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
    layer: str | None = None
    layers: list[str] = field(default_factory=list)
    encoding: str | None = None  # tables only: the text encoding found
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
        whole read instead of being a problem of its row when the pipeline checks it."""
        return {"DATE_AS_STRING": "YES"} if self.format == "GeoJSON" else {}


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


def _from_archive(files: list[Path], layer: str | None) -> tuple[Path, str]:
    """The data file inside an unpacked archive (a Shapefile or one vector/table file)."""
    shapefiles = {path.with_suffix(""): path for path in files if path.suffix.lower() == ".shp"}
    others = [
        path
        for path in files
        if path.suffix.lower() in VECTOR_SUFFIXES | TABLE_SUFFIXES and not path.name.startswith(".")
    ]
    if shapefiles:
        if len(shapefiles) > 1 and not layer:
            names = ", ".join(sorted(stem.name for stem in shapefiles))
            raise UploadError(f"The zip file holds several Shapefiles ({names}): choose one.")
        stem = next((stem for stem in shapefiles if not layer or stem.name == layer), None) or next(
            iter(shapefiles)
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


def _text_encoding(path: Path) -> str:
    """UTF-8 (with or without a byte-order mark), else Windows-1252 (council spreadsheets
    saved by Excel carry £ as byte 0xA3)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "UTF-8"
    try:
        data.decode("cp1252")
    except UnicodeDecodeError as error:
        raise UploadError(
            f"The CSV file is neither UTF-8 nor Windows-1252 text (byte {error.start:,}); "
            "save it from your spreadsheet as CSV UTF-8."
        ) from None
    return "CP1252"


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


def _open_table(opened: OpenedUpload) -> OpenedUpload:
    names = list(pyogrio.read_info(opened.path, encoding=opened.encoding)["fields"])
    columns = _point_columns(names)
    if columns is None:
        wkt = next((name for name in names if name.lower().strip() in WKT_HEADERS), None)
        if wkt is None:
            raise UploadError(
                "The table has no coordinate columns: name them Easting and Northing (British "
                "National Grid), Latitude and Longitude, GeoX and GeoY, or X and Y, or give a "
                f"WKT column. Its columns are: {', '.join(names) or 'none'}."
            )
        opened.wkt_column = wkt
        _, _, _, values = pyogrio.raw.read(
            opened.path, columns=[wkt], read_geometry=False, encoding=opened.encoding
        )
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
        opened.path, columns=[opened.x_column, opened.y_column], read_geometry=False,
        encoding=opened.encoding,
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


def _open_vector(opened: OpenedUpload, layer: str | None) -> OpenedUpload:
    try:
        opened.layers = [name for name, _ in pyogrio.list_layers(opened.path)]
    except pyogrio.errors.DataSourceError as error:
        raise UploadError(
            f"The file cannot be read as {opened.format}: it may be truncated or damaged ({error})."
        ) from None
    if not opened.layers:
        raise UploadError(f"The {opened.format} file holds no layers.")
    if layer and layer not in opened.layers:
        raise UploadError(
            f"The file has no layer {layer!r}; its layers are: {', '.join(opened.layers)}."
        )
    if not layer and len(opened.layers) > 1:
        raise UploadError(
            f"The file holds several layers ({', '.join(opened.layers)}): choose one."
        )
    opened.layer = layer or opened.layers[0]
    try:
        info = pyogrio.read_info(opened.path, layer=opened.layer, **opened.open_options)
    except pyogrio.errors.DataSourceError as error:
        raise UploadError(f"The layer {opened.layer!r} cannot be read ({error}).") from None
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
    kind = _sniff(path)
    if kind == "zip":
        try:
            is_xlsx = "xl/workbook.xml" in zipfile.ZipFile(path).namelist()
        except zipfile.BadZipFile as error:
            raise UploadError(f"The zip file is damaged or incomplete ({error}).") from None
        if is_xlsx:
            opened = OpenedUpload(path=path, format="XLSX")
            return _open_table(_with_gdal_suffix(opened, ".xlsx", workdir))
        found, kind = _from_archive(_safe_unpack(path, workdir / "unpacked", limits), layer)
        path = found
    opened = OpenedUpload(path=path, format=kind)
    if kind == "CSV":
        opened = _without_nul(opened, workdir)
        opened.encoding = _text_encoding(opened.path)
        if opened.encoding != "UTF-8":
            opened.notes.append("Read as Windows-1252 text (not UTF-8).")
        return _open_table(_with_gdal_suffix(opened, ".csv", workdir))
    if kind in GDAL_SUFFIXES:
        opened = _with_gdal_suffix(opened, GDAL_SUFFIXES[kind], workdir)
    return _open_vector(opened, layer)


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
