"""The one way the platform fetches anything from another server.

Connectors (a council's ArcGIS layer, a WFS, an OGC API, planning.data.gov.uk, a file at a URL)
name a URL that an officer typed, so every fetch is treated as hostile until checked:

- only ``http`` and ``https``, only to hosts on the deployment's allow-list
  (``OUTBOUND_ALLOWED_HOSTS``: exact names, or ``*.example.org`` for a domain's subdomains);
- every address the name resolves to must be public: loopback, private, link-local, multicast
  and reserved addresses are refused unless the host is also in
  ``OUTBOUND_PRIVATE_HOSTS`` (a council's own internal GIS server, or a test's local server);
- the connection is made to the address that was checked (a second DNS answer cannot swap in
  an internal address between check and use), with TLS still verified against the host name;
- redirects are followed by hand, at most ``max_redirects``, and each target is checked again;
- a source's credentials (``Credentials``) go only to the origin (scheme, host and port) of the
  source's own address, never to another one a redirect or a link names, and never over plain
  http except to a host the deployment lists in ``OUTBOUND_PRIVATE_HOSTS``;
- connect and read timeouts plus an overall deadline, and a size limit enforced while the body
  streams (a declared Content-Length over the limit is refused before reading).

Failures raise ``FetchError`` with a message an officer can act on. GDAL never opens a remote
URL itself: connectors fetch with this module and hand GDAL the bytes or a local file.
"""

import base64
import contextlib
import hashlib
import hmac
import html
import ipaddress
import json
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urljoin, urlsplit

import urllib3
from django.conf import settings

USER_AGENT = "infraplan data connector"
CHUNK = 64 * 1024
# Of a body written to a file as it arrives, what the result keeps: enough to tell a web page or
# an error report from data.
BODY_HEAD_BYTES = 16 * 1024
REDIRECT_STATUSES = {301, 302, 303, 307, 308}


class FetchError(Exception):
    """A fetch that was refused or failed; the message says which and why."""

    def __init__(
        self, message: str, *, url: str, temporary: bool = False, oversize: bool = False,
        status: int | None = None, credentials_sent: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.url = url
        # Worth retrying later (a timeout, a 503) as opposed to wrong for good (a 404, a refusal).
        self.temporary = temporary
        self.oversize = oversize  # over the policy's size limit
        self.status = status  # the HTTP status of a server's non-2xx answer
        self.credentials_sent = credentials_sent  # whether the refused request carried them


def origin(url: str) -> str:
    """The origin of ``url`` (RFC 6454): its scheme, host and port, as ``https://host:443``."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = (parts.hostname or "").rstrip(".")
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


@dataclass(frozen=True)
class Credentials:
    """A source's credentials as a load sends them: ``headers`` for the requests to ``origin``
    (that of the source's address) and to no other. ``source`` names the source in messages.

    The headers are secrets: they are kept out of ``repr`` (a traceback, a log line), and
    ``scrubbed`` takes them out of any text a server sent back (an error that echoes them)."""

    origin: str
    headers: dict[str, str] = field(repr=False)
    source: str = "the source"

    def scrubbed(self, text: str) -> str:
        """``text`` with every secret value of the headers, and of a Basic header the user
        name and password within it, replaced by "…"."""
        secrets = set()
        for value in self.headers.values():
            secrets.add(value)
            scheme, _, encoded = value.partition(" ")
            if scheme.lower() in ("basic", "bearer") and encoded:
                secrets.add(encoded)
            if scheme.lower() == "basic":
                with contextlib.suppress(ValueError):  # not base64: the value is scrubbed
                    secrets.update(base64.b64decode(encoded).decode().split(":", 1))
        for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
            text = text.replace(secret, "…")
        return text


@dataclass(frozen=True)
class FetchPolicy:
    allowed_hosts: tuple[str, ...]
    private_hosts: tuple[str, ...] = ()
    max_bytes: int = 100 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    deadline: float = 300.0
    max_redirects: int = 5

    @classmethod
    def from_settings(cls, **overrides) -> "FetchPolicy":
        return cls(
            allowed_hosts=tuple(settings.OUTBOUND_ALLOWED_HOSTS),
            private_hosts=tuple(settings.OUTBOUND_PRIVATE_HOSTS),
            max_bytes=settings.OUTBOUND_MAX_BYTES,
            **overrides,
        )


@dataclass
class FetchResult:
    url: str  # after redirects
    status: int
    headers: dict[str, str]
    body: bytes  # the whole body, or only its head when it was written to a file (``into``)
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def _host_matches(host: str, patterns: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*.") and host.endswith(pattern[1:]) and host != pattern[2:]:
            return True
        if host == pattern:
            return True
    return False


def _private_allowed(host: str, port: int, patterns: tuple[str, ...]) -> bool:
    """Whether ``host`` may be fetched from at ``port`` although it is private or local: an
    entry of OUTBOUND_PRIVATE_HOSTS names it, alone (every port) or with a port
    (``gis.council.local:6443``, ``[fd00::5]:8080``: that port only). A council allowing its
    own GIS server need not open every service on the machine to the platform's fetches."""
    return any(
        _host_matches(host, (named,)) and given in (None, str(port))
        for named, given in map(_host_and_port, patterns)
    )


def _host_and_port(pattern: str) -> tuple[str, str | None]:
    """An OUTBOUND_PRIVATE_HOSTS entry's host, and its port if it gives one."""
    if pattern.startswith("["):  # an IPv6 address, perhaps with a port after it
        named, _, rest = pattern[1:].partition("]")
        return named, rest.removeprefix(":") or None
    if pattern.count(":") == 1:
        named, port = pattern.split(":")
        return named, port
    return pattern, None


def _private_refusal(host: str, port: int, policy: FetchPolicy, what: str) -> str:
    """Why the private or local ``host`` may not be fetched from at ``port`` (``what`` says
    what it is): not listed, or listed with other ports."""
    if _host_matches(host, tuple(named for named, _ in map(_host_and_port, policy.private_hosts))):
        return (
            f"{host} {what}, which OUTBOUND_PRIVATE_HOSTS allows only on the ports it lists, "
            f"not on port {port}."
        )
    return (
        f"{host} {what}, which the platform does not fetch from (unless listed in "
        "OUTBOUND_PRIVATE_HOSTS)."
    )


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: an IPv4 address in the last 32 bits
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: for a network's own use


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``address`` is on the public internet, looking through the IPv6 forms that
    carry an IPv4 address (mapped, 6to4, NAT64): a gateway would deliver ``64:ff9b::a00:1``
    to 10.0.0.1, which Python's ``is_global`` alone calls public. Reserved blocks (among them
    the IPv4-compatible ``::a.b.c.d``) and deprecated site-local addresses are not public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL or address.is_site_local:
            return False
        if address in _NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif embedded := address.ipv4_mapped or address.sixtofour:
            address = embedded
    return address.is_global and not (address.is_multicast or address.is_reserved)


def address_shown(url: str) -> str:
    """``url`` as a page, a report or an error message may show it: the names of its query's
    parameters without their values, and no fragment. A query may carry a key or a signature
    (``?key=``, ``?sig=``), and what is shown reaches everyone who may see the dataset."""
    address, mark, query = url.partition("#")[0].partition("?")
    if not mark:
        return address
    names = [pair.partition("=")[0] if "=" in pair else "" for pair in query.split("&") if pair]
    return f"{address}?" + "&".join(f"{name}=…" if name else "…" for name in names)


def config_recorded(config: dict[str, Any]) -> dict[str, Any]:
    """A connector's settings as the audit log keeps them: each address (a setting whose text
    is an http or https URL) as ``address_shown`` shows it, with a digest of the whole address,
    keyed with the service's secret key, so that a change to a hidden value (a key rotated)
    still shows as a change. The log is append-only: a key written to it could never leave."""
    recorded = {}
    for name, value in config.items():
        if isinstance(value, str) and urlsplit(value).scheme in ("http", "https"):
            shown = address_shown(value)
            if shown != value:
                digest = hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256)
                value = f"{shown} (whole address {digest.hexdigest()[:12]})"
        recorded[name] = value
    return recorded


def _host_refusal(host: str, port: int, policy: FetchPolicy) -> str | None:
    """Why ``host`` may not be fetched from at ``port``, as far as can be told without looking
    it up: it is a private or local address written as numbers (said first: no one should ask
    for it to be allowed), or it is not on the allow-list."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None  # a name: its addresses are checked when it is looked up, at each fetch
    if (
        address is not None
        and not _is_public(address)
        and not _private_allowed(host, port, policy.private_hosts)
    ):
        return _private_refusal(host, port, policy, "is a private or local address")
    if not _host_matches(host, policy.allowed_hosts):
        return (
            f"{host} is not on this platform's list of allowed data hosts "
            "(OUTBOUND_ALLOWED_HOSTS); ask a platform administrator to add it."
        )
    return None


def address_refusal(url: str) -> str | None:
    """Why a fetch of the http(s) address ``url`` would be refused whatever its host's name
    resolves to, or None: for checking an address when a source is saved, so that a data
    manager hears of it then rather than from the first load. Each fetch checks again, in
    full (the lists may change, and a name's addresses are known only when looked up)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None  # said by the check of the address itself
    return _host_refusal(parts.hostname, port, FetchPolicy.from_settings())


def credentials_refusal(url: str, policy: FetchPolicy | None = None) -> str | None:
    """Why credentials may not be sent to ``url``, or None: over plain http they would travel
    in clear text, readable (and reusable) by anyone on the way, so an http address takes them
    only for a host the deployment lists in OUTBOUND_PRIVATE_HOSTS (a server on its own
    network, whose traffic does not cross the internet)."""
    policy = policy or FetchPolicy.from_settings()
    parts = urlsplit(url)
    if parts.scheme == "https" or not parts.hostname:
        return None
    try:
        port = parts.port or 80
    except ValueError:
        return None  # said by the check of the address itself
    if _private_allowed(parts.hostname, port, policy.private_hosts):
        return None
    return (
        "Credentials are sent only to an https address: over http they would travel in clear "
        "text, readable by anyone on the way. Use the service's https address (an http one is "
        "allowed only for a server on the organisation's own network that the platform's "
        "administrators list in OUTBOUND_PRIVATE_HOSTS)."
    )


def resolve_checked(url: str, policy: FetchPolicy) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) for ``url``, or FetchError saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(
            f"Only http and https addresses can be fetched, not {address_shown(url)!r}.", url=url
        )
    if parts.username or parts.password:
        raise FetchError("Addresses with a user name or password in them are refused.", url=url)
    host = parts.hostname
    if not host:
        raise FetchError(f"{address_shown(url)!r} has no host name.", url=url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError(f"{address_shown(url)!r} has an invalid port.", url=url) from None
    refusal = _host_refusal(host, port, policy)
    if refusal:
        raise FetchError(refusal, url=url)
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        # The name service saying there is no such host is an answer: a host matched only by a
        # wildcard of the allowed list was typed by someone, so the address is wrong and asking
        # again will not help. A host the list names itself was chosen by the platform's
        # administrators (a national source's, say): not finding it means the server cannot
        # reach the internet or its name service, which may pass. Any other failure may pass.
        no_such_host = error.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None))
        named = host.lower() in {allowed.lower() for allowed in policy.allowed_hosts}
        if no_such_host and not named:
            ending = ": check the address."
        elif no_such_host:
            ending = (
                ": this platform's server may not reach the internet or its name service (a "
                "question for its administrators)."
            )
        else:
            ending = "."
        raise FetchError(
            f"{host} could not be found ({error.strerror}){ending}",
            url=url,
            temporary=not no_such_host or named,
        ) from None
    addresses = [ipaddress.ip_address(answer[4][0].split("%")[0]) for answer in answers]
    if not _private_allowed(host, port, policy.private_hosts):
        private = [str(address) for address in addresses if not _is_public(address)]
        if private:
            raise FetchError(
                _private_refusal(
                    host, port, policy,
                    f"resolves to a private or local address ({', '.join(private)})",
                ),
                url=url,
            )  # fmt: skip
    return parts.scheme, host, port, str(addresses[0])


def _pool(scheme: str, host: str, port: int, address: str, policy: FetchPolicy):
    timeout = urllib3.Timeout(connect=policy.connect_timeout, read=policy.read_timeout)
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address, port, timeout=timeout, retries=False, maxsize=1,
            server_hostname=host, assert_hostname=host, cert_reqs="CERT_REQUIRED",
        )  # fmt: skip
    return urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)


def _read_limited(
    response, url: str, policy: FetchPolicy, started: float, into: BinaryIO | None
) -> bytes:
    """The body, within the policy's size and time; written to ``into`` as it arrives when
    given, and then only its head returned."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        raise FetchError(
            f"The response is {int(declared):,} bytes, over the limit of {policy.max_bytes:,}.",
            url=url, oversize=True,
        )  # fmt: skip
    chunks, total = [], 0
    # read1: whatever has arrived, up to a chunk, so the deadline is checked as often as the
    # server sends anything (stream() waits to fill each chunk, which a server sending a byte
    # a second under the read timeout would never do).
    while chunk := response.read1(CHUNK, decode_content=True):
        total += len(chunk)
        if total > policy.max_bytes:
            raise FetchError(
                f"The response passed the size limit of {policy.max_bytes:,} bytes.", url=url,
                oversize=True,
            )  # fmt: skip
        if time.monotonic() - started > policy.deadline:
            raise FetchError(
                f"The server took longer than {policy.deadline:.0f} s in all.", url=url,
                temporary=True,
            )  # fmt: skip
        if into is None:
            chunks.append(chunk)
            continue
        into.write(chunk)
        if total - len(chunk) < BODY_HEAD_BYTES:
            chunks.append(chunk[: BODY_HEAD_BYTES - (total - len(chunk))])
    return b"".join(chunks)


_EXCEPTION_TEXT = re.compile(
    rb"<(?:[\w-]+:)?ExceptionText>(.*?)</(?:[\w-]+:)?ExceptionText>", re.DOTALL
)
_MARKUP = re.compile(rb"^\s*<")
ERROR_DETAIL_LIMIT = 300


def error_detail(body: bytes, content_type: str) -> str:
    """What a server said about its own error, in brief, for the message a data manager reads:
    an OGC exception report's text (a WFS asked for a layer it does not have), a JSON error's
    message, or a short plain-text body. Empty for a web page or anything else unreadable."""
    texts: list[str] = []
    if found := _EXCEPTION_TEXT.findall(body):
        texts = [html.unescape(text.decode("utf-8", "replace")) for text in found]
    elif "json" in content_type or body[:1] in (b"{", b"["):
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return ""
        error = document.get("error", document) if isinstance(document, dict) else None
        if isinstance(error, str):
            texts = [error]
        elif isinstance(error, dict):
            texts = [
                str(error[key]) for key in ("message", "description", "detail") if key in error
            ][:1]
    elif content_type.startswith("text/plain") or (content_type == "" and not _MARKUP.match(body)):
        texts = [body.decode("utf-8", "replace")]
    detail = " ".join(" ".join(texts).split())
    if len(detail) > ERROR_DETAIL_LIMIT:
        detail = detail[: ERROR_DETAIL_LIMIT - 1] + "…"
    return detail


def fetch(
    url: str, *, policy: FetchPolicy | None = None, headers: dict[str, str] | None = None,
    into: BinaryIO | None = None, credentials: Credentials | None = None,
) -> FetchResult:  # fmt: skip
    """GET ``url`` under ``policy`` (the settings' by default); FetchError on any refusal,
    timeout, oversize body or non-2xx answer.

    ``into``: a file the body is written to as it arrives, so a download of hundreds of
    megabytes is never held in memory; the result's body is then only its head.

    ``credentials``: headers added to each request (the first and any a redirect leads to)
    whose origin is theirs, and to no other: a redirect to another server drops them. Sending
    them over plain http is refused (``credentials_refusal``)."""
    policy = policy or FetchPolicy.from_settings()
    started = time.monotonic()
    redirects: list[str] = []
    current = url
    while True:
        try:
            scheme, host, port, address = resolve_checked(current, policy)
        except FetchError as refusal:
            if not redirects:
                raise
            # Said of the address the person gave, which they did not know was sent on.
            raise FetchError(
                f"{address_shown(url)[:200]} redirected to {address_shown(current)[:200]}, "
                f"which the platform does not fetch from: {refusal}", url=current,
                temporary=refusal.temporary,
            ) from None  # fmt: skip
        parts = urlsplit(current)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = 443 if scheme == "https" else 80
        request_headers = {
            "Host": host if port == default_port else f"{host}:{port}",
            "User-Agent": USER_AGENT,
            "Accept-Encoding": "gzip, deflate",
            **(headers or {}),
        }
        credentials_sent = credentials is not None and origin(current) == credentials.origin
        if credentials_sent:
            if refusal := credentials_refusal(current, policy):
                raise FetchError(refusal, url=current)
            request_headers.update(credentials.headers)
        pool = _pool(scheme, host, port, address, policy)
        try:
            response = pool.urlopen(
                "GET", target, headers=request_headers, redirect=False,
                preload_content=False, assert_same_host=False,
            )  # fmt: skip
            try:
                if response.status in REDIRECT_STATUSES and response.headers.get("location"):
                    # The redirect's body is not read (a server could make it endless); the
                    # connection is closed with the pool below.
                    if len(redirects) >= policy.max_redirects:
                        raise FetchError(f"More than {policy.max_redirects} redirects.", url=url)
                    try:
                        current = urljoin(current, response.headers["location"])
                    except ValueError:  # "Invalid IPv6 URL"
                        location = address_shown(response.headers["location"])
                        raise FetchError(
                            "The server redirected to an address that is not valid "
                            f"({location[:200]!r}).", url=current,
                        ) from None  # fmt: skip
                    redirects.append(current)
                    continue
                body = _read_limited(response, current, policy, started, into)
            finally:
                response.release_conn()
        except urllib3.exceptions.NewConnectionError:
            # Checked first: urllib3 makes a refused connection a kind of connect timeout.
            raise FetchError(
                f"The connection to {host} failed: nothing answered on port {port}.",
                url=current, temporary=True,
            ) from None  # fmt: skip
        except urllib3.exceptions.TimeoutError:
            raise FetchError(
                f"{host} did not answer within the time allowed.", url=current, temporary=True
            ) from None
        except urllib3.exceptions.SSLError as error:
            raise FetchError(f"{host}'s certificate was refused: {error}.", url=current) from None
        except urllib3.exceptions.HTTPError as error:
            raise FetchError(
                f"The connection to {host} failed: {error}.", url=current, temporary=True
            ) from None
        finally:
            pool.close()
        if not 200 <= response.status < 300:
            detail = error_detail(body, response.headers.get("content-type", ""))
            raise FetchError(
                f"{host} answered HTTP {response.status} for {address_shown(current)}"
                + (f": {detail}" if detail else "."),
                url=current,
                temporary=response.status == 429 or response.status >= 500,
                status=response.status,
                credentials_sent=credentials_sent,
            )
        return FetchResult(
            url=current,
            status=response.status,
            headers={name.lower(): value for name, value in response.headers.items()},
            body=body,
            redirects=redirects,
        )
