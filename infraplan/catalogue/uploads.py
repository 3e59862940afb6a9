"""Files officers upload for loading: the size limit while streaming, and private storage.

An uploaded file is counted as it arrives: past ``UPLOAD_MAX_BYTES`` the handler stops keeping
it, so an oversized upload never fills the disk, and the form says how large a file may be. A
kept file is moved under ``UPLOAD_ROOT``, a folder no URL serves; the ``upload`` connector reads
it from there by the path the platform chose, never one a user typed.
"""

import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
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


def upload_store(upload: UploadedFile, *, dataset_slug: str) -> Path:
    """Keep ``upload`` under UPLOAD_ROOT in a folder of its own; returns where.

    The file keeps a cleaned form of its name (the version's "source" shows it); the folder's
    random name keeps two uploads of the same name apart.
    """
    name = _UNSAFE.sub("-", Path(upload.name or "upload").name).strip(".-") or "upload"
    folder = Path(settings.UPLOAD_ROOT) / "web" / dataset_slug / uuid.uuid4().hex
    folder.mkdir(parents=True)
    suffix = "".join(Path(name).suffixes)[-20:]  # kept, so the format can be told by it
    target = folder / (name[: 120 - len(suffix)].removesuffix(suffix) + suffix)
    with target.open("wb") as stored:
        upload.seek(0)
        shutil.copyfileobj(upload, stored)
    return target
