"""A source's credentials: what a secured service (an ArcGIS layer that needs a token, a WFS
behind a password) is sent with each request of a load.

They are kept apart from the source's configuration, which every run copies and the audit log
records: encrypted on the source (``Source.credentials_encrypted``, a Fernet token whose key is
derived from the platform's SECRET_KEY by HKDF, for this purpose alone), never shown again once
entered, never in a run's config, an audit entry, an error message, a page or a log line.

Three kinds, each offered to the connectors that take it (``Connector.credential_kinds``):

- an ArcGIS token, sent as ``X-Esri-Authorization: Bearer <token>`` (ArcGIS Enterprise and
  ArcGIS Online take it there), so that it is never part of an address;
- a user name and password, sent as HTTP Basic authentication;
- a header of the data manager's choosing (``X-API-Key``, say), name and value.

A load sends them only to the origin of the source's own address, and never over plain http
except to a host the deployment lists in OUTBOUND_PRIVATE_HOSTS (``fetch.Credentials``).
"""

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from .base import ConnectorError
from .fetch import Credentials, credentials_refusal, origin

# What the key is derived for: another use of SECRET_KEY never derives the same key.
KEY_PURPOSE = b"infraplan source credentials v1"
VALUE_MAX_LENGTH = 4096  # a token, a password or a header's value; JWTs run to a few thousand
NAME_MAX_LENGTH = 200  # a user name, a header's name
# RFC 9110 section 5.6.2: a field name is a token.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Headers the platform sets itself, that say how the message is framed or the connection
# kept (hop-by-hop, RFC 9110 section 7.6.1), or that carry another party's state: a source's
# header may be none of them.
REFUSED_HEADERS = frozenset(
    name.lower()
    for name in (
        "Host", "Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding",
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
        "Proxy-Authorization", "TE", "Trailer", "Upgrade", "Expect", "Cookie", "Set-Cookie",
        "User-Agent", "Accept", "Accept-Encoding", "Range", "Forwarded", "X-Forwarded-For",
        "X-Forwarded-Host", "X-Forwarded-Proto", "Via", "Max-Forwards",
    )
)  # fmt: skip


class CredentialKind(models.TextChoices):
    ARCGIS_TOKEN = "arcgis_token", "ArcGIS token"
    BASIC = "basic", "User name and password"
    HEADER = "header", "A header"


# The source form's inputs for each kind's values, in the order shown.
KIND_FIELDS = {
    CredentialKind.ARCGIS_TOKEN: ("token",),
    CredentialKind.BASIC: ("username", "password"),
    CredentialKind.HEADER: ("header_name", "header_value"),
}
FIELD_LABELS = {
    "token": "ArcGIS token",
    "username": "User name",
    "password": "Password",
    "header_name": "Header name",
    "header_value": "Header value",
}


@dataclass(frozen=True)
class EnteredCredentials:
    """Credentials as a data manager entered them: their kind and values (keyed as in
    ``KIND_FIELDS``). The values are secrets, kept out of ``repr``."""

    kind: str
    values: dict[str, str] = field(repr=False)

    @property
    def kind_label(self) -> str:
        return CredentialKind(self.kind).label

    def headers(self) -> dict[str, str]:
        """The request headers they are sent as."""
        if self.kind == CredentialKind.ARCGIS_TOKEN:
            return {"X-Esri-Authorization": f"Bearer {self.values['token']}"}
        if self.kind == CredentialKind.BASIC:
            pair = f"{self.values['username']}:{self.values['password']}".encode()
            return {"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}
        return {self.values["header_name"]: self.values["header_value"]}


def _value_problem(value: str, label: str) -> str | None:
    """Why ``value`` cannot be sent in a header, or None. A line break would end the header
    and begin another (a header injected), so none is allowed, nor any other control
    character; and only ASCII, which every server reads alike."""
    if any(character in value for character in "\r\n"):
        return f"The {label.lower()} must be on one line: remove the line break"
    if any(not (" " <= character <= "~") for character in value):
        return (
            f"The {label.lower()} must hold only letters, digits, spaces and the symbols on a "
            "UK keyboard (no control characters or accented letters)"
        )
    if len(value) > VALUE_MAX_LENGTH:
        return f"The {label.lower()} must be {VALUE_MAX_LENGTH:,} characters or fewer"
    return None


def credentials_checked(kind: str, values: dict[str, str]) -> EnteredCredentials:
    """``values`` of ``kind`` checked before they are saved; ValidationError naming each bad
    input (keyed as in ``KIND_FIELDS``). Spaces around a value are dropped: a token pasted
    with a trailing space or newline is the token."""
    try:
        kind = CredentialKind(kind)
    except ValueError:
        raise ValidationError({"credentials_kind": "Choose a kind of credentials"}) from None
    given = {name: (values.get(name) or "").strip() for name in KIND_FIELDS[kind]}
    problems: dict[str, str] = {}
    for name, value in given.items():
        label = FIELD_LABELS[name]
        if not value:
            problems[name] = f"Enter the {label.lower()}"
        elif problem := _value_problem(value, label):
            problems[name] = problem
    if kind == CredentialKind.BASIC and "username" not in problems:
        if ":" in given["username"]:  # RFC 7617: Basic's user name ends at its first colon
            problems["username"] = "The user name must not contain a colon (:)"
        elif len(given["username"]) > NAME_MAX_LENGTH:
            problems["username"] = f"The user name must be {NAME_MAX_LENGTH} characters or fewer"
    if kind == CredentialKind.HEADER and "header_name" not in problems:
        name = given["header_name"]
        if len(name) > NAME_MAX_LENGTH:
            problems["header_name"] = (
                f"The header name must be {NAME_MAX_LENGTH} characters or fewer"
            )
        elif not _TOKEN.match(name):
            problems["header_name"] = (
                "The header name must be letters, digits and - (or the symbols "
                "!#$%&'*+.^_`|~), without spaces or a colon, such as X-API-Key"
            )
        elif name.lower() in REFUSED_HEADERS:
            problems["header_name"] = (
                f"The platform sets the {name} header itself, or it belongs to the connection: "
                "choose the header the service's publisher gave for its key, such as X-API-Key "
                "or Authorization"
            )
    if problems:
        raise ValidationError(
            {f"credentials_{name}": message for name, message in problems.items()}
        )
    return EnteredCredentials(kind, given)


def _key(secret: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_PURPOSE)
    return base64.urlsafe_b64encode(derived.derive(secret.encode()))


def _fernet() -> MultiFernet:
    """Encrypts with the key of SECRET_KEY; decrypts with it or any of SECRET_KEY_FALLBACKS
    (Django's own setting for a key being rotated)."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(_key(secret)) for secret in secrets])


def credentials_encrypt(entered: EnteredCredentials) -> str:
    """``entered`` as the text ``Source.credentials_encrypted`` keeps."""
    plain = json.dumps({"kind": entered.kind, "values": entered.values}).encode()
    return _fernet().encrypt(plain).decode("ascii")


class CredentialsUnreadable(Exception):
    """Saved credentials that the platform's key no longer opens."""


def credentials_decrypt(token: str) -> EnteredCredentials:
    """The credentials ``credentials_encrypt`` made ``token`` of; CredentialsUnreadable when
    the key has changed since (or the text was altered)."""
    try:
        plain = json.loads(_fernet().decrypt(token.encode("ascii")))
    except (InvalidToken, UnicodeEncodeError, ValueError):
        raise CredentialsUnreadable from None
    return EnteredCredentials(plain["kind"], plain["values"])


def source_name(source: Any) -> str:
    """How a message names ``source``: "the source of Sites (Organisation B's part)"."""
    part = f" ({source.organisation}'s part)" if source.organisation_id else ""
    return f"the source of {source.dataset}{part}"


def credentials_problems(*, connector: Any, config: Any, kind: str | None) -> dict[str, str]:
    """Why a source of ``connector`` with ``config`` may not hold credentials of ``kind``
    (None: none), by the form's input to show it beside: a kind the connector does not take,
    or an address they would travel to in clear text."""
    if not kind:
        return {}
    if kind not in connector.credential_kinds:
        offered = ", ".join(CredentialKind(k).label for k in connector.credential_kinds)
        return {
            "credentials_kind": f"A {connector.title} source cannot use "
            f"{CredentialKind(kind).label.lower()}"
            + (f": choose one of {offered}" if offered else ": it takes no credentials")
        }
    refusal = credentials_refusal(connector.credentials_address(config))
    return {"url": refusal} if refusal else {}


def load_credentials(*, source: Any, connector: Any, config: Any) -> Credentials | None:
    """The credentials a load of ``source`` (a saved Source, or None) sends, or None for a
    source without them and for a load that is no source's (an upload, the command line's
    address). Read at each attempt, so a token replaced while a load waits to try again is the
    one it tries with.

    ConnectorError (not temporary: trying again cannot help) when they cannot be read, when
    the connector does not take their kind or when they would travel in clear text, each
    saying what to do."""
    if source is None or not source.credentials_encrypted:
        return None
    name = source_name(source)
    try:
        entered = credentials_decrypt(source.credentials_encrypted)
    except CredentialsUnreadable:
        raise ConnectorError(
            f"The credentials saved on {name} can no longer be read: the platform's secret key "
            "has changed since they were entered. Enter them again on the source's settings."
        ) from None
    address = connector.credentials_address(config)
    problems = credentials_problems(connector=connector, config=config, kind=entered.kind)
    if problems:
        said = " ".join(problem.rstrip(".") + "." for problem in problems.values())
        raise ConnectorError(f"The credentials saved on {name} were not sent: {said}")
    return Credentials(origin=origin(address), headers=entered.headers(), source=name)
