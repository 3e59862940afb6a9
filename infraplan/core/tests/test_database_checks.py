"""The database checks, against the real PostgreSQL server: a database of the test's own without
PostGIS, reached as a role of the test's own, made and dropped through the administrative
connection (scripts/lib.sh)."""

import secrets
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core import checks
from django.db import connection, connections

from infraplan.core.database_checks import postgis_creatable
from infraplan.core.testing.browser import lib_sh

pytestmark = pytest.mark.django_db

INFRAPLAN = Path(sys.executable).with_name("infraplan")


def admin_sql(database: str, statement: str) -> str:
    return lib_sh("admin_psql", "-At", "-d", database, "-c", statement)


@pytest.fixture
def without_postgis(django_db_modify_db_settings):
    """The name of an empty database without PostGIS, and a role that is not a superuser and
    its password; both dropped before (a run interrupted before its clean-up leaves them
    behind) and afterwards."""
    base = settings.DATABASES["default"]["TEST"]["NAME"]
    name, role, password = f"{base}_without_postgis", f"{base}_checked_role", secrets.token_hex(24)

    def drop() -> None:
        admin_sql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_sql("postgres", f'DROP ROLE IF EXISTS "{role}"')

    drop()
    admin_sql("postgres", f"CREATE ROLE \"{role}\" LOGIN NOSUPERUSER PASSWORD '{password}'")
    admin_sql("postgres", f'CREATE DATABASE "{name}" OWNER "{role}"')
    yield name, role, password
    drop()


@contextmanager
def connection_to(name: str, role: str, password: str):
    """A Django connection like the default one, to another database as another role, known to
    Django under the database's name while it is open."""
    default = connections["default"]
    settings_dict = {**default.settings_dict, "NAME": name, "USER": role, "PASSWORD": password}
    connections[name] = type(default)(settings_dict, alias=name)
    try:
        yield connections[name]
    finally:
        connections[name].close()
        del connections[name]


def postgis_installed_in(name: str) -> bool:
    return admin_sql(name, "SELECT count(*) FROM pg_extension WHERE extname = 'postgis'") == "1"


def test_a_database_with_postgis_passes():
    # The checks registered with the tag that migrate runs for the database it migrates.
    found = checks.run_checks(tags=[checks.Tags.database], databases=["default"])
    assert [message for message in found if message.id == "infraplan.E101"] == []
    assert postgis_creatable(connection) == []


def test_migrate_as_a_role_that_cannot_create_postgis_stops_with_the_fix_not_a_traceback(
    without_postgis, tmp_path
):
    name, role, password = without_postgis
    database = settings.DATABASES["default"]
    secret_file = tmp_path / "secret-key"
    secret_file.write_text(secrets.token_urlsafe(50) + "\n")
    environ = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "SECRET_KEY_FILE": str(secret_file),
        "DATABASE_URL": f"postgres://{role}:{quote(password, safe='')}"
        f"@{database['HOST']}:{database['PORT'] or 5432}/{name}",
    }

    result = subprocess.run(
        [str(INFRAPLAN), "migrate", "--noinput"],
        env=environ, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode != 0, result.stdout + result.stderr
    assert "(infraplan.E101) PostGIS is not installed" in result.stderr
    assert "Have a superuser run CREATE EXTENSION postgis;" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) < 10, result.stderr
    # Stopped before migrating anything.
    assert admin_sql(name, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"


def test_without_postgis_a_role_that_cannot_create_it_is_told_the_fix(without_postgis):
    name, role, password = without_postgis
    with connection_to(name, role, password) as other:
        (error,) = postgis_creatable(other)
    assert error.id == "infraplan.E101"
    assert error.level == checks.ERROR
    assert error.msg == (
        f"PostGIS is not installed in the database {name}, and the role {role} cannot create it "
        '(permission denied to create extension "postgis"). PostGIS is not a trusted '
        "extension: only a superuser (or a managed service's administrative role) may create it."
    )
    assert f"Have a superuser run CREATE EXTENSION postgis; in the database {name}" in error.hint
    assert f"sudo -u postgres psql -d {name} -c 'CREATE EXTENSION postgis;'" in error.hint
    assert not postgis_installed_in(name)


def test_without_postgis_a_role_that_can_create_it_passes_and_nothing_stays(without_postgis):
    name, role, password = without_postgis
    admin_sql("postgres", f'ALTER ROLE "{role}" SUPERUSER')
    with connection_to(name, role, password) as other:
        assert postgis_creatable(other) == []
    # The check only tried: migrate creates PostGIS itself, as it always has.
    assert not postgis_installed_in(name)


def test_once_a_superuser_has_created_postgis_the_role_passes(without_postgis):
    name, role, password = without_postgis
    admin_sql(name, "CREATE EXTENSION postgis")
    with connection_to(name, role, password) as other:
        assert postgis_creatable(other) == []
