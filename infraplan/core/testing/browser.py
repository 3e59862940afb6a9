"""The database the read-only browser tests are served from: built once, copied for each run.

Building it (migrations, the demo districts and wards, the personas, organisation A's restricted
points, a few postcodes) takes tens of seconds; copying a finished template database with
``CREATE DATABASE ... TEMPLATE`` takes about a second. The template records, as its comment, a
digest of everything that decides its content (``browser_data_digest``), and is rebuilt only
when that digest changes.

Databases are made through the administrative connection (``scripts/lib.sh``): the
application's role may not create databases, nor PostGIS.
"""

import hashlib
import importlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db.migrations.loader import MigrationLoader
from psycopg import connect, sql

from infraplan.catalogue.demo import demo_load, demo_manifest

from .data import (
    ASHFORD_POINTS,
    POSTCODE_DIRECTORY,
    dataset_make,
    postcodes_load_sample,
    version_publish_points,
)
from .personas import make_personas

ROOT = Path(__file__).resolve().parents[3]
# The demo datasets the browser tests read, loaded from the repository's data folder.
BROWSER_DATASETS = {"districts", "wards"}
# The code that writes the data, besides the migrations: a change here without a migration can
# still change what a build makes (a service that fills a new field, say).
BUILD_CODE = (
    "infraplan/core/testing/*.py",
    "infraplan/*/models.py",
    "infraplan/*/services.py",
    "infraplan/catalogue/demo.py",
    "infraplan/catalogue/loading.py",
    "infraplan/catalogue/placement.py",
    "infraplan/catalogue/generalise.py",
)
# Tables that reading the site may change: sessions and last sign-in times, the audit trail of
# reads and sign-ins, the usage log and its queue, and PostGIS's reference table (static, large);
# and the database cache's table (sign-in rate limits), whatever settings.CACHES calls it.
CHANGED_BY_READING = {
    "django_session", "accounts_user", "mfa_authenticator", "audit_auditentry",
    "insights_usagerecord", "procrastinate_jobs", "procrastinate_events", "procrastinate_workers",
    "spatial_ref_sys",
}  # fmt: skip
BUILD_SCRIPT = """
from django.core.management import call_command
from infraplan.core.testing.browser import browser_data_make

call_command("migrate", interactive=False, verbosity=0)
browser_data_make()
"""


def browser_data_make() -> None:
    """Fill the current, migrated and empty database with what the read-only browser tests
    read: the personas, the demo districts and wards, organisation A's restricted points
    (``a-only-sites``, the root conftest's ``restricted``) and the sample postcodes."""
    personas = make_personas()
    demo_load(only=BROWSER_DATASETS)
    restricted = dataset_make(
        slug="a-only-sites", owner=personas.organisation_a, access_level="organisations"
    )
    version_publish_points(dataset=restricted, points=ASHFORD_POINTS)
    postcodes_load_sample()


def browser_data_files() -> list[Path]:
    """Every file whose content decides what ``browser_data_make`` makes, in a fixed order."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    migrations = [
        Path(sys.modules[loader.disk_migrations[key].__module__].__file__)
        for key in sorted(loader.disk_migrations)
    ]
    manifest_path = settings.DEMO_DATA_DIR / "demo.toml"
    manifest = demo_manifest(manifest_path)
    data = [manifest_path, settings.AUTHORITY_PROFILE_PATH, POSTCODE_DIRECTORY]
    for spec in manifest.datasets:
        if spec.slug in BROWSER_DATASETS:
            data.append(manifest_path.parent / spec.file)
            if spec.join:
                data.append(manifest_path.parent / spec.join.file)
    code = sorted({path for pattern in BUILD_CODE for path in ROOT.glob(pattern)})
    return [*migrations, *data, *code]


def browser_data_digest() -> str:
    """A digest of the migrations of every installed app, the demo data files the browser
    tests use and the code that loads them."""
    digest = hashlib.sha256()
    for path in browser_data_files():
        content = path.read_bytes()
        digest.update(f"{path.name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def lib_sh(function: str, *arguments: str) -> str:
    """Run a function of scripts/lib.sh (the administrative connection) and return its output."""
    completed = subprocess.run(
        ["bash", "-c", 'source scripts/lib.sh && "$@"', "-", function, *arguments],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    if completed.returncode:
        raise RuntimeError(f"scripts/lib.sh {function} failed:\n{completed.stderr.strip()}")
    return completed.stdout.strip()


def database_url(name: str) -> str:
    """The default database's URL with another database name (same role, host and port)."""
    database = settings.DATABASES["default"]
    return (
        f"postgres://{quote(database['USER'], safe='')}:{quote(database['PASSWORD'], safe='')}"
        f"@{database['HOST']}:{database['PORT'] or 5432}/{name}"
    )


def database_from_template(
    *, name: str, template: str, digest: str, build: Callable[[str], None]
) -> bool:
    """Make database ``name`` a fresh copy of ``template``; first (re)build the template with
    ``build(url)`` when it is missing or was built from something else than ``digest``.

    The template is marked with the digest only once the build has succeeded, so a failed or
    interrupted build is rebuilt next time. Returns whether the template was built.
    """
    built = lib_sh("template_digest", template) != digest
    if built:
        lib_sh("recreate_test_database", template)
        build(database_url(template))
        lib_sh("template_seal", template, digest)
    lib_sh("database_copy", name, template)
    return built


def browser_template_build(url: str) -> None:
    """Migrate the empty database at ``url`` and fill it (``browser_data_make``), with the
    application's own command line, as a deployment would."""
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "infraplan"), "shell", "-c", BUILD_SCRIPT],
        env={**os.environ, "DATABASE_URL": url, "USAGE_LOG_ENABLED": "false"},
        check=True, cwd=ROOT,
    )  # fmt: skip


def browser_database_make(name: str) -> bool:
    """Make ``name`` a copy of ``<name>_template``, the browser tests' data, rebuilt only when
    out of date. Returns whether the template was built."""
    return database_from_template(
        name=name,
        template=f"{name}_template",
        digest=browser_data_digest(),
        build=browser_template_build,
    )


def served_cache_tables() -> set[str]:
    """The database cache's tables as the served site has them: from the settings module
    itself, since the test process counts in memory (the root conftest replaces CACHES)."""
    caches = importlib.import_module(settings.SETTINGS_MODULE).CACHES
    return {
        cache["LOCATION"]
        for cache in caches.values()
        if cache["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    }


def database_fingerprint(url: str) -> dict[str, str]:
    """Table -> digest of its rows, for every table of the database at ``url`` except those in
    ``CHANGED_BY_READING`` and cache tables: equal fingerprints before and after a run show
    that its tests only read."""
    skipped = CHANGED_BY_READING | served_cache_tables()
    with connect(url) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
            if row[0] not in skipped
        ]
        return {
            table: connection.execute(
                sql.SQL(
                    "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t"
                ).format(sql.Identifier(table))
            ).fetchone()[0]
            for table in tables
        }
