"""GET /healthz: 200 while the database answers, 503 naming the database while it does not.

The outage tests run the real stack: gunicorn serving config.wsgi in a subprocess, against either
a port where nothing listens or a throwaway PostgreSQL cluster of the test's own that is stopped
and started again under it. The machine's own PostgreSQL server is never touched.
"""

import json
import os
import pwd
import secrets
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

GUNICORN = Path(sys.executable).with_name("gunicorn")
# The newest installed PostgreSQL server's programs (Debian's layout).
PG_BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin"),
    key=lambda path: int(path.parent.name),
    default=Path("/usr/lib/postgresql/missing/bin"),
)
UNREACHABLE = {"status": "error", "database": "unreachable", "detail": "OperationalError"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our own http URL)
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


@contextmanager
def gunicorn(tmp_path: Path, database_url: str) -> Iterator[str]:
    """Serve the application with gunicorn; yield the /healthz URL once it answers."""
    port = free_port()
    environ = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
    }
    log_path = tmp_path / f"gunicorn-{port}.log"
    command = [
        str(GUNICORN), "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "--timeout", "20", "--graceful-timeout", "2", "--no-control-socket",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command, env=environ, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        deadline = time.monotonic() + 20
        while True:
            if server.poll() is not None:
                pytest.fail(f"gunicorn exited {server.returncode}:\n{log_path.read_text()}")
            try:
                get_json(url)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not answer in 20 s:\n{log_path.read_text()}")
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_healthz_reports_the_database_and_whether_a_worker_is_alive(client, db):
    """The queue is "ok" while a worker's heartbeat is recent, "no worker" when none is. The
    test sets the workers table itself: a worker another test killed leaves its row behind."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_workers")
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]  # a probe must never see a cached answer
    body = response.json()
    assert (body["status"], body["database"], body["queue"]) == ("ok", "ok", "no worker")
    assert body["duration_ms"] >= 0

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '3 minutes')"
        )
    assert client.get("/healthz").json()["queue"] == "no worker"  # stale: that worker is gone
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now())")
    assert client.get("/healthz").json()["queue"] == "ok"


def test_healthz_only_answers_get(client, db):
    assert client.post("/healthz").status_code == 405


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    # Bound but not listening: for as long as this socket is open, nothing can listen there, so
    # every connection to the port is refused.
    with socket.socket() as nothing:
        nothing.bind(("127.0.0.1", 0))
        port = nothing.getsockname()[1]
        with gunicorn(tmp_path, f"postgres://infraplan:unused@127.0.0.1:{port}/infraplan") as url:
            assert get_json(url) == (503, UNREACHABLE)
            assert get_json(url) == (503, UNREACHABLE)  # and the worker survives to say it again


class ThrowawayCluster:
    """A PostgreSQL 15 cluster in a temporary directory, run as the postgres OS user (initdb
    refuses root), listening on 127.0.0.1 only, on its own port, with no Unix socket."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = free_port()
        self.password = secrets.token_urlsafe(24)
        self.running = False

    @property
    def url(self) -> str:
        return f"postgres://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, step: str, *command: str) -> None:
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else "(no server log)"
            pytest.fail(
                f"throwaway PostgreSQL cluster: {step} exited {result.returncode}\n"
                f"{result.stdout}{result.stderr}\n{log}"
            )

    def create(self) -> None:
        postgres = pwd.getpwnam("postgres")
        os.chown(self.root, postgres.pw_uid, postgres.pw_gid)
        self.root.chmod(0o700)
        password_file = self.root / "password"
        password_file.write_text(self.password)
        os.chown(password_file, postgres.pw_uid, postgres.pw_gid)
        password_file.chmod(0o600)
        self._as_postgres(
            "initdb", str(PG_BIN / "initdb"), "--pgdata", str(self.data), "--username=postgres",
            "--auth=scram-sha-256", f"--pwfile={password_file}", "--encoding=UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\nfsync = off\n"
            )

    def start(self) -> None:
        self._as_postgres(
            "pg_ctl start", str(PG_BIN / "pg_ctl"), "start", "--pgdata", str(self.data),
            "--log", str(self.log), "--wait", "--timeout=30",
        )  # fmt: skip
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(
            "pg_ctl stop", str(PG_BIN / "pg_ctl"), "stop", "--pgdata", str(self.data),
            f"--mode={mode}", "--wait", "--timeout=30",
        )  # fmt: skip
        self.running = False


@contextmanager
def reachable_by_postgres(path: Path, within: Path) -> Iterator[None]:
    """Let the postgres OS user traverse to ``path``.

    pytest makes its temporary directories private (0700, root's). For the test's duration each
    of them from ``within`` down to ``path`` gets group postgres with search (x) permission only,
    no listing; the original group and mode are restored afterwards.
    """
    postgres_gid = pwd.getpwnam("postgres").pw_gid
    directories = [path, *(parent for parent in path.parents if parent.is_relative_to(within))]
    for outside in path.parents:
        if not outside.is_relative_to(within) and not outside.stat().st_mode & stat.S_IXOTH:
            pytest.fail(f"the postgres user cannot reach {path}: {outside} is private")
    original = {directory: directory.stat() for directory in directories}
    try:
        for directory, status in original.items():
            os.chown(directory, -1, postgres_gid)
            directory.chmod(stat.S_IMODE(status.st_mode) | stat.S_IXGRP)
        yield
    finally:
        for directory, status in original.items():
            os.chown(directory, -1, status.st_gid)
            directory.chmod(stat.S_IMODE(status.st_mode))


@pytest.fixture
def throwaway_cluster(tmp_path, tmp_path_factory) -> Iterator[ThrowawayCluster]:
    if os.geteuid() != 0:
        pytest.fail("the throwaway PostgreSQL cluster needs root (to run initdb via runuser)")
    basetemp = tmp_path_factory.getbasetemp()
    # Under pytest-xdist each test process has its own folder in the session's.
    session = basetemp.parent if basetemp.name.startswith("popen-gw") else basetemp
    # The shared pytest-of-<user> folder above this session's, unless --basetemp chose another.
    within = session.parent if session.parent.name.startswith("pytest-of-") else session
    root = tmp_path / "cluster"
    root.mkdir()
    cluster = ThrowawayCluster(root)
    with reachable_by_postgres(tmp_path, within=within):
        cluster.create()
        cluster.start()
        try:
            yield cluster
        finally:
            if cluster.running:
                cluster.stop(mode="immediate")


def test_healthz_follows_a_real_database_outage_and_recovers(tmp_path, throwaway_cluster):
    """200, then 503 once the cluster is stopped, then 200 again once it is back: the worker
    drops its broken connection and reconnects without a restart.

    The cluster has no PostGIS and needs none: Django's PostGIS backend only looks up the
    geometry types on connect (and finds none), and /healthz runs SELECT 1. It has no
    task-queue tables either, so the queue's state is "unknown".
    """
    with gunicorn(tmp_path, throwaway_cluster.url) as url:
        status, body = get_json(url)
        assert (status, body["status"], body["database"]) == (200, "ok", "ok"), body
        assert body["queue"] == "unknown"

        throwaway_cluster.stop()
        assert get_json(url) == (503, UNREACHABLE)

        throwaway_cluster.start()
        status, body = get_json(url)
        assert (status, body["status"], body["database"]) == (200, "ok", "ok"), body
