"""Strict parsing of settings from the environment.

Every reader names the variable in its error, so a misconfigured deployment stops at start-up
with a message that says what to fix instead of failing later in a request.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_UNSET = object()


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return value.strip()


def string(name: str, default: str | object = _UNSET) -> str:
    """A required (or defaulted) non-empty string."""
    value = _raw(name)
    if value:
        return value
    if default is _UNSET:
        raise ImproperlyConfigured(f"{name} must be set (it is missing or empty).")
    return default  # type: ignore[return-value]


def boolean(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None or value == "":
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of true/false/1/0/yes/no/on/off, not {value!r}."
    )


def integer(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {number}.")
    return number


def string_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; empty items are an error rather than silently dropped."""
    value = _raw(name)
    if value is None or value == "":
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(f"{name} has an empty item in {value!r}.")
    return items


def secret(name: str) -> str:
    """A secret from NAME, or from the file named by NAME_FILE (for container secrets)."""
    direct = _raw(name)
    file_name = _raw(f"{name}_FILE")
    if direct and file_name:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    if file_name:
        path = Path(file_name)
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ImproperlyConfigured(
                f"{name}_FILE points to {file_name!r}, which cannot be read: {error.strerror}."
            ) from None
        if not value:
            raise ImproperlyConfigured(f"{name}_FILE points to {file_name!r}, which is empty.")
        return value
    if direct:
        return direct
    raise ImproperlyConfigured(f"{name} (or {name}_FILE) must be set.")


def database_url(name: str) -> dict:
    """A PostgreSQL URL turned into Django's DATABASES entry with the PostGIS backend."""
    value = string(name)
    scheme = urlsplit(value).scheme
    if scheme not in {"postgres", "postgresql", "postgis", "pgsql"}:
        raise ImproperlyConfigured(
            f"{name} must be a PostgreSQL URL (postgres://user:password@host:port/name), "
            f"not a {scheme or 'scheme-less'} URL."
        )
    try:
        config = dj_database_url.parse(value, conn_max_age=60, conn_health_checks=True)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} cannot be parsed: {error}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} must name a database (the path after the host).")
    config["ENGINE"] = "django.contrib.gis.db.backends.postgis"
    return config
