"""Outbound fetches against a real HTTP server on 127.0.0.1: every refusal names its reason."""

import gzip
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from infraplan.connectors.fetch import (
    BODY_HEAD_BYTES,
    FetchError,
    FetchPolicy,
    address_shown,
    fetch,
    resolve_checked,
)

FEATURES = {"type": "FeatureCollection", "features": []}


class Handler(BaseHTTPRequestHandler):
    last_host = ""

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        Handler.last_host = self.headers["Host"]
        match self.path:
            case "/features.json":
                self._send(
                    200, json.dumps(FEATURES).encode(), {"Content-Type": "application/geo+json"}
                )
            case "/features.json.gz":
                body = gzip.compress(json.dumps(FEATURES).encode())
                self._send(
                    200, body, {"Content-Type": "application/json", "Content-Encoding": "gzip"}
                )
            case "/moved":
                self._send(302, b"", {"Location": "/features.json"})
            case "/to-localhost":
                self._send(302, b"", {"Location": f"http://localhost:{port}/features.json"})
            case "/to-elsewhere":
                self._send(302, b"", {"Location": "http://not-allowed.example/x"})
            case "/loop":
                self._send(302, b"", {"Location": "/loop"})
            case "/declared-big":
                self._send(200, b"x" * 10, {"Content-Length": str(10_000_000)})
            case "/streamed-big":
                self.send_response(200)
                self.end_headers()  # no Content-Length: the limit must hold while streaming
                for _ in range(64):
                    self.wfile.write(b"y" * 1024)
            case "/slow":
                time.sleep(2)
                self._send(200, b"late")
            case "/trickle":
                # Always under the read timeout, never done: only the overall deadline ends it.
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                try:
                    for _ in range(100):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.1)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            case "/moved-with-endless-body":
                self.send_response(302)
                self.send_header("Location", "/features.json")
                self.end_headers()
                try:
                    for _ in range(100):
                        self.wfile.write(b"z" * 1024)
                        self.wfile.flush()
                        time.sleep(0.1)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            case "/to-broken-address":
                self._send(302, b"", {"Location": "http://[::1/x"})
            case "/gone":
                self._send(404, b"not here")
            case "/busy":
                self._send(503, b"try later")
            case "/ows-exception":
                report = (
                    b'<?xml version="1.0"?><ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1">'
                    b'<ows:Exception exceptionCode="InvalidParameterValue" locator="typename">'
                    b"<ows:ExceptionText>msWFSGetFeature(): Invalid typename (brownfeld) &amp; more"
                    b"</ows:ExceptionText></ows:Exception></ows:ExceptionReport>"
                )
                self._send(400, report, {"Content-Type": "text/xml"})
            case "/json-error":
                body = {"code": 400, "error": {"message": "Invalid or missing input parameters."}}
                self._send(400, json.dumps(body).encode(), {"Content-Type": "application/json"})
            case "/html-error":
                self._send(404, b"<!DOCTYPE html><html><body>Portal</body></html>",
                           {"Content-Type": "text/html"})  # fmt: skip
            case _:
                self._send(500, b"?")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


LOCAL = FetchPolicy(allowed_hosts=("127.0.0.1",), private_hosts=("127.0.0.1",), max_bytes=20_000)


def test_fetches_an_allowed_host(server):
    result = fetch(f"{server}/features.json", policy=LOCAL)
    assert (result.status, result.content_type) == (200, "application/geo+json")
    assert json.loads(result.body) == FEATURES


def test_decompresses_gzip(server):
    assert json.loads(fetch(f"{server}/features.json.gz", policy=LOCAL).body) == FEATURES


def test_follows_a_redirect_and_checks_it(server):
    result = fetch(f"{server}/moved", policy=LOCAL)
    assert result.url == f"{server}/features.json"
    assert result.redirects == [f"{server}/features.json"]


def test_host_not_on_the_allow_list_is_refused_before_any_connection(server):
    with pytest.raises(FetchError, match="not on this platform's list of allowed data hosts"):
        fetch(
            f"{server}/features.json",
            policy=FetchPolicy(allowed_hosts=("example.org",), private_hosts=("127.0.0.1",)),
        )


def test_loopback_is_refused_unless_listed_as_private(server):
    policy = FetchPolicy(allowed_hosts=("127.0.0.1",))
    with pytest.raises(FetchError, match=r"^127\.0\.0\.1 is a private or local address"):
        fetch(f"{server}/features.json", policy=policy)


def test_a_redirect_to_a_private_address_is_refused(server):
    # localhost is allowed as a host, but not as a private one: the redirect is checked again.
    policy = FetchPolicy(allowed_hosts=("127.0.0.1", "localhost"), private_hosts=("127.0.0.1",))
    with pytest.raises(
        FetchError, match="localhost resolves to a private or local address"
    ) as refusal:
        fetch(f"{server}/to-localhost", policy=policy)
    # Said of the address given, which its owner did not know was sent on.
    assert str(refusal.value).startswith(f"{server}/to-localhost redirected to http://localhost:")


def test_a_redirect_to_a_host_not_allowed_is_refused(server):
    with pytest.raises(FetchError) as refusal:
        fetch(f"{server}/to-elsewhere", policy=LOCAL)
    assert str(refusal.value).startswith(
        f"{server}/to-elsewhere redirected to http://not-allowed.example"
    )
    assert ": not-allowed.example is not on this platform's list" in str(refusal.value)


def test_redirects_are_limited(server):
    with pytest.raises(FetchError, match="More than 5 redirects"):
        fetch(f"{server}/loop", policy=LOCAL)


def test_a_declared_oversize_body_is_refused_before_reading(server):
    with pytest.raises(FetchError, match="10,000,000 bytes, over the limit of 20,000"):
        fetch(f"{server}/declared-big", policy=LOCAL)


def test_the_size_limit_holds_while_streaming(server):
    with pytest.raises(FetchError, match="passed the size limit of 20,000 bytes"):
        fetch(f"{server}/streamed-big", policy=LOCAL)


def test_a_body_written_to_a_file_is_kept_whole_there_and_only_its_head_in_memory(server, tmp_path):
    policy = FetchPolicy(
        allowed_hosts=("127.0.0.1",), private_hosts=("127.0.0.1",), max_bytes=1_000_000
    )
    with (tmp_path / "download").open("wb") as file:
        result = fetch(f"{server}/streamed-big", policy=policy, into=file)
    assert (tmp_path / "download").read_bytes() == b"y" * 64 * 1024
    assert result.body == b"y" * BODY_HEAD_BYTES
    assert BODY_HEAD_BYTES < 64 * 1024
    with (tmp_path / "limited").open("wb") as file, pytest.raises(FetchError, match="size limit"):
        fetch(f"{server}/streamed-big", policy=LOCAL, into=file)


def test_a_slow_server_times_out_as_a_temporary_failure(server):
    policy = FetchPolicy(
        allowed_hosts=("127.0.0.1",), private_hosts=("127.0.0.1",), read_timeout=0.3
    )
    with pytest.raises(FetchError, match="did not answer within the time allowed") as error:
        fetch(f"{server}/slow", policy=policy)
    assert error.value.temporary


def test_the_overall_deadline_holds_against_a_server_sending_a_byte_at_a_time(server):
    policy = FetchPolicy(
        allowed_hosts=("127.0.0.1",), private_hosts=("127.0.0.1",), read_timeout=5, deadline=1
    )
    # The server's 10 s of trickling would end in an incomplete read: the deadline ends it first.
    with pytest.raises(FetchError, match="took longer than 1 s in all") as error:
        fetch(f"{server}/trickle", policy=policy)
    assert error.value.temporary


def test_a_redirects_body_is_not_read_and_a_broken_redirect_is_refused(server):
    # Reading the redirect's 10 s body would pass the 3 s deadline before the page it names.
    policy = FetchPolicy(allowed_hosts=("127.0.0.1",), private_hosts=("127.0.0.1",), deadline=3)
    result = fetch(f"{server}/moved-with-endless-body", policy=policy)
    assert json.loads(result.body) == FEATURES
    with pytest.raises(FetchError, match="redirected to an address that is not valid"):
        fetch(f"{server}/to-broken-address", policy=policy)


def test_http_errors_say_whether_to_retry(server):
    with pytest.raises(FetchError, match="answered HTTP 404") as gone:
        fetch(f"{server}/gone", policy=LOCAL)
    with pytest.raises(FetchError, match="answered HTTP 503") as busy:
        fetch(f"{server}/busy", policy=LOCAL)
    assert (gone.value.temporary, busy.value.temporary) == (False, True)


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/ows-exception", "answered HTTP 400 for .*: msWFSGetFeature\\(\\): Invalid typename "
         "\\(brownfeld\\) & more$"),
        ("/json-error", "answered HTTP 400 for .*: Invalid or missing input parameters.$"),
        ("/gone", "answered HTTP 404 for .*: not here$"),
        ("/html-error", "answered HTTP 404 for http://127.0.0.1:\\d+/html-error\\.$"),
    ],
)  # fmt: skip
def test_an_error_says_what_the_server_said_about_it(server, path, said):
    """A WFS's exception report or an API's JSON error is the data manager's best clue; a web
    page is not repeated."""
    with pytest.raises(FetchError, match=said):
        fetch(f"{server}{path}", policy=LOCAL)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "Only http and https"),
        ("ftp://127.0.0.1/x", "Only http and https"),
        ("http://user:secret@127.0.0.1/x", "user name or password"),
        ("http:///nohost", "has no host name"),
        ("http://127.0.0.1:99999/x", "invalid port"),
    ],
)
def test_malformed_addresses_are_refused(url, reason):
    with pytest.raises(FetchError, match=reason):
        resolve_checked(url, LOCAL)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://api.example.org/wfs?key=abc123", "https://api.example.org/wfs?key=…"),
        ("https://h.example/a.csv?sv=1&sig=x%2By&", "https://h.example/a.csv?sv=…&sig=…"),
        ("https://h.example/a.csv?abc123#part", "https://h.example/a.csv?…"),
        ("https://h.example/a.csv#token=abc", "https://h.example/a.csv"),
        ("https://h.example/a.csv", "https://h.example/a.csv"),
    ],
)
def test_an_address_is_shown_without_the_values_of_its_query(url, shown):
    assert address_shown(url) == shown


def test_a_refused_address_does_not_repeat_the_key_it_carries():
    with pytest.raises(FetchError) as refused:
        resolve_checked("ftp://files.example/a.csv?token=abc123", LOCAL)
    assert str(refused.value) == (
        "Only http and https addresses can be fetched, not 'ftp://files.example/a.csv?token=…'."
    )


def test_a_host_the_name_service_does_not_know_is_a_lasting_failure():
    """A mistyped address is not retried for a quarter of an hour (``.invalid`` is never a
    host, RFC 6761): the load fails at once, saying to check it."""
    policy = FetchPolicy(allowed_hosts=("*.invalid",))
    with pytest.raises(FetchError) as failed:
        fetch("https://data.example.invalid/sites.geojson", policy=policy)
    assert not failed.value.temporary
    assert str(failed.value).startswith("data.example.invalid could not be found (")
    assert str(failed.value).endswith("): check the address.")


def test_a_host_the_allowed_list_names_that_cannot_be_found_may_pass():
    """A host the administrators listed themselves (a national source's) is no typo: not
    finding it means the server cannot reach the internet or its name service, which is worth
    trying again, and the message says so rather than blaming the address."""
    policy = FetchPolicy(allowed_hosts=("data.example.invalid",))
    with pytest.raises(FetchError) as failed:
        fetch("https://data.example.invalid/sites.geojson", policy=policy)
    assert failed.value.temporary
    assert str(failed.value).endswith(
        "): this platform's server may not reach the internet or its name service (a question "
        "for its administrators)."
    )


def test_wildcards_cover_subdomains_only():
    policy = FetchPolicy(allowed_hosts=("*.example.org",))
    with pytest.raises(FetchError, match=r"^example\.org is not on this platform's list"):
        resolve_checked("https://example.org/x", policy)
    with pytest.raises(FetchError, match=r"^evilexample\.org is not on"):
        resolve_checked("https://evilexample.org/x", policy)


def test_the_connection_goes_to_the_checked_address_naming_the_host(server):
    port = server.rsplit(":", 1)[1]
    policy = FetchPolicy(allowed_hosts=("localhost",), private_hosts=("localhost",))
    _, host, _, address = resolve_checked(f"http://localhost:{port}/features.json", policy)
    assert (host, address in ("127.0.0.1", "::1")) == ("localhost", True)
    fetch(f"http://localhost:{port}/features.json", policy=policy)
    assert Handler.last_host == f"localhost:{port}"


@pytest.mark.parametrize(
    "answers",
    [
        ["64:ff9b::a00:1"],  # NAT64: a gateway delivers it to 10.0.0.1
        ["64:ff9b::7f00:1"],  # NAT64 to 127.0.0.1
        ["64:ff9b:1::a9fe:a9fe"],  # NAT64 prefix for a network's own use
        ["2002:a9fe:a9fe::1"],  # 6to4 carrying 169.254.169.254
        ["::7f00:1"],  # IPv4-compatible 127.0.0.1
        ["fec0::1"],  # site-local
        ["::ffff:10.0.0.1"],  # IPv4-mapped
        ["81.2.69.160", "10.0.0.1"],  # one public answer does not cover a private one
    ],
)
def test_a_private_address_is_refused_in_any_of_its_ipv6_forms(monkeypatch, answers):
    def getaddrinfo(host, port, **kwargs):
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [
            (family[ipaddress.ip_address(a).version], socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    policy = FetchPolicy(allowed_hosts=("data.example.org",))
    with pytest.raises(
        FetchError, match=r"^data\.example\.org resolves to a private or local address"
    ):
        resolve_checked("https://data.example.org/layer.geojson", policy)


@pytest.mark.parametrize("answer", ["81.2.69.160", "2a00:1450::1", "64:ff9b::5102:45a0"])
def test_public_addresses_in_those_forms_are_allowed(monkeypatch, answer):
    family = socket.AF_INET6 if ":" in answer else socket.AF_INET
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, **kwargs: [(family, socket.SOCK_STREAM, 6, "", (answer, port))],
    )
    policy = FetchPolicy(allowed_hosts=("data.example.org",))
    assert resolve_checked("https://data.example.org/x", policy)[3] == answer


def test_a_private_host_listed_with_a_port_is_fetched_from_on_that_port_alone(server):
    """A council allowing its own GIS server opens that service, not every port of the machine
    (a database's, say) to the platform's fetches."""
    port = int(server.rsplit(":", 1)[1])
    listed = FetchPolicy(allowed_hosts=("127.0.0.1",), private_hosts=(f"127.0.0.1:{port}",))
    assert fetch(f"{server}/features.json", policy=listed).status == 200
    other = FetchPolicy(allowed_hosts=("127.0.0.1",), private_hosts=(f"127.0.0.1:{port + 1}",))
    with pytest.raises(FetchError) as refused:
        fetch(f"{server}/features.json", policy=other)
    assert str(refused.value) == (
        "127.0.0.1 is a private or local address, which OUTBOUND_PRIVATE_HOSTS allows only on "
        f"the ports it lists, not on port {port}."
    )
    # A redirect to another port of an allowed machine is checked the same way.
    with pytest.raises(FetchError, match="allows only on the ports it lists"):
        fetch(
            f"{server}/to-localhost",
            policy=FetchPolicy(
                allowed_hosts=("127.0.0.1", "localhost"),
                private_hosts=(f"127.0.0.1:{port}", "localhost:1"),
            ),
        )
