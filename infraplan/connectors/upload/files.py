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
from pathlib import Path, PurePosixPath

import numpy as np
import pyogrio

from .encodings import (
    UTF8,
    WINDOWS_1252,
    UndecodableText,
    file_chunks,
    shapefile_text,
    text_encoding,
)
from .opened import (
    BNG,
    CHOOSE_BY_NAME,
    FORMAT_TITLES,
    WGS84,
    OpenedUpload,
    UploadError,
    UploadLimits,
    column_names,
    gdal_reason,
)
from .tables import crs_infer, sheet_choose, table_open

VECTOR_SUFFIXES = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".fgb": "FlatGeobuf"}


TABLE_SUFFIXES = {".csv": "CSV", ".xlsx": "XLSX"}


SHAPEFILE_PARTS = (".shp", ".shx", ".dbf")


GDAL_SUFFIXES = {"GeoJSON": ".geojson", "GPKG": ".gpkg", "FlatGeobuf": ".fgb"}


def _sniff(path: Path) -> str:
    """The format from the first bytes: zip, GPKG, FlatGeobuf, GeoJSON or text (CSV)."""
    with path.open("rb") as stream:
        head = stream.read(512)
    if not head:
        raise UploadError("The file is empty.")
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(_OLE_SIGNATURE):
        raise UploadError(_office_file_refusal(path))
    if head.startswith(b"SQLite format 3\x00"):
        return "GPKG"
    if head.startswith(b"fgb\x03"):
        return "FlatGeobuf"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    # A feature collection, or a sequence of features one per line (RFC 8142 starts each with
    # the record separator); GDAL tells the two apart.
    if text.startswith((b"{", b"\x1e")):
        return "GeoJSON"
    if text.startswith(b"<"):
        raise UploadError(
            f"The file is {_markup_kind(text.lower())}, which the platform does not read as an "
            "upload: export the data from your GIS as GeoJSON, a GeoPackage, a zipped Shapefile "
            "or FlatGeobuf, or as a CSV or XLSX table with coordinate columns."
        )
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


# Microsoft's compound file: Excel 97-2003 workbooks (.xls), and any Office file saved with a
# password, whose encrypted contents it wraps.
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE_NAMES_SCANNED = 4 * 1024 * 1024  # bytes in which the streams' names are looked for


def _office_file_refusal(path: Path) -> str:
    """Why an Office compound file is refused, told from the names of the streams it holds
    (UTF-16 in its directory): a workbook with a password, an older Excel workbook, or
    another Office file."""
    with path.open("rb") as stream:
        content = stream.read(_OLE_NAMES_SCANNED)
    if "EncryptedPackage".encode("utf-16-le") in content:
        return (
            "The file is protected by a password, which the platform cannot open: save a copy "
            "without the password (as an Excel Workbook, .xlsx, or CSV UTF-8) and upload that."
        )
    if "Workbook".encode("utf-16-le") in content or "Book".encode("utf-16-le") in content:
        return (
            "The file is an Excel 97-2003 workbook (.xls), which the platform does not read: "
            "save it as an Excel Workbook (.xlsx) or as CSV UTF-8 and upload that."
        )
    return (
        "The file is an older Microsoft Office document, not data the platform reads: upload "
        "GeoJSON, a GeoPackage, a zipped Shapefile, FlatGeobuf, or a CSV or XLSX table."
    )


# The start of a GeoJSON object whose features it is: a collection, or a single feature.
_GEOJSON_TYPE = re.compile(rb'"type"\s*:\s*"(FeatureCollection|Feature)"')
_JSON_LOOKED_AT = 64 * 1024  # bytes of a file read to tell GeoJSON from other JSON


def _without_geometries(opened: OpenedUpload) -> str:
    """Why a layer that GDAL says holds features has none with a geometry: for a JSON file that
    is no GeoJSON (an API's answer, say), that it is not GeoJSON."""
    if opened.format == "GeoJSON":
        with opened.path.open("rb") as stream:
            head = stream.read(_JSON_LOOKED_AT)
        if not _GEOJSON_TYPE.search(head):
            return (
                "The file is JSON but not GeoJSON: it holds no FeatureCollection or Feature "
                '(GeoJSON\'s "type" member). Export the data as GeoJSON, or give the address of '
                "the service's GeoJSON output."
            )
    return f"The layer {opened.layer!r} holds no feature with a geometry."


def _markup_kind(head: bytes) -> str:
    """What a file of markup is, from its lower-cased start, as an officer would name it."""
    if b"<kml" in head:
        return "KML (as Google Earth saves)"
    if b"<gpx" in head:
        return "GPX (as GPS devices and route planners save)"
    if b"<html" in head or b"<!doctype html" in head:
        return "a web page (HTML), not data"
    if b"gml" in head:
        return "GML"
    return "XML"


# Bytes no text file holds (tab, line feed, form feed and carriage return are text).
_CONTROL = re.compile(rb"[\x01-\x08\x0b\x0e-\x1f\x7f]")


# What zipfile can unpack: stored, deflate, bzip2 and LZMA (not Deflate64, method 9, which
# Windows uses for files over 2 GB, nor the AES encryption some archivers offer).
_UNPACKABLE = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_NAME_MAX_BYTES = 255  # of one file or folder name, as Linux file systems allow
_PATH_MAX_BYTES = 1024


def _zip_members(
    zipped: zipfile.ZipFile, limits: UploadLimits, kind: str = "zip file"
) -> list[zipfile.ZipInfo]:
    """The files of ``zipped`` (an upload, or an XLSX workbook, which is a zip file too), each
    checked before anything is unpacked: no traversal, links, bombs, floods, passwords,
    compression zipfile cannot undo, or names no folder can hold. UploadError says which,
    calling the file ``kind`` as the officer knows it."""
    members = [member for member in zipped.infolist() if not member.is_dir()]
    if len(members) > limits.max_members:
        raise UploadError(
            f"The {kind} holds {len(members):,} files, more than the "
            f"{limits.max_members:,} allowed."
        )
    members = [member for member in members if not _is_mac_metadata(member.filename)]
    total = sum(member.file_size for member in members)
    if total > limits.max_unpacked_bytes:
        raise UploadError(
            f"The {kind} unpacks to {total:,} bytes, more than the "
            f"{limits.max_unpacked_bytes:,} allowed."
        )
    files = {_member_path(member, kind): member for member in members}
    folders = {parent for path in files for parent in path.parents}
    for path, member in files.items():
        if path in folders:
            raise UploadError(
                f"The {kind} holds both a file and a folder named {member.filename!r}; refused."
            )
        if stat.S_ISLNK(member.external_attr >> 16):
            raise UploadError(f"The {kind} holds a link ({member.filename!r}); refused.")
        if member.flag_bits & 0x1:
            raise UploadError(
                f"{member.filename!r} in the {kind} is protected by a password, which the "
                "platform cannot open: zip the files again without one."
            )
        if member.compress_type not in _UNPACKABLE:
            method = "Deflate64" if member.compress_type == 9 else f"method {member.compress_type}"
            raise UploadError(
                f"{member.filename!r} in the {kind} is compressed with {method}, which the "
                "platform cannot unpack: zip the files again with ordinary (Deflate) compression."
            )
        if member.compress_size and member.file_size / member.compress_size > limits.max_ratio:
            raise UploadError(
                f"{member.filename!r} in the {kind} expands "
                f"{member.file_size // max(member.compress_size, 1):,} times: refused as a "
                "possible zip bomb."
            )
    return members


def _member_path(member: zipfile.ZipInfo, kind: str = "zip file") -> PurePosixPath:
    """Where a member unpacks to, relative to the folder; UploadError for a path outside it or
    one too long for the file system."""
    name = PurePosixPath(member.filename.replace("\\", "/"))
    if name.is_absolute() or ".." in name.parts or not name.parts:
        raise UploadError(
            f"The {kind} names a path outside itself ({member.filename!r}); it was refused."
        )
    if len(member.filename.encode()) > _PATH_MAX_BYTES or any(
        len(part.encode()) > _NAME_MAX_BYTES for part in name.parts
    ):
        raise UploadError(
            f"The {kind} holds a file whose name is too long to unpack "
            f"({member.filename[:80]!r}...): shorten its name or its folders' names."
        )
    return PurePosixPath(*name.parts)


def _safe_unpack(archive: Path, into: Path, limits: UploadLimits) -> list[Path]:
    """Unpack ``archive`` under ``into``, its members checked first (``_zip_members``)."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            unpacked = []
            for member in _zip_members(zipped, limits):
                target = into.joinpath(*_member_path(member).parts)
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
            raise UploadError(f"The zip file holds several Shapefiles ({names}): {CHOOSE_BY_NAME}.")
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


def _open_vector(opened: OpenedUpload, layer: str | None) -> OpenedUpload:
    title = FORMAT_TITLES[opened.format]
    try:
        found = pyogrio.list_layers(opened.gdal_path)
    except pyogrio.errors.DataSourceError as error:
        found = _geojson_sequence(opened) if opened.format == "GeoJSON" else None
        if found is None:
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
            f"The file holds several layers ({', '.join(opened.layers)}): {CHOOSE_BY_NAME}."
        )
    opened.layer = layer or opened.layers[0]
    try:
        info = pyogrio.read_info(
            opened.gdal_path, layer=opened.layer, encoding=opened.encoding, **opened.open_options
        )
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        raise UploadError(
            f"The layer {opened.layer!r} cannot be read ({gdal_reason(error, opened.name)})."
        ) from None
    column_names(info["fields"])  # refused here if two names clash without their spaces
    if not opened.geometry:
        return _without_geometry(opened, info)
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
        bounds = pyogrio.read_bounds(opened.gdal_path, layer=opened.layer)
        if not bounds[1][0].size:
            raise UploadError(_without_geometries(opened))
        bounds = (bounds[1][0].min(), bounds[1][1].min(), bounds[1][2].max(), bounds[1][3].max())
    inferred = crs_infer(np.array(bounds[0::2], dtype=float), np.array(bounds[1::2], dtype=float))
    if info["crs"]:
        declared = _geojson_declared_crs(opened.path) if opened.format == "GeoJSON" else "name"
        if info["crs"] == WGS84 and declared != "name":
            if declared == "address":
                opened.notes.append(CRS_ADDRESS_NOT_FETCHED)
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


def _geojson_sequence(opened: OpenedUpload) -> np.ndarray | None:
    """The layers of a GeoJSON file read as a sequence of features, one a line (as command-line
    tools and APIs write them, which GDAL reads with a driver of its own), or None if it is
    not one either."""
    opened.text_driver = "GeoJSONSeq"
    try:
        return pyogrio.list_layers(opened.gdal_path)
    except pyogrio.errors.DataSourceError:
        opened.text_driver = None
        return None


def _without_geometry(opened: OpenedUpload, info: dict) -> OpenedUpload:
    """A layer read as values only, for a dataset without geometry."""
    if info["features"] == 0:
        raise UploadError(f"The layer {opened.layer!r} holds no features.")
    if info["geometry_type"] is not None:
        opened.notes.append(
            "The file's geometry is not kept: the dataset has none, so only its values are read."
        )
    return opened


CRS_ADDRESS_NOT_FETCHED = (
    'The GeoJSON gives its coordinate system as an address (a "crs" of type link or url, as '
    "GeoJSON's 2008 specification allowed), which the platform does not fetch: it is read as "
    "declaring none."
)


def _geojson_declared_crs(path: Path) -> str | None:
    """How a GeoJSON file declares its coordinate system (GDAL says EPSG:4326 with or without a
    declaration): "name" for a ``crs`` member naming it, "address" for one that links to it
    (GDAL fetches nothing, ``connectors/gdal_network.py``, so it is as good as none), None
    without one. GIS software writes it before the features, so the file's start is enough."""
    with path.open("rb") as stream:
        head = stream.read(1 << 16)
    features = head.find(b'"features"')
    member = re.search(rb'"crs"\s*:', head if features < 0 else head[:features])
    if member is None:
        return None
    crs = head[member.end() : member.end() + 1000]
    return "address" if re.search(rb'"type"\s*:\s*"(link|url)"', crs, re.IGNORECASE) else "name"


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
    path: Path, *, workdir: Path, layer: str | None = None, limits: UploadLimits | None = None,
    geometry: bool = True, rename: dict[str, str] | None = None,
) -> OpenedUpload:  # fmt: skip
    """Recognise ``path`` and say how to read it; UploadError saying why it cannot be.

    ``workdir`` is a private, empty folder for what archives unpack to; the caller removes it.
    ``geometry`` False reads the file as values only, for a dataset without geometry.
    ``rename`` is the load's renames: a table's coordinate columns are found by their new names.
    """
    rename = rename or {}
    limits = limits or UploadLimits()
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise UploadError(f"The file is {size:,} bytes, over the limit of {limits.max_bytes:,}.")
    kind, name = _sniff(path), path.name
    if kind == "zip":
        try:
            with zipfile.ZipFile(path) as zipped:
                is_xlsx = "xl/workbook.xml" in zipped.namelist()
                if is_xlsx:  # GDAL unpacks it as it reads: the same checks first
                    _zip_members(zipped, limits, kind="workbook")
        except zipfile.BadZipFile as error:
            if name.lower().endswith((".xlsx", ".xlsm")):  # a workbook is a zip file inside
                raise UploadError(
                    "The workbook is damaged or incomplete: save it again from the spreadsheet "
                    f"program and upload the copy ({error})."
                ) from None
            raise UploadError(f"The zip file is damaged or incomplete ({error}).") from None
        if is_xlsx:
            opened = OpenedUpload(
                path=path, format="XLSX", name=name, geometry=geometry, rename=rename
            )
            return table_open(
                sheet_choose(_with_gdal_suffix(opened, ".xlsx", workdir), layer, workdir)
            )
        unpacked = workdir / "unpacked"
        path, kind = _from_archive(_safe_unpack(path, unpacked, limits), layer)
        name = f"{path.relative_to(unpacked).as_posix()} in {name}"
    opened = OpenedUpload(path=path, format=kind, name=name, geometry=geometry, rename=rename)
    if kind == "CSV":
        _text_named_otherwise(path)
        opened = _without_nul(opened, workdir)
        opened.encoding = _text_encoding(opened)
        return table_open(_with_gdal_suffix(opened, ".csv", workdir))
    if kind == "GeoJSON":
        opened.encoding = _text_encoding(opened)
    if kind == "ESRI Shapefile":
        _shapefile_encoding(opened)
    if kind in GDAL_SUFFIXES:
        opened = _with_gdal_suffix(opened, GDAL_SUFFIXES[kind], workdir)
    return _open_vector(opened, layer)


# What a file named with each suffix should be, where text is not it: such a file read as a CSV
# would be refused for its columns, which says nothing of what is wrong.
_NOT_TEXT_SUFFIXES = {
    ".gpkg": "a GeoPackage", ".fgb": "FlatGeobuf", ".zip": "a zip file", ".shp": "a Shapefile",
    ".xlsx": "an Excel workbook", ".xlsm": "an Excel workbook", ".geojson": "GeoJSON",
    ".json": "JSON",
}  # fmt: skip


def _text_named_otherwise(path: Path) -> None:
    """UploadError where a file of plain text is named as a format that is not (a GeoPackage
    that is not one, say): damaged, or misnamed when it was saved."""
    what = _NOT_TEXT_SUFFIXES.get(path.suffix.lower())
    if what is not None:
        raise UploadError(
            f"The file is named {path.suffix} but is not {what}: it holds plain text. Export it "
            "again from your GIS or spreadsheet; if it is a table with coordinate columns, save "
            "it as CSV (.csv)."
        )


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
