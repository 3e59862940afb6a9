"""Connectors by key. Built-in connectors register the same way an outside one would."""

from typing import Any

from pydantic import ValidationError

from .base import Connector, ConnectorConfig, ConnectorError

_CONNECTORS: dict[str, type[Connector]] = {}
# The key a run that restores an earlier version carries instead of a connector's (a rollback
# runs on the task queue as a load does, and is shown as one): no connector may take it.
ROLLBACK_KEY = "rollback"


def connector_register(connector: type[Connector]) -> type[Connector]:
    """Register ``connector`` under its key (usable as a class decorator)."""
    if connector.key == ROLLBACK_KEY:
        raise ValueError(f"connector key {ROLLBACK_KEY!r} is reserved for rollbacks")
    existing = _CONNECTORS.get(connector.key)
    if existing is not None and existing is not connector:
        raise ValueError(f"connector key {connector.key!r} is already {existing.__name__}")
    _CONNECTORS[connector.key] = connector
    return connector


def connector_for(key: str) -> Connector:
    try:
        return _CONNECTORS[key]()
    except KeyError:
        known = ", ".join(sorted(_CONNECTORS))
        raise ConnectorError(f"There is no connector {key!r} (known: {known}).") from None


def connector_keys() -> list[str]:
    return sorted(_CONNECTORS)


def connector_title(key: str) -> str:
    if key == ROLLBACK_KEY:
        return "A rollback"
    connector = _CONNECTORS.get(key)
    return connector.title if connector else key


def connector_has_settings(key: str) -> bool:
    """Whether the connector has settings a data manager sets on a source's page."""
    connector = _CONNECTORS.get(key)
    return bool(connector and connector.Config.form_fields)


def connector_config(key: str, data: dict[str, Any]) -> ConnectorConfig:
    """``data`` checked against the connector's configuration model; ConnectorError naming
    each wrong field otherwise."""
    connector = connector_for(key)
    try:
        return connector.Config.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'configuration'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ConnectorError(f"The {connector.title} settings are not valid: {problems}.") from None
