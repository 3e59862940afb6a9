"""The task queue, really started: a procrastinate worker process runs the whole demo load."""

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import connection

from infraplan.catalogue.demo import demo_manifest
from infraplan.catalogue.models import DatasetVersion
from infraplan.catalogue.tasks import demo_load_task
from infraplan.catalogue.tests.test_demo import demo_loaded_check
from infraplan.core.queue import defer_once
from infraplan.places.models import Postcode

pytestmark = pytest.mark.django_db(transaction=True)
INFRAPLAN = str(Path(sys.executable).parent / "infraplan")


def database_url_of_tests() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    return f"postgres://{quote(db['USER'])}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def unrun_jobs_remove() -> None:
    """Remove the jobs that earlier tests requested and left unrun, before a worker starts.

    The queue's tables are not the application's models, so the flush after each transactional
    test keeps them: a worker would otherwise first run, say, a whole demo load another test
    queued, and the test waiting on its own job would wait for that too.
    """
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs WHERE status = 'todo'")


@pytest.fixture
def worker(tmp_path):
    """A real worker process on the test database, with no other test's jobs waiting; stopped
    and checked for errors afterwards."""
    unrun_jobs_remove()
    log = (tmp_path / "worker.log").open("w+")
    process = subprocess.Popen(
        [INFRAPLAN, "procrastinate", "worker", "--name", "test-worker"],
        env={**os.environ, "DATABASE_URL": database_url_of_tests()},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process
    assert process.poll() is None, "the worker stopped early"
    process.terminate()
    process.wait(timeout=20)
    log.seek(0)
    output = log.read()
    assert "Traceback" not in output, output


def current_versions() -> dict[str, DatasetVersion]:
    """Each demo dataset's current version; a dataset of the manifest without one fails."""
    return {
        spec.slug: DatasetVersion.objects.select_related("dataset").get(
            dataset__slug=spec.slug, is_current=True
        )
        for spec in demo_manifest().datasets
    }


def test_the_whole_demo_loads_through_the_queue(worker, capsys):
    """The one whole demo load of the suite: as `make run` loads it, through a real worker."""
    call_command("load_demo", wait=True, timeout=600)
    output = capsys.readouterr().out
    assert "Demo load job" in output and "Postcode load job" in output
    versions = current_versions()
    demo_loaded_check(versions)
    assert {version.number for version in versions.values()} == {1}
    assert Postcode.objects.count() == 71_839
    # A second load changes nothing: no dataset gets a new version.
    call_command("load_demo", wait=True, timeout=600)
    assert current_versions() == versions
    assert DatasetVersion.objects.count() == len(versions)


def test_a_waiting_demo_load_is_not_queued_twice():
    first = defer_once(demo_load_task)
    second = defer_once(demo_load_task)
    assert first == second


def test_waiting_without_a_worker_says_what_is_wrong():
    from django.core.management.base import CommandError

    started = time.monotonic()
    with pytest.raises(CommandError, match="is a worker running"):
        call_command("load_demo", wait=True, timeout=1)
    assert time.monotonic() - started < 10
