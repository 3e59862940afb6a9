"""The audit log: every write through the services leaves an entry; the table is append-only."""

import pytest
from django.db import InternalError, ProgrammingError, transaction

from infraplan.audit.models import AuditEntry
from infraplan.audit.services import audit_record, audit_record_read
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points

pytestmark = pytest.mark.django_db


def test_writes_are_recorded_with_who_what_before_and_after(personas):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS, actor=personas.data_manager_a)
    dataset_make(slug="sites", owner=personas.organisation_a, title="Renamed sites")
    entries = list(AuditEntry.objects.filter(target_type__startswith="catalogue.").order_by("id"))
    assert [entry.action for entry in entries] == [
        "dataset.create", "version.start", "version.publish", "dataset.update",
    ]  # fmt: skip
    publish = entries[2]
    assert publish.actor_id == personas.data_manager_a.pk
    assert publish.actor_label == "data-manager@a.example"
    assert publish.before == {"current": None}
    assert publish.after["current"] == 1 and publish.after["added"] == 2
    update = entries[3]
    assert update.before["title"] == "Sites" and update.after["title"] == "Renamed sites"
    assert update.actor_label == "system"


def test_people_changes_are_recorded(personas):
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"user.create", "membership.set"} <= actions
    entry = AuditEntry.objects.get(action="membership.set", after__user="viewer@a.example")
    assert entry.after == {"user": "viewer@a.example", "organisation": "org-a", "role": "viewer"}


def test_the_log_refuses_updates_and_deletes(personas):
    entry = AuditEntry.objects.first()
    for attempt in (
        lambda: AuditEntry.objects.filter(pk=entry.pk).update(action="forged"),
        lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
    ):
        with (
            pytest.raises((InternalError, ProgrammingError), match="append-only"),
            transaction.atomic(),
        ):
            attempt()
    entry.refresh_from_db()
    assert entry.action != "forged"


@pytest.mark.django_db(transaction=True)
def test_audit_must_share_the_transaction_of_its_change(personas):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record(actor=None, action="x", target=personas.organisation_a)


def test_a_failed_change_leaves_no_entry(personas):
    before = AuditEntry.objects.count()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        audit_record(actor=None, action="doomed", target=personas.organisation_a)
        1 / 0  # noqa: B018 (the change fails after its entry was written)
    assert AuditEntry.objects.count() == before


def test_reads_of_restricted_data_are_recorded_once_per_window(client_as, personas, restricted):
    client = client_as(personas.viewer_a)
    for _ in range(3):
        assert client.get(f"/tiles/{restricted.slug}/12/2057/1368.mvt").status_code in (200, 204)
    reads = AuditEntry.objects.filter(action="dataset.read.tiles")
    assert reads.count() == 1
    assert reads.get().actor_id == personas.viewer_a.pk
    # Another reader gets an entry of their own; public data are not logged as reads.
    audit_record_read(actor=personas.platform_admin, action="dataset.read.tiles", target=restricted)
    assert reads.count() == 2


def test_public_tiles_are_not_logged_as_reads(client, districts):
    client.get("/tiles/districts/0/0/0.mvt")
    assert not AuditEntry.objects.filter(action__startswith="dataset.read").exists()
