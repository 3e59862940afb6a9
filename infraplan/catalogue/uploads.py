"""Files officers upload for loading: the size limit while streaming, and private storage.

An uploaded file is counted as it arrives: past ``UPLOAD_MAX_BYTES`` the handler stops keeping
it, so an oversized upload never fills the disk, and the form says how large a file may be. A
kept file is stored under ``UPLOAD_ROOT``, a folder no URL serves; the ``upload`` connector reads
it from there by the path the platform chose, never one a user typed.

A file that passes the form's checks of files is kept first (``upload_keep``), and moved
among the files to load once the whole form passes (``upload_kept_claim``). While another field
has an error it stays kept, so the officer need not send 500 MB again: the form carries a
signed token naming it, bound to the person and the dataset, never a path, and sent again
without a new file loads the kept one (``upload_kept_find``). Kept files nobody comes back for
are deleted after ``KEPT_FOR`` (``uploads_kept_sweep``, a periodic task).
"""

import re
import shutil
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class SizeLimitUploadHandler(FileUploadHandler):
    """Counts the bytes of the request's files and stops the upload once they pass ``max_bytes``.

    The count runs over every file in the request, not each one alone: the form takes one file,
    and a request carrying many (Django accepts up to ``DATA_UPLOAD_MAX_NUMBER_FILES``) would
    otherwise put that many times the limit on the server's disk before the form refused it.
    Put it before Django's own handlers: it passes every chunk on until the limit. The request
    is marked ``upload_too_large`` so the view can tell the officer; the rest of the body is read
    and dropped (``connection_reset=False``), so the browser still receives that answer.
    """

    def __init__(self, request: Any = None, max_bytes: int | None = None) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes or settings.UPLOAD_MAX_BYTES
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def upload_size_text(size: int) -> str:
    """A byte count as officers read it: 500 MB, 1.5 GB, 300 KB."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def _safe_name(name: str | None) -> str:
    """A cleaned form of an uploaded file's name (the version's "source" shows it), at most
    120 characters, keeping its suffixes, so the format can be told by them."""
    name = _UNSAFE.sub("-", Path(name or "upload").name).strip(".-") or "upload"
    suffix = "".join(Path(name).suffixes)[-20:]
    return name[: 120 - len(suffix)].removesuffix(suffix) + suffix


def _copy(upload: UploadedFile, target: Path) -> Path:
    with target.open("wb") as stored:
        upload.seek(0)
        shutil.copyfileobj(upload, stored)
    return target


def _load_folder(dataset_slug: str) -> Path:
    """A new folder for a file to load into ``dataset_slug``; its random name keeps two uploads
    of the same name apart."""
    folder = Path(settings.UPLOAD_ROOT) / "web" / dataset_slug / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


# How long a file kept from a form with errors waits to be sent again, before it is deleted.
KEPT_FOR = timedelta(days=1)

_KEPT_SALT = "infraplan.catalogue.uploads.kept"
_TOKEN = re.compile(r"[0-9a-f]{32}")
CHOOSE_AGAIN = "Choose the file again: "


class KeptUploadRefused(Exception):
    """A kept file's token that cannot be used; the message says why, for the form's file."""


@dataclass(frozen=True)
class KeptUpload:
    """A file kept from a form with errors: where it is, and the signed token the form carries."""

    path: Path
    signed: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def size_text(self) -> str:
        return upload_size_text(self.path.stat().st_size)


def _kept_root() -> Path:
    return Path(settings.UPLOAD_ROOT) / "kept"


def _kept_folder(token: str, *, user_id: int, dataset_id: int) -> Path:
    return _kept_root() / str(dataset_id) / str(user_id) / token


def upload_keep(upload: UploadedFile, *, user_id: int, dataset_id: int) -> KeptUpload:
    """Keep ``upload`` for ``user_id``'s next try at loading into ``dataset_id``."""
    token = uuid.uuid4().hex
    folder = _kept_folder(token, user_id=user_id, dataset_id=dataset_id)
    folder.mkdir(parents=True)
    path = _copy(upload, folder / _safe_name(upload.name))
    signed = signing.dumps(
        {"token": token, "user": user_id, "dataset": dataset_id}, salt=_KEPT_SALT, compress=True
    )
    return KeptUpload(path=path, signed=signed)


def upload_kept_find(signed: str, *, user_id: int, dataset_id: int) -> KeptUpload:
    """The file ``signed`` names, if it was kept for ``user_id`` and ``dataset_id`` less than
    KEPT_FOR ago and is still there; KeptUploadRefused saying why not."""
    try:
        claims = signing.loads(signed, salt=_KEPT_SALT, max_age=KEPT_FOR)
    except signing.SignatureExpired:
        raise KeptUploadRefused(
            f"{CHOOSE_AGAIN}the file you chose earlier is kept for a day only, and that day is over"
        ) from None
    except signing.BadSignature:
        raise KeptUploadRefused(
            f"{CHOOSE_AGAIN}the form named a kept file the platform did not give it"
        ) from None
    token = claims.get("token") if isinstance(claims, dict) else None
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise KeptUploadRefused(
            f"{CHOOSE_AGAIN}the form named a kept file the platform did not give it"
        )
    if claims.get("user") != user_id or claims.get("dataset") != dataset_id:
        raise KeptUploadRefused(
            f"{CHOOSE_AGAIN}the kept file the form named was chosen by someone else or for "
            "another dataset"
        )
    folder = _kept_folder(token, user_id=user_id, dataset_id=dataset_id)
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    if len(files) != 1 or not files[0].is_file():
        raise KeptUploadRefused(
            f"{CHOOSE_AGAIN}the file you chose earlier is no longer kept (it was loaded or deleted)"
        )
    return KeptUpload(path=files[0], signed=signed)


def upload_kept_discard(kept: KeptUpload) -> None:
    """Delete a kept file (replaced by another): its folder, which holds it alone."""
    shutil.rmtree(kept.path.parent, ignore_errors=True)


def upload_kept_claim(kept: KeptUpload, *, dataset_slug: str) -> Path:
    """Move a kept file to a folder of its own among the files to load, the kept token then
    naming nothing; returns where. A move, not a copy: it may be 500 MB."""
    target = _load_folder(dataset_slug) / kept.path.name
    kept.path.rename(target)
    kept.path.parent.rmdir()
    return target


def upload_kept_return(stored: Path, *, user_id: int, dataset_id: int, signed: str) -> KeptUpload:
    """Put a claimed file back where ``signed`` names it (a load the platform then refused),
    for the form to offer again; its load folder is removed."""
    claims = signing.loads(signed, salt=_KEPT_SALT)
    folder = _kept_folder(claims["token"], user_id=user_id, dataset_id=dataset_id)
    folder.mkdir(parents=True)
    path = folder / stored.name
    stored.rename(path)
    shutil.rmtree(stored.parent, ignore_errors=True)
    return KeptUpload(path=path, signed=signed)


def uploads_kept_sweep(*, older_than: timedelta = KEPT_FOR) -> int:
    """Delete the kept files nobody came back for within ``older_than`` (their folders, by
    when each was kept); returns how many."""
    root = _kept_root()
    if not root.is_dir():
        return 0
    before = time.time() - older_than.total_seconds()
    swept = 0
    for folder in root.glob("*/*/*"):
        if folder.is_dir() and _TOKEN.fullmatch(folder.name) and folder.stat().st_mtime < before:
            shutil.rmtree(folder, ignore_errors=True)
            swept += 1
    # The people's and datasets' folders left empty; one a new file is kept in meanwhile stays.
    for empty in [*root.glob("*/*"), *root.glob("*")]:
        with suppress(OSError):
            empty.rmdir()
    return swept
