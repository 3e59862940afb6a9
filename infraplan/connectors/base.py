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

import numpy as np
from pydantic import BaseModel, ConfigDict

from .fetch import FetchPolicy


class ConnectorError(Exception):
    """A source that cannot be read; ``temporary`` says whether a retry later can help."""

    def __init__(self, message: str, *, temporary: bool = False) -> None:
        super().__init__(message)
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
    ``crs`` is the coordinate system of the geometry (declared by the source or inferred).
    ``first_row`` is the 1-based number of the batch's first feature in the whole source.
    """

    first_row: int
    fields: dict[str, np.ndarray]
    geometry: np.ndarray | None
    crs: str | None
    problems: list[RowProblem] = field(default_factory=list)

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


class ConnectorConfig(BaseModel):
    """Base of every connector's configuration: strict, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # The settings a data manager sets on a source's page, in the order shown there; the others
    # keep their defaults (or what the source had). A connector with none is not offered there:
    # an uploaded file is loaded once, not refreshed.
    form_fields: ClassVar[tuple[str, ...]] = ()


class Connector(ABC):
    key: ClassVar[str]
    title: ClassVar[str]
    Config: ClassVar[type[ConnectorConfig]]

    @abstractmethod
    def describe(self, config: ConnectorConfig) -> str:
        """Where the data comes from, in a line: the version's ``source``."""

    @abstractmethod
    def batches(self, config: ConnectorConfig, context: SourceContext) -> Iterator[FeatureBatch]:
        """The source's features, in order, in batches; ConnectorError if it cannot be read."""
