"""Withdrawing a dataset and restoring it: the gate for each persona, the pages (a second
factor, the reason, the banner, the list's tag, the audit log), and that nothing loads into a
withdrawn dataset (uploads, "Refresh now", the command line, rollbacks, schedules, the demo).

Every route of a withdrawn dataset as each persona: tests/test_url_matrix_withdrawn.py; its
public tiles ahead of Django: infraplan/maps/tests/test_public_tiles_withdrawn.py; in a real
browser: tests/browser/test_withdrawal.py.
"""

import html
import logging
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.access import Action, dataset_permits
from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.models import Dataset, VersionState
from infraplan.catalogue.publishing import version_add_features, version_publish, version_start
from infraplan.catalogue.services import (
    DatasetWithdrawn,
    dataset_restore,
    dataset_save,
    dataset_withdraw,
)
from infraplan.catalogue.store import current_features
from infraplan.connectors.load_requests import ingest_request, rollback_request
from infraplan.connectors.models import IngestRun, RunState
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.connectors.sources import source_refresh_due, source_save
from infraplan.core.testing.data import (
    ASHFORD_POINTS,
    dataset_make,
    demo_dataset_load,
    version_publish_points,
)
from infraplan.core.testing.pages import error_summary

pytestmark = pytest.mark.django_db

REASON = "Published in error: the sites of the draft plan, not the adopted one"
REFUSAL = "Sites is withdrawn; restore it before loading new data"
MANAGERS = {"data_manager_a", "admin_a", "platform_admin"}


@pytest.fixture
def sites(personas) -> Dataset:
    """Organisation A's public sites, published twice (so there is a version to roll back to)."""
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    version_publish_points(dataset=dataset, points={"civic-centre": ASHFORD_POINTS["civic-centre"]})
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    return dataset


def withdrawn(dataset: Dataset, personas) -> Dataset:
    return dataset_withdraw(actor=personas.admin_a, dataset=dataset, reason=REASON)


def text(response) -> str:
    """A page's text, tags out and spaces collapsed."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


# The gate


@pytest.mark.parametrize("level", ["public", "signed_in", "organisations"])
def test_a_withdrawn_dataset_is_seen_only_by_those_who_manage_it_and_loaded_by_nobody(
    personas, level
):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a, access_level=level)
    withdrawn(dataset, personas)
    expected = {
        Action.VIEW: MANAGERS,
        Action.CONTRIBUTE: set(),  # platform admins included
        Action.MANAGE: MANAGERS,
        Action.ADMINISTER: {"admin_a", "platform_admin"},
    }
    for action, allowed in expected.items():
        for name, user in personas.all().items():
            permitted = name in allowed
            assert dataset_permits(user, dataset, action) == permitted, (name, action)
            # The queryset, and the compiled query tiles and pop-ups ask, are the same rule.
            assert Dataset.objects.permitting(user, action).filter(pk=dataset.pk).exists() == (
                permitted
            ), (name, action)
            found = Dataset.objects.permitted_get(user, "sites", action)
            assert (found is not None) == permitted, (name, action)


def test_restoring_gives_back_what_each_persona_had(personas, sites):
    before = {
        (name, action): dataset_permits(user, sites, action)
        for name, user in personas.all().items()
        for action in Action
    }
    withdrawn(sites, personas)
    assert not dataset_permits(AnonymousUser(), sites, Action.VIEW)
    dataset_restore(actor=personas.admin_a, dataset=sites)
    after = {
        (name, action): dataset_permits(user, sites, action)
        for name, user in personas.all().items()
        for action in Action
    }
    assert after == before and before[("anonymous", Action.VIEW)]


def test_answers_made_from_a_withdrawn_public_dataset_are_not_for_shared_caches(
    personas, sites, client_as
):
    """Its managers still read it; a proxy must not keep what they read for everyone."""
    manager = client_as(personas.data_manager_a)
    tile = "/tiles/sites/12/2057/1368.mvt"
    assert manager.get(tile)["Cache-Control"] == "public, max-age=300"
    withdrawn(sites, personas)
    for url in (tile, "/ogcapi/collections/sites/items", "/datasets/sites/download.geojson"):
        response = manager.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"].startswith("private"), url
        assert "Access-Control-Allow-Origin" not in response, url


# Withdrawing, on its page


def test_the_dataset_page_offers_withdrawing_to_its_admins_only(personas, sites, client_as):
    link = 'href="/datasets/sites/withdraw/"'
    assert link in client_as(personas.admin_a).get("/datasets/sites/").content.decode()
    assert link in client_as(personas.platform_admin).get("/datasets/sites/").content.decode()
    for persona in ("data_manager_a", "contributor_a", "viewer_a", "member_b"):
        page = client_as(getattr(personas, persona)).get("/datasets/sites/").content.decode()
        assert link not in page, persona
        assert (
            client_as(getattr(personas, persona)).get("/datasets/sites/withdraw/").status_code
            == 404
        )


def test_an_admin_withdraws_a_dataset_giving_the_reason(personas, sites, client_as):
    admin = client_as(personas.admin_a)
    page = text(admin.get("/datasets/sites/withdraw/"))
    assert "Anyone, signed in or not, will no longer see it. Only Organisation A's data managers " \
        "and admins, and platform admins, will." in page  # fmt: skip
    assert "Its versions, features and sources are kept as they are" in page
    assert "Scheduled refreshes of its sources stop" in page
    assert "It can be restored from its page" in page

    response = admin.post("/datasets/sites/withdraw/", {"reason": f"  {REASON}  "})

    assert response.status_code == 302 and response["Location"] == "/datasets/sites/"
    sites.refresh_from_db()
    assert (sites.withdrawal_reason, sites.withdrawn_by) == (REASON, personas.admin_a)
    assert timezone.now() - sites.withdrawn_at < timedelta(minutes=1)
    entry = AuditEntry.objects.get(action="dataset.withdraw", target_id=str(sites.pk))
    assert entry.actor_label == personas.admin_a.email
    assert entry.before == {"withdrawn_at": None, "withdrawn_by_id": None, "withdrawal_reason": ""}
    assert entry.after["withdrawal_reason"] == REASON
    assert entry.after["withdrawn_by_id"] == personas.admin_a.pk
    page = text(admin.get("/datasets/sites/"))
    assert "Sites has been withdrawn." in page
    day = date_format(timezone.localtime(sites.withdrawn_at), "j F Y")
    assert f"Withdrawn on {day} by admin: {REASON}" in page
    assert "Restore this dataset" in page and "Withdraw this dataset" not in page


def test_the_reason_is_required_and_at_most_1000_characters(personas, sites, client_as):
    admin = client_as(personas.admin_a)
    for reason, problem in [
        ("", "Enter why you are withdrawing the dataset"),
        ("   \n ", "Enter why you are withdrawing the dataset"),
        ("x" * 1001, "The reason must be 1,000 characters or fewer"),
    ]:
        response = admin.post("/datasets/sites/withdraw/", {"reason": reason})
        assert response.status_code == 200
        assert error_summary(response) == [f"Reason for withdrawing it: {problem}"]
        assert "<title>Error: Withdraw Sites" in response.content.decode()
    sites.refresh_from_db()
    assert sites.withdrawn_at is None
    assert not AuditEntry.objects.filter(action="dataset.withdraw").exists()
    # 1,000 characters are enough.
    assert admin.post("/datasets/sites/withdraw/", {"reason": "x" * 1000}).status_code == 302


def test_without_a_second_factor_the_page_says_so_and_a_post_is_refused(personas, sites, client_as):
    """A phished admin password alone must not take a council's dataset down."""
    admin = client_as(personas.admin_a, two_factor=False)
    page = admin.get("/datasets/sites/withdraw/").content.decode()
    assert 'name="reason"' not in page
    assert f'href="{reverse("mfa_activate_totp")}">Use two-factor authentication</a>' in page

    response = admin.post("/datasets/sites/withdraw/", {"reason": REASON})

    assert response.status_code == 403
    assert "Use two-factor authentication" in response.content.decode()
    sites.refresh_from_db()
    assert sites.withdrawn_at is None
    assert not AuditEntry.objects.filter(action="dataset.withdraw").exists()


def test_a_withdrawn_dataset_cannot_be_withdrawn_again(personas, sites, client_as):
    withdrawn(sites, personas)
    response = client_as(personas.admin_a).get("/datasets/sites/withdraw/", follow=True)
    assert "Sites is withdrawn already." in text(response)
    with pytest.raises(ValidationError, match="withdrawn already"):
        dataset_withdraw(actor=personas.admin_a, dataset=sites, reason="Again")
    assert AuditEntry.objects.filter(action="dataset.withdraw").count() == 1


# A withdrawn dataset's pages


def test_those_who_still_see_it_see_the_banner_and_the_list_marks_it(personas, sites, client_as):
    withdrawn(sites, personas)
    tag = '<strong class="govuk-tag govuk-tag--grey">Withdrawn</strong>'
    for persona in ("data_manager_a", "admin_a", "platform_admin"):
        client = client_as(getattr(personas, persona))
        page = text(client.get("/datasets/sites/"))
        assert f"by admin: {REASON}" in page, persona
        listed = client.get("/datasets/").content.decode()
        assert f'href="/datasets/sites/">Sites</a> {tag}' in listed, persona
    # Restoring is for its admins; its data managers read why it was withdrawn.
    manager = client_as(personas.data_manager_a).get("/datasets/sites/").content.decode()
    assert "Restore this dataset" not in manager and 'id="withdrawn"' in manager
    # Nothing offers to load into it.
    assert "Upload data" not in manager and "Add a source" not in manager
    for persona in ("anonymous", "viewer_a", "contributor_a", "member_b"):
        listed = client_as(getattr(personas, persona)).get("/datasets/").content.decode()
        assert "/datasets/sites/" not in listed and "Withdrawn" not in listed, persona


def test_its_sources_and_versions_are_listed_but_offer_no_loads(personas, sites, client_as):
    source = source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="url",
        config={"url": "https://data.example.org/sites.csv"}, mapping={"reference": "ref"},
        schedule="weekly",
    )  # fmt: skip
    withdrawn(sites, personas)
    page = client_as(personas.data_manager_a).get("/datasets/sites/").content.decode()
    assert 'id="source-table"' in page and "Not while withdrawn" in page
    assert f"/sources/{source.pk}/refresh/" not in page and "Refresh now" not in page
    assert f"/sources/{source.pk}/" not in page  # no Change link
    # Nor does a version's page offer rolling back to it.
    version = client_as(personas.data_manager_a).get("/datasets/sites/versions/1/")
    assert version.status_code == 200 and "Roll back to version 1" not in version.content.decode()


def test_restoring_needs_a_second_factor_and_brings_it_back(personas, sites, client_as):
    withdrawn(sites, personas)
    without = client_as(personas.admin_a, two_factor=False)
    page = without.get("/datasets/sites/").content.decode()
    assert "Restore this dataset" not in page and 'id="restore-two-factor"' in page
    refused = without.post("/datasets/sites/restore/", follow=True)
    assert "Sites was not restored: use two-factor authentication first" in text(refused)
    sites.refresh_from_db()
    assert sites.withdrawn_at is not None
    assert client_as(personas.data_manager_a).post("/datasets/sites/restore/").status_code == 404
    assert client_as(personas.viewer_a).post("/datasets/sites/restore/").status_code == 404

    response = client_as(personas.admin_a).post("/datasets/sites/restore/", follow=True)

    assert "Sites has been restored" in text(response)
    sites.refresh_from_db()
    assert (sites.withdrawn_at, sites.withdrawn_by, sites.withdrawal_reason) == (None, None, "")
    entry = AuditEntry.objects.get(action="dataset.restore", target_id=str(sites.pk))
    assert entry.actor_label == personas.admin_a.email
    assert entry.before["withdrawal_reason"] == REASON and entry.after["withdrawn_at"] is None
    assert 'id="withdrawn"' not in response.content.decode()
    for persona in ("anonymous", "viewer_a", "member_b"):
        client = client_as(getattr(personas, persona))
        assert client.get("/datasets/sites/").status_code == 200, persona
        assert "/datasets/sites/" in client.get("/datasets/").content.decode(), persona


def test_restoring_a_dataset_that_is_not_withdrawn_says_so(personas, sites, client_as):
    response = client_as(personas.admin_a).post("/datasets/sites/restore/", follow=True)
    assert "Sites is not withdrawn." in text(response)
    assert not AuditEntry.objects.filter(action="dataset.restore").exists()


# Nothing loads into a withdrawn dataset


def test_uploads_are_refused_with_the_reason(personas, sites, client_as):
    withdrawn(sites, personas)
    manager = client_as(personas.data_manager_a)
    for response in (
        manager.get("/datasets/sites/upload/"),
        manager.post("/datasets/sites/upload/", {"reference": "ref"}),
    ):
        assert response.status_code == 302 and response["Location"] == "/datasets/sites/"
    assert REFUSAL in text(manager.get("/datasets/sites/"))
    # Those who no longer see it are told nothing.
    assert client_as(personas.contributor_a).get("/datasets/sites/upload/").status_code == 404
    assert not IngestRun.objects.exists()


def test_refresh_now_is_refused_with_the_reason(personas, sites, client_as):
    source = source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="url",
        config={"url": "https://data.example.org/sites.csv"}, mapping={"reference": "ref"},
    )  # fmt: skip
    withdrawn(sites, personas)
    manager = client_as(personas.data_manager_a)
    response = manager.post(f"/datasets/sites/sources/{source.pk}/refresh/", follow=True)
    assert response.redirect_chain == [("/datasets/sites/", 302)]
    assert REFUSAL in text(response)
    assert client_as(personas.contributor_a).post(
        f"/datasets/sites/sources/{source.pk}/refresh/"
    ).status_code == 404  # fmt: skip
    assert not IngestRun.objects.exists()


def test_loads_and_rollbacks_are_refused_whatever_asks(personas, sites, settings, tmp_path):
    settings.UPLOAD_ROOT = tmp_path / "uploads"  # where the command line keeps its copy
    path = tmp_path / "sites.csv"
    path.write_text("ref,Easting,Northing\nS1,615000,157500\n")
    withdrawn(sites, personas)
    with pytest.raises(ValidationError) as refused:
        ingest_request(
            actor=personas.platform_admin, dataset=sites, connector_key="upload",
            config={"path": str(path)}, mapping={"reference": "ref"},
        )  # fmt: skip
    assert refused.value.message_dict == {"dataset": [REFUSAL]}
    with pytest.raises(ValidationError, match=REFUSAL):
        rollback_request(
            actor=personas.data_manager_a, dataset=sites, to=sites.versions.get(number=1)
        )
    with pytest.raises(CommandError, match=REFUSAL):
        call_command("ingest", str(path), "--dataset", "sites", "--reference", "ref")
    # Nor is a source saved for it from the command line.
    with pytest.raises(CommandError, match=REFUSAL):
        call_command(
            "ingest", "https://data.example.org/sites.csv", "--dataset", "sites", "--save",
            "--no-load", "--reference", "ref",
        )  # fmt: skip
    assert not sites.sources.exists()
    assert not list((tmp_path / "uploads").glob("**/*.csv"))  # no copy of the file kept
    assert not IngestRun.objects.exists()
    assert sites.versions.count() == 2


def test_a_load_asked_for_before_the_withdrawal_does_not_start(personas, sites, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("ref,Easting,Northing\nS1,615000,157500\n")
    run = ingest_request(
        actor=personas.data_manager_a, dataset=sites, connector_key="upload",
        config={"path": str(path)}, mapping={"reference": "ref"}, queue=False,
    )  # fmt: skip
    withdrawn(sites, personas)

    run = ingest_run_execute(run.pk)

    assert (run.state, run.error) == (RunState.FAILED, f"Not started: {REFUSAL}.")
    assert run.version is None and sites.versions.count() == 2


def test_a_load_under_way_when_it_is_withdrawn_publishes_nothing(personas, sites, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("ref,Easting,Northing\nS1,615000,157500\n")
    with pytest.raises(IngestRejected, match=REFUSAL) as rejected:
        ingest_run(
            actor=None, dataset=sites, connector_key="upload", config={"path": str(path)},
            mapping=IngestMapping(reference="ref"),
            on_version=lambda version: withdrawn(sites, personas),
        )  # fmt: skip
    assert rejected.value.version.state == VersionState.FAILED
    assert sites.current_version.number == 2
    assert set(current_features(sites).values_list("reference", flat=True)) == set(ASHFORD_POINTS)
    # However a publish is asked for.
    draft = version_start(actor=None, dataset=sites, source="test")
    with pytest.raises(DatasetWithdrawn), transaction.atomic():
        version_add_features(version=draft, rows=[])
        version_publish(actor=None, version=draft)


def test_scheduled_refreshes_are_skipped_with_a_log_line_until_restored(personas, sites, caplog):
    source = source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="url",
        config={"url": "https://data.example.org/sites.csv"}, mapping={"reference": "ref"},
        schedule="daily",
    )  # fmt: skip
    now = timezone.now()
    source.next_run_at = now - timedelta(minutes=1)
    source.save(update_fields=["next_run_at"])
    withdrawn(sites, personas)

    with caplog.at_level(logging.INFO, logger="infraplan.connectors.sources"):
        assert source_refresh_due(now=now) == []

    assert not IngestRun.objects.exists()
    (line,) = [record.getMessage() for record in caplog.records if "skipped" in record.getMessage()]
    assert line.startswith(f"Scheduled load of source {source.pk} of sites skipped: {REFUSAL}.")
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    source.refresh_from_db()
    assert source.next_run_at > now  # passed over, not left due for every tick

    dataset_restore(actor=personas.admin_a, dataset=sites)
    source.next_run_at = now - timedelta(minutes=1)
    source.save(update_fields=["next_run_at"])
    (run,) = source_refresh_due(now=now)
    assert run.source == source and run.state == RunState.QUEUED


def test_loading_the_demo_again_leaves_a_withdrawn_dataset_as_it_is(personas, caplog):
    districts = demo_dataset_load("districts")
    dataset_save(actor=None, slug="districts", owner=districts.owner, title="Old districts")
    dataset_withdraw(actor=personas.platform_admin, dataset=districts, reason="Superseded")
    versions = districts.versions.count()

    with caplog.at_level(logging.INFO, logger="infraplan.catalogue.demo"):
        assert demo_load(only={"districts"}) == []

    districts.refresh_from_db()
    assert districts.withdrawn_at is not None and districts.withdrawal_reason == "Superseded"
    assert districts.title == "Old districts" and districts.versions.count() == versions
    assert "Demo dataset districts is withdrawn: left as it is, not loaded." in caplog.text
