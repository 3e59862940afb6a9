"""Real HTTP servers on 127.0.0.1 for the remote connectors' tests, and what they need around them.

``replay_server`` answers each request through a function of (path, query) that returns the
status, content type and body a real service would send, and keeps the requests it was sent, so
tests can check the paging parameters a connector used, and the headers each came with (a
secured service's route takes them as a third argument, ``with_headers``).
"""

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infraplan.connectors.base import SourceContext
from infraplan.connectors.fetch import FetchPolicy

# status, content type, body, and optionally headers to send as they are (a lying Content-Length)
Answer = tuple[int, str, bytes] | tuple[int, str, bytes, dict[str, str]]
Route = Callable[[str, dict[str, str]], Answer]

HTML = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Sign in</body></html>"


def local_policy(**overrides: Any) -> FetchPolicy:
    """The fetch policy a test server on 127.0.0.1 needs: allowed, and as a private host."""
    return FetchPolicy(allowed_hosts=("127.0.0.1",), private_hosts=("127.0.0.1",), **overrides)


def source_context(
    tmp_path: Path, seen: list | None = None, policy: FetchPolicy | None = None
) -> SourceContext:
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    context = SourceContext(workdir=workdir, fetch_policy=policy or local_policy())
    if seen is not None:
        context.progress = lambda rows, stage: seen.append((rows, stage))
    return context


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def json_answer(document: Any, content_type: str = "application/json") -> Answer:
    return 200, content_type, json.dumps(document).encode()


def slow(seconds: float, answer: Answer) -> Answer:
    time.sleep(seconds)
    return answer


@dataclass
class Replay:
    url: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)  # of each request, in order


@contextmanager
def replay_server(route: Route, *, with_headers: bool = False) -> Iterator[Replay]:
    replay = Replay(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
            replay.requests.append((parts.path, query))
            received = dict(self.headers.items())
            replay.headers.append(received)
            try:
                status, content_type, body, *extra = (
                    route(parts.path, query, received) if with_headers else route(parts.path, query)
                )
                headers = {"Content-Length": str(len(body)), **(extra[0] if extra else {})}
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    replay.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield replay
    finally:
        server.shutdown()
        server.server_close()
