"""Publishing a version that replaces a large one, against loading that large one first.

In a scratch database made for the run (migrated, dropped at the end), through the pipeline
(``ingest_run`` with the ``upload`` connector, a CSV of points, each load scoped to one council
as the probe that found the defect did, with a second council's small part alongside):
1. loads ``--count`` points (the first load: nothing to replace);
2. loads the same file again (every feature compared with its live row, all unchanged);
3. loads the same file with one row in a hundred without coordinates (rows with problems, whose
   current features are kept as they are);
4. loads a 2-row file (one feature kept, one moved: the rest are ended).
and prints each time and the ratio of 2 to 4 to 1. Replacing should cost about what loading
does (ratios near 1 or below); a ratio growing with ``--count`` means publishing is quadratic.

    .venv/bin/python bench/publish.py [--count 20000] [--stale-statistics]

``--stale-statistics`` keeps the feature table's planner statistics as they were before the
loads (as on a database whose autovacuum is off), to show the publish statements do not depend
on them. Needs DATABASE_URL for the application's role and the local cluster's administrative
access (scripts/lib.sh, as the test databases are made), since that role cannot create databases.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DATABASE = "bench_infraplan_publish"
# Kent in British National Grid metres.
WEST, SOUTH, EAST, NORTH = 540_000, 120_000, 640_000, 180_000


def points_write(path: Path, rows: list[tuple[str, float | None, float | None]]) -> Path:
    lines = ["reference,name,easting,northing"]
    lines += [
        f"{reference},Site {reference},{'' if x is None else f'{x:.1f}'},"
        f"{'' if y is None else f'{y:.1f}'}"
        for reference, x, y in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def grid_points(count: int) -> list[tuple[str, float, float]]:
    """``count`` distinct points on a regular grid over Kent, referenced P0000000 upwards."""
    across = int(count**0.5) + 1
    step_x, step_y = (EAST - WEST) / across, (NORTH - SOUTH) / across
    return [
        (f"P{number:07d}", WEST + (number % across) * step_x, SOUTH + (number // across) * step_y)
        for number in range(count)
    ]


class StatementTimings:
    """An execute wrapper that keeps each statement's time, to name the slowest."""

    def __init__(self) -> None:
        self.times: list[tuple[float, str]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.times.append((time.perf_counter() - started, " ".join(sql.split())[:70]))

    def top(self, count: int = 2) -> list[tuple[float, str]]:
        return sorted(self.times, reverse=True)[:count]


def admin(*script: str) -> None:
    """Run shell lines with scripts/lib.sh loaded (its administrative database access)."""
    bash = shutil.which("bash") or sys.exit("bash is not installed.")
    subprocess.run(
        [bash, "-c", "source scripts/lib.sh && " + " && ".join(script)], cwd=ROOT, check=True
    )


def scratch_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{SCRATCH_DATABASE}"))


def loads(folder: Path, count: int, stale: bool) -> list[tuple[str, float, dict]]:
    from django.core.management import call_command
    from django.db import connection

    from infraplan.accounts.models import Organisation
    from infraplan.catalogue import publishing
    from infraplan.catalogue.ingest import IngestMapping, ingest_run
    from infraplan.catalogue.services import dataset_save

    if stale:
        publishing._statistics_refresh = lambda **_: None
    call_command("migrate", verbosity=0)
    council = Organisation.objects.create(slug="bench", name="Bench council", kind="district")
    neighbour = Organisation.objects.create(slug="other", name="Other council", kind="district")
    dataset = dataset_save(
        actor=None, slug="bench-points", owner=council, title="Bench points", abstract="Bench.",
        theme="housing-growth", licence="OGL", attribution="Bench", lineage="Generated.",
        geometry_type="point",
        field_schema=[
            {"name": "reference", "type": "string", "required": True},
            {"name": "name", "type": "string"},
        ],
    )  # fmt: skip
    points = grid_points(count)
    big = points_write(folder / "big.csv", points)
    small = points_write(
        folder / "small.csv", [points[0], (points[1][0], points[1][1] + 5, points[1][2])]
    )
    # Every hundredth row without its coordinates: a problem, its feature kept.
    with_problems = points_write(
        folder / "with-problems.csv",
        [(ref, x, y) if n % 100 else (ref, None, None) for n, (ref, x, y) in enumerate(points)],
    )
    others = points_write(
        folder / "others.csv", [(f"N{n}", 600_000 + n, 150_000) for n in range(3)]
    )

    def load(path: Path, organisation: Organisation) -> tuple[float, dict]:
        timings = StatementTimings()
        started = time.perf_counter()
        with connection.execute_wrapper(timings):
            version = ingest_run(
                actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
                # The 2-row replace removes nearly all: meant here, so not held back.
                mapping=IngestMapping(
                    reference="reference", allow_large_removal=True, max_invalid_share=0.05
                ),
                organisation=organisation,
            )  # fmt: skip
        elapsed = time.perf_counter() - started
        return elapsed, {**version.report, "live": version.feature_count, "slowest": timings.top()}

    load(others, neighbour)
    results = []
    for label, path in [
        ("first load", big), ("same again", big), ("1% problems", with_problems),
        ("2-row replace", small),
    ]:  # fmt: skip
        elapsed, report = load(path, council)
        results.append((label, elapsed, report))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument(
        "--stale-statistics", action="store_true",
        help="Never refresh the feature table's planner statistics during the run.",
    )  # fmt: skip
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    admin(f"recreate_test_database {SCRATCH_DATABASE}")
    try:
        os.environ["DATABASE_URL"] = scratch_url(url)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        with tempfile.TemporaryDirectory(prefix="bench-publish-") as folder:
            results = loads(Path(folder), args.count, args.stale_statistics)
        from django.db import connections

        connections.close_all()
    finally:
        admin(
            f'admin_psql -d postgres -c "DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)"'
        )
    first = results[0][1]
    for label, elapsed, report in results:
        counts = ", ".join(
            f"{key} {report.get(key, 0):,}" for key in ("added", "changed", "removed", "unchanged")
        )
        print(
            f"{label:14} {elapsed:8.2f} s  ratio to first load {elapsed / first:6.2f}  "
            f"({counts}; live {report['live']:,})"
        )
        for seconds, statement in report["slowest"]:
            print(f"{'':16}{seconds:8.2f} s  {statement}")


if __name__ == "__main__":
    main()
