"""What a download format implements.

A format is an ``Exporter`` registered under a short, stable key: the download's suffix
(``/datasets/<slug>/download.<key>``) and the command line's ``--format``. It is given an
``Export`` (``exports.selectors``): the features chosen, streamed in reference order, the
columns a table of them has (``exports.table``) and the metadata every download carries.

Every exporter writes to a file object (``write``). A ``StreamingExporter`` also gives its bytes
piece by piece (``chunks``), so a download of any size starts at once and holds one piece in
memory; the others make a whole file before it is sent, and refuse more than ``max_features``.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO, ClassVar

from django.conf import settings

if TYPE_CHECKING:
    from .selectors import Export


class ExportError(Exception):
    """A download that cannot be made. ``message`` is for the user (which parameter, which value,
    why); ``status`` is the HTTP status: 400 bad input, 404 nothing published then, 413 too many
    features for the format."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Exporter(ABC):
    key: ClassVar[str]  # the file suffix; never change it, links and scripts use it
    title: ClassVar[str]  # as the dataset page names the format
    hint: ClassVar[str]  # what it is good for, under the format's name on the dataset page
    media_type: ClassVar[str]
    spatial_only: ClassVar[bool] = False  # a list without geometry cannot be written in it
    # Whether the file says of itself where its data came from, its licence and its version
    # (``selectors.About``); one that cannot (a CSV file is only its table) has the dataset
    # page give them beside it, to be kept with the file.
    describes_itself: ClassVar[bool] = True

    @property
    def max_features(self) -> int | None:
        """The most features one download may hold (None: no limit)."""
        return settings.EXPORT_MAX_FEATURES

    @abstractmethod
    def write(self, export: "Export", out: BinaryIO) -> None:
        """Write the whole download to ``out``."""


class StreamingExporter(Exporter):
    """A format written as its features are read: no limit on their number."""

    @property
    def max_features(self) -> int | None:
        return None

    @abstractmethod
    def chunks(self, export: "Export") -> Iterator[bytes]:
        """The download's bytes, a piece at a time (each a few tens of kilobytes)."""

    def write(self, export: "Export", out: BinaryIO) -> None:
        for chunk in self.chunks(export):
            out.write(chunk)


class Batches:
    """Collects small pieces of bytes and hands them on in pieces of about ``size`` bytes: a
    response of one piece per feature would cost a write to the network for each."""

    def __init__(self, size: int = 64 * 1024) -> None:
        self.size = size
        self._parts: list[bytes] = []
        self._length = 0

    def add(self, part: bytes) -> bytes | None:
        """Keep ``part``; the pieces kept so far, joined, once they reach ``size``."""
        self._parts.append(part)
        self._length += len(part)
        return self.take() if self._length >= self.size else None

    def take(self) -> bytes:
        joined = b"".join(self._parts)
        self._parts, self._length = [], 0
        return joined
