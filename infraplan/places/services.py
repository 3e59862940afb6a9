"""Writes of the places app: loading the postcode directory."""

import csv
import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from infraplan.audit.services import audit_record
from infraplan.core.coordinates import GRID_EASTING_MAX, GRID_NORTHING_MAX

from .models import Postcode, PostcodeLoad

# The ONS Postcode Directory's names for the columns we keep.
POSTCODE_COLUMNS = ("pcd", "laua", "oseast1m", "osnrth1m")
_POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})$")
_GSS_CODE = re.compile(r"^[EWSN]\d{8}$")
# Serialises loads: two at once would each replace the table with their own file.
_LOAD_LOCK = "places.postcodes_load"


class PostcodeFileError(ValueError):
    """A postcode file that cannot be loaded; the message names the line, the field and why."""


@dataclass(frozen=True)
class PostcodeLoadResult:
    changed: bool  # False when the file was the one already loaded: nothing was done
    rows: int
    seconds: float
    checksum: str


def postcode_normalise(text: str) -> str | None:
    """``text`` as a full postcode in the directory's form (``ct12eh`` -> ``CT1 2EH``), or None
    if it is not one."""
    compact = re.sub(r"\s+", "", text.upper())
    match = _POSTCODE.match(compact)
    return f"{match[1]} {match[2]}" if match else None


def _checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _metres(value: str, *, line: int, field: str, maximum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise PostcodeFileError(
            f"Line {line}, field {field}: “{value}” is not a whole number of metres."
        ) from None
    if not 0 <= number <= maximum:
        raise PostcodeFileError(
            f"Line {line}, field {field}: {number} is outside the National Grid (0 to {maximum:,})."
        )
    return number


def _rows(path: Path) -> Iterator[tuple[str, str, str]]:
    """Each postcode of the file as a (postcode, district, EWKT point) row for COPY, checked."""
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8-sig") as source:
        reader = csv.DictReader(source)
        missing = [name for name in POSTCODE_COLUMNS if name not in (reader.fieldnames or [])]
        if missing:
            raise PostcodeFileError(
                f"Line 1: the header lacks the column(s) {', '.join(missing)}; a postcode file "
                f"needs {', '.join(POSTCODE_COLUMNS)} (the ONS Postcode Directory's names)."
            )
        for record in reader:
            line = reader.line_num
            postcode = postcode_normalise(record["pcd"] or "")
            if postcode is None:
                raise PostcodeFileError(
                    f"Line {line}, field pcd: “{record['pcd']}” is not a postcode."
                )
            if postcode in seen:
                raise PostcodeFileError(
                    f"Line {line}, field pcd: {postcode} appears twice; each postcode once."
                )
            seen.add(postcode)
            district = (record["laua"] or "").strip()
            if not _GSS_CODE.match(district):
                raise PostcodeFileError(
                    f"Line {line}, field laua: “{district}” is not a GSS code (a letter and eight digits)."
                )
            easting = _metres(
                record["oseast1m"] or "", line=line, field="oseast1m", maximum=GRID_EASTING_MAX
            )
            northing = _metres(
                record["osnrth1m"] or "", line=line, field="osnrth1m", maximum=GRID_NORTHING_MAX
            )
            yield postcode, district, f"SRID=27700;POINT({easting} {northing})"


def postcodes_load(*, path: Path, actor: Any = None) -> PostcodeLoadResult:
    """Replace the postcode table with the file at ``path`` (ONSPD columns), if it changed.

    The file is streamed into the table with COPY inside one transaction, so searches see the
    old postcodes until the new ones are all in; a malformed row raises PostcodeFileError (naming
    the line and field) and leaves the previous content as it was. Loading the file that is
    already loaded (same SHA-256) does nothing.
    """
    started = time.monotonic()
    checksum = _checksum(path)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [_LOAD_LOCK])
        latest = PostcodeLoad.objects.first()
        if latest is not None and latest.checksum == checksum:
            return PostcodeLoadResult(
                changed=False, rows=latest.rows, seconds=time.monotonic() - started,
                checksum=checksum,
            )  # fmt: skip
        before = {"rows": latest.rows, "checksum": latest.checksum} if latest else None
        table = Postcode._meta.db_table
        rows = 0
        with connection.cursor() as cursor:
            # DELETE, not TRUNCATE: searches keep reading the old rows until this commits.
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (a model's own table name)
            with cursor.cursor.copy(f"COPY {table} (postcode, district, point) FROM STDIN") as copy:
                for row in _rows(path):
                    copy.write_row(row)
                    rows += 1
        seconds = time.monotonic() - started
        load = PostcodeLoad.objects.create(
            source=path.name, checksum=checksum, rows=rows, seconds=seconds
        )
        audit_record(
            actor=actor,
            action="places.postcodes.load",
            target=load,
            before=before,
            after={"rows": rows, "checksum": checksum, "seconds": round(seconds, 2)},
        )
    return PostcodeLoadResult(changed=True, rows=rows, seconds=seconds, checksum=checksum)
