"""The ingest pipeline against ogr2ogr on the same GeoPackage of polygons, in one run.

Generates (fixed seed, so every run loads the same file) a GeoPackage of ``--count`` polygons in
Kent, then in a scratch database made for the run (migrated, dropped at the end):
- loads it through the pipeline (``ingest_run`` with the ``upload`` connector: read, map, COPY
  to staging, transform, validity repair, the checks, publish with the feature table's indexes
  and the generalised copy), in this process, whose peak memory is reported; and
- loads it with ``ogr2ogr -f PostgreSQL --config PG_USE_COPY YES`` into a scratch table (with
  its spatial index, as ogr2ogr builds by default);
and prints both times, rows/s, the ratio and the pipeline's peak memory. Targets: the pipeline
within 1.5x of ogr2ogr, peak memory under 1 GB.

    .venv/bin/python bench/ingest.py [--count 1000000] [--seed 7] [--profile] [--statements]

The scratch database has no districts or wards: the placement of features and the check for
features outside the platform's districts (which the generated polygons, spread over a box
around Kent, would fail in the sea) do not run.

Needs DATABASE_URL for the application's role and the local cluster's administrative access
(scripts/lib.sh, as the test databases are made), since that role cannot create databases.
"""

import argparse
import contextlib
import cProfile
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DATABASE = "bench_infraplan_ingest"
# Kent in British National Grid metres.
WEST, SOUTH, EAST, NORTH = 540_000, 120_000, 640_000, 180_000


def polygons_write(path: Path, count: int, seed: int) -> None:
    """``count`` polygons (rectangles 10-100 m across, one in a thousand a self-crossing
    bow-tie for the repair to fix) with a reference, a name, a number of homes and a status."""
    import pyogrio
    import shapely

    random = np.random.default_rng(seed)
    xs = random.uniform(WEST, EAST, count)
    ys = random.uniform(SOUTH, NORTH, count)
    widths = random.uniform(10, 100, count)
    heights = random.uniform(10, 100, count)
    shapes = shapely.box(xs, ys, xs + widths, ys + heights)
    crossing = random.random(count) < 0.001
    shapes[crossing] = shapely.polygons(
        np.stack(
            [
                np.column_stack([xs, ys]), np.column_stack([xs + widths, ys + heights]),
                np.column_stack([xs + widths, ys]), np.column_stack([xs, ys + heights]),
            ],
            axis=1,
        )[crossing]
    )  # fmt: skip
    references = np.array([f"SITE-{number:07d}" for number in range(count)], dtype=object)
    names = np.array([f"Site {number}" for number in range(count)], dtype=object)
    homes = random.integers(1, 500, count).astype(np.int64)
    statuses = np.array(["allocated", "permitted", "proposed"], dtype=object)[
        random.integers(0, 3, count)
    ]
    pyogrio.raw.write(
        str(path), shapely.to_wkb(shapes), [references, names, homes, statuses],
        ["reference", "name", "homes", "status"], layer="sites", driver="GPKG",
        geometry_type="Polygon", crs="EPSG:27700", dataset_options={"VERSION": "1.3"},
    )  # fmt: skip


def program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        sys.exit(f"{name} is not installed (scripts/lib.sh setup installs it).")
    return found


def admin(*script: str) -> None:
    """Run shell lines with scripts/lib.sh loaded (its administrative database access)."""
    subprocess.run(
        [program("bash"), "-c", "source scripts/lib.sh && " + " && ".join(script)],
        cwd=ROOT, check=True,
    )  # fmt: skip


def scratch_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{SCRATCH_DATABASE}"))


def ogr2ogr_load(path: Path, url: str) -> float:
    parts = urlsplit(url)
    target = (
        f"PG:dbname={SCRATCH_DATABASE} host={parts.hostname} port={parts.port or 5432} "
        f"user={parts.username}"
    )
    started = time.perf_counter()
    subprocess.run(
        [program("ogr2ogr"), "-f", "PostgreSQL", "--config", "PG_USE_COPY", "YES", target, str(path),
         "sites", "-nln", "bench_ogr2ogr", "-lco", "GEOMETRY_NAME=geom", "-overwrite"],
        check=True, env={**os.environ, "PGPASSWORD": parts.password or ""},
    )  # fmt: skip
    return time.perf_counter() - started


def pipeline_load(path: Path, profile: bool, statements: bool) -> tuple[float, int]:
    from django.core.management import call_command
    from django.db import connection
    from publish import StatementTimings

    from infraplan.accounts.models import Organisation
    from infraplan.catalogue.ingest import IngestMapping, ingest_run
    from infraplan.catalogue.services import dataset_save

    call_command("migrate", verbosity=0)
    owner = Organisation.objects.create(slug="bench", name="Bench council", kind="district")
    dataset = dataset_save(
        actor=None, slug="bench-sites", owner=owner, title="Bench sites", abstract="Bench.",
        theme="housing-growth", licence="OGL", attribution="Bench", lineage="Generated.",
        geometry_type="polygon",
        field_schema=[
            {"name": "reference", "type": "string", "required": True},
            {"name": "homes", "type": "integer"},
            {"name": "status", "type": "string", "allowed": ["allocated", "permitted", "proposed"]},
        ],
    )  # fmt: skip
    profiler = cProfile.Profile() if profile else None
    timings = StatementTimings()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    with connection.execute_wrapper(timings) if statements else contextlib.nullcontext():
        version = ingest_run(
            actor=None, dataset=dataset, connector_key="upload",
            config={"path": str(path), "layer": "sites"},
            mapping=IngestMapping(reference="reference"),
        )  # fmt: skip
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    if statements:
        print("The slowest statements:")
        for seconds, statement in timings.top(12):
            print(f"{seconds:7.2f} s  {statement}")
    return elapsed, version.feature_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="Profile the pipeline (cProfile).")
    parser.add_argument(
        "--statements", action="store_true", help="Print the pipeline's slowest SQL statements."
    )
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:  # the child that writes the file, so its memory is not the pipeline's
        polygons_write(args.generate, args.count, args.seed)
        return
    url = os.environ["DATABASE_URL"]
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as scratch:
        path = Path(scratch) / "sites.gpkg"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--generate", str(path), "--count", str(args.count),
             "--seed", str(args.seed)],
            check=True,
        )  # fmt: skip
        print(
            f"Generated {args.count:,} polygons (seed {args.seed}) in "
            f"{time.perf_counter() - started:.1f} s: {path.stat().st_size / 1e6:,.0f} MB"
        )
        admin(f"recreate_test_database {SCRATCH_DATABASE}")
        try:
            os.environ["DATABASE_URL"] = scratch_url(url)
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            pipeline, features = pipeline_load(path, args.profile, args.statements)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
            from django.db import connections

            connections.close_all()
            ogr = ogr2ogr_load(path, url)
        finally:
            admin(
                f'admin_psql -d postgres -c "DROP DATABASE IF EXISTS {SCRATCH_DATABASE} '
                'WITH (FORCE)"'
            )
    if features != args.count:
        sys.exit(f"The pipeline published {features:,} features of {args.count:,}.")
    print(f"pipeline: {pipeline:7.1f} s  {args.count / pipeline:10,.0f} rows/s")
    print(f"ogr2ogr:  {ogr:7.1f} s  {args.count / ogr:10,.0f} rows/s")
    print(f"ratio pipeline/ogr2ogr: {pipeline / ogr:.2f} (target 1.5 or less)")
    print(f"pipeline peak memory: {peak:,.0f} MB (target under 1,024 MB)")


if __name__ == "__main__":
    main()
