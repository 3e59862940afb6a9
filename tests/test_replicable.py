"""Another authority deploys by writing a profile, not by changing code."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUTHORITY_SPECIFIC = re.compile(
    r"Kent|Medway|Ashford|Canterbury|Dover|Folkestone|Thanet|Shepway|kent\.gov|E0[6-9]\d{6}|E10000016"
)
SEARCHED = ["infraplan", "config", "templates", "frontend/src", "scripts"]
ALLOWED = ["/tests/", "infraplan/core/testing/"]  # test fixtures may name real places


def test_nothing_authority_specific_is_hard_coded():
    offenders = []
    for folder in SEARCHED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in {".py", ".html", ".mjs", ".js", ".scss", ".sh", ".toml"}:
                continue
            relative = path.relative_to(ROOT).as_posix()
            if any(part in f"/{relative}" for part in ALLOWED):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if AUTHORITY_SPECIFIC.search(line):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == [], "Move these into the authority profile or the demo data:\n" + "\n".join(
        offenders
    )
