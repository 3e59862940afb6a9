"""Download formats by key. The built-in formats register the same way an outside one would
(``ExportsConfig.ready`` imports their modules)."""

from .base import Exporter

_EXPORTERS: dict[str, type[Exporter]] = {}


def exporter_register(exporter: type[Exporter]) -> type[Exporter]:
    """Register ``exporter`` under its key (usable as a class decorator)."""
    existing = _EXPORTERS.get(exporter.key)
    if existing is not None and existing is not exporter:
        raise ValueError(f"exporter key {exporter.key!r} is already {existing.__name__}")
    _EXPORTERS[exporter.key] = exporter
    return exporter


def exporter_for(key: str) -> Exporter | None:
    """The format registered as ``key``; None when there is none."""
    exporter = _EXPORTERS.get(key)
    return exporter() if exporter else None


def exporter_keys() -> list[str]:
    """The registered formats' keys, in the order they were registered (the page's order)."""
    return list(_EXPORTERS)


def exporters() -> list[Exporter]:
    return [exporter() for exporter in _EXPORTERS.values()]
