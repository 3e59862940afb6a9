"""The stored problems of a load never published are deleted LOAD_PROBLEMS_KEPT_DAYS after it
ended, in batches, by a nightly task, and the version says when: its page and report CSV then
list the first ones its report keeps and say why the rest are gone. A published version's
problems, current or since replaced, and a recent rejected load's stay."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import dateformat, timezone
from procrastinate.contrib.django import app

from infraplan.audit.models import AuditEntry
from infraplan.catalogue import ingest_rows, problem_retention
from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.models import DatasetVersion, VersionProblem
from infraplan.catalogue.problem_retention import version_problems_expire
from infraplan.catalogue.tests.test_report_every_problem import (
    COLUMNS,
    KEPT,
    PROBLEMS,
    SOURCE,
    page_text,
    report_csv,
)
from infraplan.connectors.models import IngestRun, RunState
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db

# The first problems, as the report keeps them: without their rows' references.
REPORTED = [[row, "", field, value, problem] for row, _, field, value, problem in PROBLEMS[:KEPT]]


@pytest.fixture(autouse=True)
def few_kept(monkeypatch):
    monkeypatch.setattr(ingest_rows, "REPORT_PROBLEMS_KEPT", KEPT)


@pytest.fixture
def sites(personas):
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[
            {"name": "ref", "type": "string", "title": "Reference", "required": True},
            {"name": "homes", "type": "integer", "title": "Homes"},
            {"name": "Zone", "type": "string", "title": "Zone", "allowed": ["A", "B"]},
        ],
    )  # fmt: skip
    version_publish_points(dataset=dataset, points={"S1": (615000, 157500)})
    return dataset


def load(dataset, folder: Path, *, published: bool, days_ago: int) -> DatasetVersion:
    """A load of SOURCE (seven problems) that publishes or is rejected, begun ``days_ago``."""
    folder.mkdir()
    path = folder / "sites.csv"
    path.write_text(SOURCE)
    mapping = IngestMapping(reference="ref", max_invalid_share=0.8 if published else 0.0)
    try:
        version = ingest_run(
            actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
            mapping=mapping,
        )  # fmt: skip
    except IngestRejected as rejected:
        assert not published
        version = rejected.version
    assert VersionProblem.objects.filter(version=version).count() == len(PROBLEMS)
    then = timezone.now() - timedelta(days=days_ago)
    DatasetVersion.objects.filter(pk=version.pk).update(
        created_at=then, published_at=then if published else None
    )
    version.refresh_from_db()
    return version


def stored(version: DatasetVersion) -> int:
    return VersionProblem.objects.filter(version=version).count()


def test_a_rejected_loads_problems_go_after_the_days_kept_and_published_ones_stay(
    sites, tmp_path, monkeypatch, settings
):
    replaced = load(sites, tmp_path / "replaced", published=True, days_ago=200)
    old = load(sites, tmp_path / "old", published=False, days_ago=91)
    recent = load(sites, tmp_path / "recent", published=False, days_ago=89)
    current = load(sites, tmp_path / "current", published=True, days_ago=120)
    assert current.is_current and not DatasetVersion.objects.get(pk=replaced.pk).is_current
    # A load whose run was retried for days ended when its run finished, not when it began.
    retried = load(sites, tmp_path / "retried", published=False, days_ago=95)
    IngestRun.objects.create(
        dataset=sites, connector_key="upload", mapping={}, state=RunState.REJECTED,
        version=retried, finished_at=timezone.now() - timedelta(days=80),
    )  # fmt: skip
    report = old.report

    # Deleted two at a time, each batch a statement (and transaction) of its own.
    monkeypatch.setattr(problem_retention, "PROBLEMS_DELETED_AT_ONCE", 2)
    with CaptureQueriesContext(connection) as queries:
        assert version_problems_expire() == len(PROBLEMS)  # the default: 90 days
    deletes = [query for query in queries if query["sql"].startswith("DELETE")]
    assert len(deletes) == 4  # 2, 2, 2, 1

    old.refresh_from_db()
    assert stored(old) == 0 and old.report == report
    assert timezone.now() - old.problems_removed_at < timedelta(minutes=1)
    (entry,) = AuditEntry.objects.filter(action="version.problems_remove")
    assert entry.target_id == str(old.pk) and entry.after == {"kept_days": 90}
    for kept in (replaced, current, recent, retried):
        kept.refresh_from_db()
        assert stored(kept) == len(PROBLEMS) and kept.problems_removed_at is None

    # Nothing more to do: the marked version is not marked again.
    removed_at = old.problems_removed_at
    assert version_problems_expire() == 0
    old.refresh_from_db()
    assert old.problems_removed_at == removed_at

    # A shorter limit takes the recent ones too; published ones stay, however old.
    settings.LOAD_PROBLEMS_KEPT_DAYS = 30
    assert version_problems_expire() == 2 * len(PROBLEMS)
    assert stored(recent) == stored(retried) == 0
    assert stored(replaced) == stored(current) == len(PROBLEMS)


def test_the_page_and_csv_say_the_full_list_was_removed_and_list_the_reports(
    sites, personas, client_as, tmp_path
):
    rejected = load(sites, tmp_path / "rejected", published=False, days_ago=91)
    client = client_as(personas.contributor_a)
    assert report_csv(client, rejected)[-1][4] == PROBLEMS[-1][4]  # every one, while stored

    version_problems_expire()

    rejected.refresh_from_db()
    removed_on = dateformat.format(timezone.localtime(rejected.problems_removed_at), "j F Y")
    said = (
        f"The full list of this load's problems was removed on {removed_on}: the platform keeps "
        "it for 90 days after a load that is not published. Only the first 3 of its 7 problems "
        "are shown, without their references, as the version's report keeps them."
    )
    page = page_text(client, rejected)
    assert said in page
    assert "7 problems found. The report and its CSV list the first 3 only" in page
    assert PROBLEMS[KEPT - 1][4] in page and PROBLEMS[KEPT][4] not in page
    assert report_csv(client, rejected) == [COLUMNS, *REPORTED, ["", "", "", "", said]]


def test_a_removal_stopped_part_way_shows_the_report_and_is_finished_next_time(
    sites, personas, client_as, tmp_path, monkeypatch
):
    rejected = load(sites, tmp_path / "rejected", published=False, days_ago=91)
    delete = problem_retention._problems_delete

    def stop_after_one_batch(version_id: int) -> int:
        delete(version_id)
        raise RuntimeError("the worker stopped")

    monkeypatch.setattr(problem_retention, "PROBLEMS_DELETED_AT_ONCE", 2)
    monkeypatch.setattr(problem_retention, "_problems_delete", stop_after_one_batch)
    with pytest.raises(RuntimeError):
        version_problems_expire()
    assert stored(rejected) == len(PROBLEMS) - 2
    # Marked: its pages read the report, not what is left.
    client = client_as(personas.contributor_a)
    assert report_csv(client, rejected)[1:-1] == REPORTED

    monkeypatch.setattr(problem_retention, "_problems_delete", delete)
    assert version_problems_expire() == len(PROBLEMS) - 2
    assert stored(rejected) == 0


def test_a_published_version_cannot_be_marked_removed(sites):
    version = sites.current_version
    version.problems_removed_at = timezone.now()
    with (
        pytest.raises(IntegrityError, match="published_version_keeps_problems"),
        transaction.atomic(),
    ):
        version.save(update_fields=["problems_removed_at"])


def test_the_removal_is_a_nightly_periodic_task(sites, tmp_path):
    rejected = load(sites, tmp_path / "rejected", published=False, days_ago=91)
    (periodic,) = [
        task for task in app.periodic_registry.periodic_tasks.values()
        if task.task.name == "catalogue.version_problems_expire"
    ]  # fmt: skip
    assert periodic.cron == "41 3 * * *" and periodic.periodic_id == "version-problems-expire"
    assert periodic.task.queueing_lock == "catalogue.version_problems_expire"
    assert periodic.task(timestamp=int(timezone.now().timestamp())) == len(PROBLEMS)
    assert stored(rejected) == 0
