"""Which encoding an uploaded file's text is in, when the file does not say or says it wrong.

CSV and GeoJSON should be UTF-8, but councils' spreadsheets and older GIS save Windows-1252
(£ as byte 0xA3). A Shapefile names its code page in a .cpg file beside the .dbf or in the
.dbf's language driver byte, or nowhere, and a .cpg can be wrong: software that writes "UTF-8"
over text it wrote in Windows-1252. Where the file's own word is missing or wrong, its bytes
decide: text that decodes as UTF-8 and has a character beyond ASCII is UTF-8 (Windows-1252
text almost never does, as its accented letters are single bytes UTF-8 cannot begin with and
end on), else it is Windows-1252.
"""

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

UTF8 = "UTF-8"
WINDOWS_1252 = "CP1252"
ENCODING_TITLES = {UTF8: "UTF-8", WINDOWS_1252: "Windows-1252"}

_CHUNK_BYTES = 1 << 20


class UndecodableText(ValueError):
    """Bytes that are neither UTF-8 nor Windows-1252 (five bytes have no Windows-1252 letter).

    ``offset`` is the first byte that is not Windows-1252, counted in the bytes examined."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"neither UTF-8 nor Windows-1252 text at byte {offset:,}")
        self.offset = offset


def text_encoding(chunks: Iterable[bytes]) -> str | None:
    """UTF-8 or Windows-1252, as the bytes of ``chunks`` (one stream, in order) decode; None
    when every byte is ASCII, which both read alike. UndecodableText when they are neither."""
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8, beyond_ascii, examined = True, False, 0
    windows_error: int | None = None  # the first byte that is not Windows-1252
    for chunk in chunks:
        if is_utf8:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError:
                is_utf8 = False
        if not chunk.isascii():
            beyond_ascii = True
            if windows_error is None:
                # Windows-1252 is one byte a character, so each chunk decodes on its own.
                try:
                    chunk.decode("cp1252")
                except UnicodeDecodeError as error:
                    windows_error = examined + error.start
        if not is_utf8 and windows_error is not None:
            break
        examined += len(chunk)
    if is_utf8:
        try:
            utf8.decode(b"", final=True)  # a character cut short at the end
        except UnicodeDecodeError:
            is_utf8 = False
    if not beyond_ascii:
        return None
    if is_utf8:
        return UTF8
    if windows_error is not None:
        raise UndecodableText(windows_error)
    return WINDOWS_1252


def file_chunks(path: Path) -> Iterator[bytes]:
    """The bytes of ``path`` a chunk at a time, so that a large file is never held whole."""
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            yield chunk


def _dbf_text(dbf: Path) -> Iterator[bytes]:
    """The text of a dBase table: its character fields' bytes, records a chunk at a time (a
    character never spans two records). Numbers and dates are ASCII, and binary fields of later
    dBase versions are left out, as their bytes are not text. So are the field names: they are
    ASCII in practice, and cut at 10 bytes, which can split a character in two."""
    with dbf.open("rb") as stream:
        header = stream.read(32)
        if len(header) < 32:
            return
        records = int.from_bytes(header[4:8], "little")
        header_bytes = int.from_bytes(header[8:10], "little")
        record_bytes = int.from_bytes(header[10:12], "little")
        descriptors = stream.read(max(header_bytes - 32, 0))
        text_bytes = np.zeros(record_bytes, dtype=bool)
        offset = 1  # each record starts with its deletion mark
        for start in range(0, len(descriptors) - 31, 32):
            descriptor = descriptors[start : start + 32]
            if descriptor[0] == 0x0D:  # the end of the field descriptors
                break
            kind = descriptor[11:12]
            # As shapelib reads it: only numbers keep their byte 17 for decimals; other fields
            # use it as the high byte of a width over 255.
            width = (
                descriptor[16] if kind in (b"N", b"F") else descriptor[16] + 256 * descriptor[17]
            )
            if kind == b"C":
                text_bytes[offset : offset + width] = True
            offset += width
        if record_bytes == 0 or not text_bytes.any():
            return
        stream.seek(header_bytes)
        per_chunk = max(_CHUNK_BYTES // record_bytes, 1)
        while records > 0:
            data = stream.read(min(per_chunk, records) * record_bytes)
            count = len(data) // record_bytes
            if count == 0:
                return
            rows = np.frombuffer(data, dtype=np.uint8, count=count * record_bytes)
            yield rows.reshape(count, record_bytes)[:, text_bytes].tobytes()
            records -= count


def _names_utf8(code_page: str) -> bool:
    """Whether a .cpg file's word (UTF-8, utf8, 65001 ...) names UTF-8."""
    name = code_page.strip().lower()
    if name.isdigit():
        name = f"cp{name}"
    try:
        return codecs.lookup(name).name == "utf-8"
    except LookupError:
        return False


@dataclass(frozen=True)
class ShapefileText:
    """How to read a Shapefile's text: ``encoding`` None leaves it to GDAL (from the .cpg or
    the language driver byte), with ``note`` for the report when the bytes decided."""

    encoding: str | None = None
    note: str = ""


def shapefile_text(shp: Path) -> ShapefileText:
    """The encoding of a Shapefile's text: as its .cpg file or its .dbf's language driver byte
    says, unless its .cpg says UTF-8 over text that is not (read as Windows-1252, said in the
    note); with neither, as its bytes decide (said in the note). UndecodableText when the
    bytes must decide and are neither UTF-8 nor Windows-1252."""
    parts = {
        path.suffix.lower(): path
        for path in shp.parent.iterdir()
        if path.with_suffix("") == shp.with_suffix("")
    }
    dbf = parts[".dbf"]
    declared = (
        parts[".cpg"].read_bytes().decode("ascii", "replace").strip() if ".cpg" in parts else ""
    )
    if declared and not _names_utf8(declared):
        return ShapefileText()
    if not declared:
        with dbf.open("rb") as stream:
            language_driver = stream.read(32)[29:30]
        if language_driver not in (b"", b"\x00"):
            return ShapefileText()  # GDAL reads the code page it names
    found = text_encoding(_dbf_text(dbf))
    if found is None or (declared and found == UTF8):
        return ShapefileText()
    if declared:
        return ShapefileText(
            found,
            "The Shapefile's .cpg file says its text is UTF-8, but it is not: it was read as "
            "Windows-1252. Check accented letters and symbols such as £ in the result, and "
            "correct the .cpg file (or export the Shapefile again) before the next upload.",
        )
    how = "which its text is" if found == UTF8 else "as its text is not UTF-8"
    return ShapefileText(
        found,
        "The Shapefile has no .cpg file to say how its text is encoded: it was read as "
        f"{ENCODING_TITLES[found]}, {how}. Check accented letters and symbols such as £ in "
        "the result.",
    )
