"""The "Cancel this load" button on a run's page: shown while the run waits or runs to those who
may ask for a load of its part, and to nobody else; its POST refused (403, nothing changed) to
everyone else who may see the dataset, and without its CSRF token; a run that has ended is not
cancelled, and its page says why. What a cancel does to the run is proved in
infraplan/connectors/tests/test_run_cancel.py."""

import html
import re

import pytest
from django.test import Client
from procrastinate.contrib.django.models import ProcrastinateJob

from infraplan.accounts.models import Role
from infraplan.accounts.services import membership_set, user_create
from infraplan.audit.models import AuditEntry
from infraplan.catalogue.ingest import IngestMapping
from infraplan.connectors.load_requests import ingest_request, rollback_request
from infraplan.connectors.models import IngestRun, RunState
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db
BUTTON = 'id="run-cancel"'


@pytest.fixture
def sites(personas):
    """Organisation A's public sites, to which organisation B contributes its part."""
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    dataset.contributing_organisations.add(personas.organisation_b)
    version_publish_points(dataset=dataset, points={"A": (615000, 157500)})
    return dataset


@pytest.fixture
def contributor_b(personas):
    user = user_create(actor=None, email="contributor@b.example", password="x" * 20)
    membership_set(
        actor=None, user=user, organisation=personas.organisation_b, role=Role.CONTRIBUTOR
    )
    return user


def load_of_part_a(dataset, personas, tmp_path) -> IngestRun:
    """A load of organisation A's part, waiting for the task queue (no worker runs here)."""
    path = tmp_path / "points.csv"
    path.write_text("ref,Easting,Northing\nP1,615000,157500\n")
    return ingest_request(
        actor=personas.contributor_a, dataset=dataset, connector_key="upload",
        config={"path": str(path)}, mapping=IngestMapping(reference="ref"),
        organisation=personas.organisation_a,
    )  # fmt: skip


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def url(run: IngestRun, action: str = "") -> str:
    return f"/datasets/sites/runs/{run.pk}/{action}"


def test_the_button_is_for_those_who_may_load_into_the_runs_part(
    sites, personas, client_as, contributor_b, tmp_path
):
    run = load_of_part_a(sites, personas, tmp_path)
    for user in (personas.contributor_a, personas.data_manager_a, personas.platform_admin):
        page = client_as(user).get(url(run)).content.decode()
        assert BUTTON in page, user
        assert "Cancel this load</button>" in page
        assert f'action="{url(run, "cancel/")}"' in page and "csrfmiddlewaretoken" in page
    # Organisation B's contributor sees the run page (B loads into the dataset), but may not
    # load organisation A's part: no button.
    page = client_as(contributor_b).get(url(run))
    assert page.status_code == 200 and BUTTON not in page.content.decode()


def test_others_are_refused_and_nothing_changes(
    sites, personas, client_as, contributor_b, tmp_path
):
    run = load_of_part_a(sites, personas, tmp_path)
    # A viewer of the owner, a member of another organisation (who both see the public
    # dataset) and a contributor of another part: 403. Signed out: sent to sign in.
    for user in (personas.viewer_a, personas.member_b, contributor_b):
        assert client_as(user).post(url(run, "cancel/")).status_code == 403, user
    assert client_as(None).post(url(run, "cancel/")).status_code == 302
    # The page is only POSTed to.
    assert client_as(personas.data_manager_a).get(url(run, "cancel/")).status_code == 405
    run.refresh_from_db()
    assert (run.state, run.error) == (RunState.QUEUED, "")
    assert ProcrastinateJob.objects.get(pk=run.job_id).status == "todo"
    assert not AuditEntry.objects.filter(action="ingest.cancel").exists()


def test_the_cancel_needs_its_csrf_token(sites, personas, tmp_path):
    run = load_of_part_a(sites, personas, tmp_path)
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.contributor_a)
    assert client.post(url(run, "cancel/")).status_code == 403
    run.refresh_from_db()
    assert run.state == RunState.QUEUED

    page = client.get(url(run)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(url(run, "cancel/"), {"csrfmiddlewaretoken": token})
    assert (response.status_code, response["Location"]) == (302, url(run))
    run.refresh_from_db()
    assert run.state == RunState.FAILED and run.cancelled


def test_a_cancelled_load_says_so_and_by_whom_without_javascript(
    sites, personas, client_as, tmp_path
):
    run = load_of_part_a(sites, personas, tmp_path)
    manager = client_as(personas.data_manager_a)
    page = text(manager.post(url(run, "cancel/"), follow=True))
    assert "The load was cancelled" in page
    assert "Cancelled: data-manager cancelled the load before it started." in page
    assert "The current version was not changed." in page
    assert "State Cancelled" in page
    status = manager.get(url(run, "status.json")).json()
    assert (status["state_label"], status["active"]) == ("Cancelled", False)
    assert BUTTON not in manager.get(url(run)).content.decode()


def test_a_run_that_has_ended_has_no_button_and_is_not_cancelled(
    sites, personas, client_as, tmp_path
):
    run = ingest_run_execute(load_of_part_a(sites, personas, tmp_path).pk)
    assert run.state == RunState.PUBLISHED
    manager = client_as(personas.data_manager_a)
    assert BUTTON not in manager.get(url(run)).content.decode()
    page = text(manager.post(url(run, "cancel/"), follow=True))
    assert "This load has already finished: it was published as version 2." in page
    assert "Published as version 2" in page
    run.refresh_from_db()
    assert (run.state, run.error) == (RunState.PUBLISHED, "")
    assert not AuditEntry.objects.filter(action="ingest.cancel").exists()


def test_a_load_run_from_the_command_line_has_no_button_and_its_cancel_is_explained(
    sites, personas, client_as, tmp_path
):
    path = tmp_path / "points.csv"
    path.write_text("ref,Easting,Northing\nP1,615000,157500\n")
    run = ingest_request(
        actor=personas.data_manager_a, dataset=sites, connector_key="upload",
        config={"path": str(path)}, mapping=IngestMapping(reference="ref"), queue=False,
    )  # fmt: skip
    IngestRun.objects.filter(pk=run.pk).update(state=RunState.RUNNING, stage="reading")
    manager = client_as(personas.data_manager_a)
    assert BUTTON not in manager.get(url(run)).content.decode()
    page = text(manager.post(url(run, "cancel/"), follow=True))
    assert "This load runs from the command line on the platform's server" in page
    assert "The load is in progress." in page


def test_a_waiting_rollback_has_its_own_button(sites, personas, client_as):
    version_publish_points(dataset=sites, points={"Z": (615100, 157600)})
    run = rollback_request(
        actor=personas.data_manager_a, dataset=sites, to=sites.versions.get(number=1)
    )
    manager = client_as(personas.data_manager_a)
    assert "Cancel this rollback</button>" in manager.get(url(run)).content.decode()
    page = text(manager.post(url(run, "cancel/"), follow=True))
    assert "The rollback was cancelled" in page
    assert "Cancelled: data-manager cancelled the rollback before it started." in page
    # Once running, a rollback cannot be stopped part-way: no button.
    again = rollback_request(
        actor=personas.data_manager_a, dataset=sites, to=sites.versions.get(number=1)
    )
    IngestRun.objects.filter(pk=again.pk).update(state=RunState.RUNNING)
    assert BUTTON not in manager.get(url(again)).content.decode()
