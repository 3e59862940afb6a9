"""The ``infraplan`` console script run in a subprocess, with an environment built from scratch:
a few named variables, nothing inherited by accident, so that what a test changes is what it
proves."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

INFRAPLAN = Path(sys.executable).with_name("infraplan")


def console_environ(tmp_path: Path) -> dict[str, str]:
    """A valid environment (the ``environ`` fixture). ``check`` needs the real database: the
    GeneratedField system check asks the server for its version."""
    secret_file = tmp_path / "secret-key"
    secret_file.write_text(secrets.token_urlsafe(50) + "\n")
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "SECRET_KEY_FILE": str(secret_file),
        "DATABASE_URL": os.environ["DATABASE_URL"],
    }


def infraplan(environ: dict[str, str], *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    if not INFRAPLAN.exists():
        raise FileNotFoundError(f"{INFRAPLAN} is missing: install the project into the virtualenv")
    return subprocess.run(
        [str(INFRAPLAN), *arguments],
        env=environ, cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
