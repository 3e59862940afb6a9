"""FeatureSource: where a dataset's features come from.

Every dataset in the catalogue names a source by a short key (``Dataset.source_key``). The
generic feature store is the built-in source ``store``; typed domain records (development sites,
projects, facilities) register their own source and get a catalogue entry, so tiles, downloads,
APIs and comments serve them the same way, behind the same permission check on the Dataset row.
"""

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any, ClassVar, Protocol

from django.contrib.gis.geos import GEOSGeometry


@dataclass(frozen=True)
class FeatureRecord:
    id: int
    reference: str
    properties: dict[str, Any]
    geometry: GEOSGeometry | None  # EPSG:27700
    district: str = ""  # GSS codes of where it lies, when known
    ward: str = ""
    # The slug of the organisation whose part of the dataset it is in, where a reader asked
    # (a download of a dataset with several publishers: ``store.several_publishers``).
    organisation: str = ""


class PropertyFilter(Protocol):
    """A condition on a feature's properties, said both ways so that a source can apply it where
    it reads: as SQL over a jsonb expression (with its named parameters), and in Python."""

    def sql(self, properties: str) -> tuple[str, dict[str, Any]]: ...

    def __call__(self, properties: Mapping[str, Any]) -> bool: ...


class FeatureSource(ABC):
    """What a source must provide. Implementations are stateless and registered by key."""

    key: ClassVar[str]

    @abstractmethod
    def tile_rows(
        self, dataset: Any, zoom: int, fields: Collection[str]
    ) -> tuple[str, dict[str, Any]]:
        """SQL and parameters selecting ``id``, ``reference``, ``properties`` (jsonb) and
        ``geom_3857`` of the dataset's current features that meet the EPSG:3857 box bound by the
        caller as ``%(envelope)s``, with geometry generalised for ``zoom`` where the source can.

        ``properties`` holds only the keys in ``fields`` (those the map needs to style and label
        the features): tiles stay small, and everything else is fetched per feature on demand."""

    @abstractmethod
    def features(self, dataset: Any) -> Iterator[FeatureRecord]:
        """The dataset's current features, streamed in reference order."""

    @abstractmethod
    def version_tag(self, dataset: Any) -> str:
        """Changes whenever the current features change: for cache keys and tile URLs."""

    def feature(self, dataset: Any, feature_id: int) -> FeatureRecord | None:
        """One current feature by the id its tiles carry, or None. This default reads the
        stream; a source with an index should answer directly."""
        return next((record for record in self.features(dataset) if record.id == feature_id), None)

    def features_within(self, dataset: Any, box: GEOSGeometry) -> Iterator[FeatureRecord]:
        """The current features meeting ``box`` (EPSG:27700), in reference order. This default
        filters the stream; a source with a spatial index should answer directly."""
        for record in self.features(dataset):
            if record.geometry is not None and record.geometry.intersects(box):
                yield record

    def count_within(
        self, dataset: Any, box: GEOSGeometry, keep: PropertyFilter | None = None
    ) -> int:
        """How many current features meet ``box`` (EPSG:27700) and ``keep``. This default counts
        the stream; a source with a database should count there."""
        return sum(1 for _ in self._kept_within(dataset, box, keep))

    def page_within(
        self, dataset: Any, box: GEOSGeometry, *, offset: int, limit: int,
        keep: PropertyFilter | None = None,
    ) -> list[FeatureRecord]:  # fmt: skip
        """``limit`` of the current features meeting ``box`` and ``keep`` from ``offset``, in
        reference order (the same order on every page). This default walks the stream and keeps
        only the page; a source with a database should page there, and may leave the records'
        geometry out (None): a page is listed, not drawn."""
        return list(islice(self._kept_within(dataset, box, keep), offset, offset + limit))

    def _kept_within(
        self, dataset: Any, box: GEOSGeometry, keep: PropertyFilter | None
    ) -> Iterator[FeatureRecord]:
        for record in self.features_within(dataset, box):
            if keep is None or keep(record.properties):
                yield record


_REGISTRY: dict[str, FeatureSource] = {}


def register_source(source: FeatureSource) -> None:
    if source.key in _REGISTRY and type(_REGISTRY[source.key]) is not type(source):
        raise ValueError(f"A different FeatureSource is already registered as {source.key!r}")
    _REGISTRY[source.key] = source


def unregister_source(key: str) -> None:
    _REGISTRY.pop(key, None)


def source_for(dataset: Any) -> FeatureSource:
    try:
        return _REGISTRY[dataset.source_key]
    except KeyError:
        raise LookupError(
            f"Dataset {dataset.slug!r} names source {dataset.source_key!r}, which is not registered"
        ) from None


def register_builtin_sources() -> None:
    from .store import StoreFeatureSource

    register_source(StoreFeatureSource())
