"""The connector contract: how data gets from a source into the ingest pipeline.

A connector is a plugin registered under a stable short key (``"upload"``, ``"wfs"`` ...; never a
class path in the database). Its configuration is a pydantic model validated at the edge, so a
source saved with a dataset is checked when it is saved, not when it first runs at 3 a.m.

A connector *yields* its features in batches, column-wise (``FeatureBatch``), so nothing holds a
whole national dataset in memory and the pipeline can copy each batch into PostgreSQL at once.
Rows a connector cannot turn into a feature (a coordinate that is not a number, say) travel in
the batch's ``problems`` with their row number: the pipeline reports them with everything else.

Failures are ``ConnectorError``s: a message for the officer, and whether trying again later can
help (a timeout, a 503) or not (a 404, a file without a coordinate system).
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import SplitResult, urlsplit

import numpy as np
from pydantic import BaseModel, ConfigDict

from .fetch import Credentials, FetchPolicy

# The longest message an error keeps. Messages quote what a file or a service held (a header
# row, an answer's first line), which can be a whole file: shown on the load's page, the
# dataset's and in the report, it must not make them megabytes.
MESSAGE_LIMIT = 2_000


def message_shortened(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """``message``, cut to ``limit`` characters with a word that it was."""
    if len(message) <= limit:
        return message
    return message[: limit - 30].rstrip() + " … (message shortened)"


NAME_SHOWN = 60  # characters of a name quoted in a message


def names_listed(names: list[str], limit: int = 10) -> str:
    """The first ``limit`` names, each cut to NAME_SHOWN characters, and how many more. A NUL
    (which PostgreSQL cannot store in a report) goes, and other control characters show as
    spaces: a source's column names are whatever it holds."""
    printable = [
        "".join(c if c.isprintable() else " " for c in name.replace("\x00", "")) for name in names
    ]
    shown = [
        name if len(name) <= NAME_SHOWN else name[: NAME_SHOWN - 1] + "…" for name in printable
    ]
    return ", ".join(
        shown[:limit] + ([f"{len(names) - limit:,} more"] if len(names) > limit else [])
    )


class ConnectorError(Exception):
    """A source that cannot be read; ``temporary`` says whether a retry later can help."""

    def __init__(self, message: str, *, temporary: bool = False) -> None:
        super().__init__(message_shortened(message))
        self.temporary = temporary


@dataclass(frozen=True)
class RowProblem:
    row: int  # 1-based, in the source's order
    field: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "value": self.value, "problem": self.reason}


@dataclass
class FeatureBatch:
    """Consecutive features of a source, column by column.

    ``fields`` maps each column to an array with one value per feature; ``geometry`` holds WKB
    bytes per feature (None where a feature has none), or is None for a table without geometry.
    ``crs`` is the coordinate system of the geometry (declared by the source or inferred); the
    WKB carries none of its own (not EWKB with an SRID), as GDAL and shapely write it.
    ``first_row`` is the 1-based number of the batch's first feature in the whole source.
    ``geometry_columns`` are the fields the geometry was read from (a table's coordinates or
    WKT): they are the geometry, not properties, unless the dataset's schema names them.
    """

    first_row: int
    fields: dict[str, np.ndarray]
    geometry: np.ndarray | None
    crs: str | None
    problems: list[RowProblem] = field(default_factory=list)
    geometry_columns: tuple[str, ...] = ()

    def __len__(self) -> int:
        if self.geometry is not None:
            return len(self.geometry)
        return len(next(iter(self.fields.values()))) if self.fields else 0


Progress = Callable[[int, str], None]  # (rows read so far, what is happening)


@dataclass
class SourceContext:
    """What a connector may use while it reads: a private scratch folder (removed afterwards),
    the outbound-fetch policy, and a progress callback shown on the dataset's page."""

    workdir: Path
    fetch_policy: FetchPolicy
    progress: Progress = lambda rows, stage: None
    notes: list[str] = field(default_factory=list)  # for the version's report
    # False for a dataset without geometry (a list): a file is then read as a table of values,
    # without looking for coordinates, and any geometry it has is not kept.
    geometry: bool = True
    # The load's renames ({the source's column: the field}): a connector that finds columns by
    # name (a table's coordinates) looks under the names as renamed.
    rename: dict[str, str] = field(default_factory=dict)
    # The source's credentials (``credentials.load_credentials``), sent with every request to
    # its address's origin (``remote.remote_get``); None for a source without, and for a load
    # that is not a saved source's (the command line's, an upload).
    credentials: Credentials | None = None


def http_address(url: str) -> SplitResult:
    """``url`` split, if it is an http(s) address a fetch could use: a host name without spaces,
    a port from 1 to 65535 and no user name or password; ValueError saying what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:  # "Invalid IPv6 URL", "Port out of range 0-65535"
        raise ValueError(f"is not a valid address ({str(error).lower()})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https address")
    if any(character.isspace() for character in url):
        raise ValueError("must not contain spaces (write a space in a path as %20)")
    if port == 0:
        raise ValueError("has port 0, which no service listens on")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password")
    return parts


def lon_lat_box(box: list[float] | None) -> list[float] | None:
    """``box`` (west, south, east, north) if it is an area in longitude and latitude, corners
    in order; ValueError saying what is wrong. For a configuration's area validator."""
    if box is None:
        return None
    west, south, east, north = box
    if not (
        -180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90
    ):
        raise ValueError(
            "must be in longitude (-180 to 180) and latitude (-90 to 90), such as "
            "0.6, 50.9, 1.5, 51.5"
        )
    if west >= east or south >= north:
        raise ValueError(
            "must give west, south, east, north in that order (west less than east, south less than north)"
        )
    return box


class ConnectorConfig(BaseModel):
    """Base of every connector's configuration: strict, unknown keys are errors, and numbers
    must be finite (NaN and infinity are refused)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    # The settings a data manager sets on a source's page, in the order shown there; the others
    # keep their defaults (or what the source had). A connector with none is not offered there:
    # an uploaded file is loaded once, not refreshed.
    form_fields: ClassVar[tuple[str, ...]] = ()


class Connector(ABC):
    key: ClassVar[str]
    title: ClassVar[str]
    Config: ClassVar[type[ConnectorConfig]]
    # The kinds of credentials (``credentials.CredentialKind``) a source of this connector may
    # hold; none for a connector that only reads public services or files.
    credential_kinds: ClassVar[tuple[str, ...]] = ()

    def credentials_address(self, config: ConnectorConfig) -> str:
        """The address whose origin the source's credentials are sent to: its ``url``."""
        return config.url

    @abstractmethod
    def describe(self, config: ConnectorConfig) -> str:
        """Where the data comes from, in a line: the version's ``source``."""

    @abstractmethod
    def batches(self, config: ConnectorConfig, context: SourceContext) -> Iterator[FeatureBatch]:
        """The source's features, in order, in batches; ConnectorError if it cannot be read."""
