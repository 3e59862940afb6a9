"""The audit log never keeps a key carried in a source's address. It is append-only, so a key
written to it could never leave; only a keyed digest of the whole address is kept, so that a key
changed still shows as a change."""

import json

import pytest

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.ingest import IngestMapping
from infraplan.connectors.fetch import config_recorded
from infraplan.connectors.load_requests import ingest_request
from infraplan.connectors.sources import source_delete, source_save
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db

LAYER = "https://services.arcgis.example.org/Kent/FeatureServer/0/query"
REFERENCE = IngestMapping(reference="ref")


def test_addresses_are_recorded_without_their_query_values(personas):
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    manager = personas.data_manager_a
    source = source_save(
        actor=manager, dataset=sites, connector_key="url", mapping=REFERENCE,
        config={"url": f"{LAYER}?where=1%3D1&token=FIRST-SECRET"},
    )  # fmt: skip
    source = source_save(
        actor=manager, dataset=sites, connector_key="url", mapping=REFERENCE, source=source,
        config={"url": f"{LAYER}?where=1%3D1&token=ROTATED-SECRET"},
    )  # fmt: skip
    ingest_request(
        actor=manager, dataset=sites, connector_key="url", mapping=REFERENCE,
        config={"url": f"{LAYER}?token=ONE-OFF-SECRET"},
    )  # fmt: skip
    source_delete(actor=manager, source=source)

    entries = {
        entry.action: entry
        for entry in AuditEntry.objects.filter(
            action__in=["source.create", "source.update", "ingest.request", "source.delete"]
        )
    }
    assert len(entries) == 4
    logged = json.dumps([[entry.before, entry.after] for entry in entries.values()])
    assert "SECRET" not in logged
    created = entries["source.create"].after["config"]["url"]
    assert created.startswith(f"{LAYER}?where=…&token=… (whole address ")
    # Only the key changed: the update still shows a change.
    update = entries["source.update"]
    assert update.before["config"]["url"] == created
    assert update.after["config"]["url"] != created
    assert entries["ingest.request"].after["config"]["url"].startswith(f"{LAYER}?token=… (")
    assert entries["source.delete"].before["config"] == update.after["config"]


def test_settings_other_than_addresses_are_kept_as_they_are():
    config = {"url": LAYER, "layer": "sites", "page_size": 500, "where": "a=1"}
    assert config_recorded(config) == config
