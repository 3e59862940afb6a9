"""The browser tests' database: a template built only when missing or out of date, copied
afresh for every run, against the real PostgreSQL server."""

from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth import migrations as auth_migrations

from infraplan.core.testing.browser import (
    browser_data_digest,
    browser_data_files,
    database_fingerprint,
    database_from_template,
    database_url,
    lib_sh,
    served_cache_tables,
)


@pytest.fixture
def names(django_db_modify_db_settings):
    """A copy and its template, named after this run's test database (with the test process's
    suffix, which that fixture adds), dropped before (a run interrupted before its clean-up
    leaves them behind) and afterwards."""
    base = settings.DATABASES["default"]["TEST"]["NAME"]
    name, template = f"{base}_copy_check", f"{base}_copy_check_template"
    _drop(name, template)
    yield name, template
    _drop(name, template)


def _drop(*databases: str) -> None:
    for database in databases:
        lib_sh("admin_psql", "-d", "postgres", "-c", f'DROP DATABASE IF EXISTS "{database}"')


class Builds:
    """A cheap build that records each call: one table with one row."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str) -> None:
        self.urls.append(url)
        with psycopg.connect(url) as connection:
            connection.execute("CREATE TABLE built (number int)")
            connection.execute("INSERT INTO built VALUES (%s)", [len(self.urls)])


def rows(name: str) -> list[int]:
    with psycopg.connect(database_url(name)) as connection:
        return [row[0] for row in connection.execute("SELECT number FROM built ORDER BY 1")]


def test_the_template_is_built_once_and_each_copy_is_fresh(names):
    name, template = names
    build = Builds()

    assert database_from_template(name=name, template=template, digest="one", build=build)
    assert build.urls == [database_url(template)]
    assert rows(name) == [1]
    with psycopg.connect(database_url(name)) as connection:
        connection.execute("INSERT INTO built VALUES (99)")  # a test run writes to its copy

    assert not database_from_template(name=name, template=template, digest="one", build=build)
    assert len(build.urls) == 1  # up to date: not built again
    assert rows(name) == [1]  # and the copy is fresh: the last run's write is gone
    assert lib_sh("template_digest", template) == "one"
    # Nobody can connect to the template, which would make the next copy fail.
    with pytest.raises(psycopg.OperationalError, match="not currently accepting connections"):
        psycopg.connect(database_url(template)).close()

    assert database_from_template(name=name, template=template, digest="two", build=build)
    assert len(build.urls) == 2  # out of date: rebuilt from empty
    assert rows(name) == [2]


def test_the_fingerprint_shows_a_write_to_a_data_table_but_not_a_sign_in(names):
    name, template = names
    database_from_template(name=name, template=template, digest="one", build=Builds())
    url = database_url(name)
    (cache_table,) = served_cache_tables()
    with psycopg.connect(url) as connection:
        connection.execute("CREATE TABLE django_session (session_key text)")
        connection.execute(f'CREATE TABLE "{cache_table}" (cache_key text)')
    before = database_fingerprint(url)
    assert set(before) == {"built"}  # django_session is one of CHANGED_BY_READING

    with psycopg.connect(url) as connection:
        connection.execute("INSERT INTO django_session VALUES ('signed-in')")
        connection.execute(f"INSERT INTO \"{cache_table}\" VALUES ('rate-limit')")
    assert database_fingerprint(url) == before
    with psycopg.connect(url) as connection:
        connection.execute("UPDATE built SET number = 2")
    assert database_fingerprint(url)["built"] != before["built"]


def test_a_failed_build_is_not_taken_for_a_finished_template(names):
    name, template = names

    def broken(url: str) -> None:
        Builds()(url)
        raise RuntimeError("the build stopped half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        database_from_template(name=name, template=template, digest="one", build=broken)
    assert lib_sh("template_digest", template) == ""

    build = Builds()
    assert database_from_template(name=name, template=template, digest="one", build=build)
    assert len(build.urls) == 1
    assert rows(name) == [1]


def test_the_digest_covers_migrations_data_and_the_code_that_loads_it():
    root = settings.BASE_DIR
    files = set(browser_data_files())

    # Every installed app's migrations, Django's own and the project's.
    assert Path(auth_migrations.__file__).parent / "0001_initial.py" in files
    assert root / "infraplan/catalogue/migrations/0001_initial.py" in files
    # The demo data the browser tests read, and the code that loads it.
    assert {
        root / "data/demo.toml",
        root / "data/kent_lad_boundaries_2013/kent_medway_lad_2013.geojson",
        root / "data/kent_wards_2023_bsc/kent_medway_wards_dec2023_bsc.geojson",
        root / "infraplan/core/testing/browser.py",
        root / "infraplan/accounts/services.py",
    } <= files
    assert browser_data_digest() == browser_data_digest()
