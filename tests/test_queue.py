"""The task queue, really started: a procrastinate worker process runs the demo load."""

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import connection

from infraplan.catalogue.models import Dataset
from infraplan.catalogue.store import current_features
from infraplan.catalogue.tasks import demo_load_task
from infraplan.core.queue import defer_once
from infraplan.places.models import Postcode

pytestmark = pytest.mark.django_db(transaction=True)
INFRAPLAN = str(Path(sys.executable).parent / "infraplan")


def database_url_of_tests() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    return f"postgres://{quote(db['USER'])}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def worker(tmp_path):
    """A real worker process on the test database; stopped and checked for errors afterwards.

    Jobs that other tests requested and left unrun (their rows are gone, so they could only
    fail) are removed first: they are not this test's to run.
    """
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs WHERE status = 'todo'")
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


def test_demo_load_runs_through_the_queue(worker, capsys):
    call_command("load_demo", wait=True, timeout=120)
    output = capsys.readouterr().out
    assert "Demo load job" in output and "Postcode load job" in output
    districts = Dataset.objects.get(slug="districts")
    assert current_features(districts).count() == 13
    assert districts.current_version.number == 1
    assert Postcode.objects.count() == 71_839
    # A second load changes nothing.
    call_command("load_demo", wait=True, timeout=120)
    assert districts.versions.count() == 1


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
