"""What the upload reader knows of a file once it is opened, and how it refuses one: the
``OpenedUpload`` the pipeline reads, the ``UploadError`` an officer reads, and GDAL's reasons
made fit to show."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from infraplan.connectors.base import message_shortened

WGS84 = "EPSG:4326"


BNG = "EPSG:27700"


# GDAL's driver names as officers know the formats.
FORMAT_TITLES = {
    "GeoJSON": "GeoJSON", "GPKG": "a GeoPackage", "FlatGeobuf": "FlatGeobuf",
    "ESRI Shapefile": "a Shapefile", "CSV": "CSV", "XLSX": "an XLSX workbook",
}  # fmt: skip


CHOOSE_BY_NAME = "choose one by giving its name as the layer name"


class UploadError(Exception):
    """An upload that cannot be read; the message says what is wrong and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message_shortened(message))


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
    decimal_comma: bool = False  # coordinates may be written 51,28 (a CSV separated by ";")
    crs: str | None = None
    crs_inferred: bool = False  # True when the coordinate system was worked out from the values
    geometry: bool = True  # False: read as values only, for a dataset without geometry
    # The load's renames ({the file's column: the name it is read as}): the coordinate or WKT
    # columns are looked for under the names as renamed.
    rename: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the report should tell the officer
    text_driver: str | None = None  # GeoJSONSeq for GeoJSON one feature a line; see gdal_path

    @property
    def is_table(self) -> bool:
        return self.format in ("CSV", "XLSX")

    @property
    def gdal_path(self) -> str:
        """What GDAL is given to open: the file, with the driver named for a text format.

        GDAL asks each driver in turn whether it reads a file, and some answer from its text:
        ``<OGRVRTDataSource>`` anywhere in the first kilobyte makes it a virtual layer over
        whatever file or address it names (``/vsicurl/http://...``), so a CSV or GeoJSON file
        could have the server read its own files or fetch from its network. Named, the driver
        reads the file as the format it was recognised as, and as nothing else. (The binary
        formats hold NUL bytes at their start, where such text cannot be read.)"""
        driver = self.text_driver or (self.format if self.format in ("CSV", "GeoJSON") else None)
        return f"{driver}:{self.path}" if driver else str(self.path)

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


def column_names(names: Iterable[str]) -> list[str]:
    """A file's column names as the platform reads them: without the spaces around them. A
    spreadsheet's header cell often ends in a space nobody sees ("Site Ref "), and the name
    typed on the upload page (its reference column, a rename) cannot have one.

    UploadError where two different names are then the same, naming both: which of them is meant
    cannot be told. (A name repeated exactly is another matter: each column is kept, the later
    ones renamed, see the connector.)"""
    names = list(names)
    trimmed = [name.strip() for name in names]
    as_written: dict[str, list[str]] = {}
    for name, read_as in zip(names, trimmed, strict=True):
        if name not in as_written.setdefault(read_as, []):
            as_written[read_as].append(name)
    clashes = [written for written in as_written.values() if len(written) > 1]
    if clashes:
        listed = "; ".join(" and ".join(repr(name) for name in written) for written in clashes)
        raise UploadError(
            f"Some columns' names differ only by spaces before or after them ({listed}): they "
            "are read without those spaces, so they would have the same name. Rename or delete "
            "one of each, and upload the file again."
        )
    return trimmed


# Parts of GDAL's messages an officer has no use for: a path on the server (with the driver's
# prefix, see ``OpenedUpload.gdal_path``), the advice to name a driver (which the platform
# chooses), and the SQL statement SQLite failed in.
_SERVER_PATH = re.compile(r"(?<![\w.:])(?:(?:CSV|GeoJSON|GeoJSONSeq):)?(?:/[^\s'\"/]+)+")


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
