"""Migration 0002 hides the values of addresses' queries in versions and loads recorded before
``address_shown``: run here on rows written as the code before it wrote them."""

import importlib

import pytest
from django.apps import apps

from infraplan.catalogue.publishing import version_fail, version_start
from infraplan.connectors.fetch import address_shown
from infraplan.connectors.models import IngestRun, RunState
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db

migration = importlib.import_module(
    "infraplan.connectors.migrations.0002_hide_address_query_values"
)
SIGNED = "https://data.example.gov.uk/sites.geojson?sv=2024&sig=Zm9vYmFy%2Bc2VjcmV0#part"


def test_the_rule_copied_into_the_migration_is_the_codes():
    for url in [SIGNED, "https://a.example/x", "https://a.example/x?", "https://a.example/?a&b=1"]:
        assert migration.text_hidden(url) == address_shown(url)


def test_old_versions_and_loads_keep_no_key(personas):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    signed = version_start(actor=None, dataset=dataset, source=f"WFS {SIGNED} feature type x")
    version_fail(
        actor=None, version=signed,
        report={"error": f"data.example.gov.uk answered HTTP 403 for {SIGNED}: expired",
                "rows_read": 0},
    )  # fmt: skip
    plain = version_start(actor=None, dataset=dataset, source="sites.csv")
    run = IngestRun.objects.create(
        dataset=dataset, connector_key="url", state=RunState.FAILED, version=signed,
        error=f"The server answered with a web page, not data: check the address ({SIGNED}).",
    )  # fmt: skip

    migration.hide(apps, None)

    shown = "https://data.example.gov.uk/sites.geojson?sv=…&sig=…"
    signed.refresh_from_db()
    assert signed.source == f"WFS {shown} feature type x"
    assert signed.report == {
        "error": f"data.example.gov.uk answered HTTP 403 for {shown}: expired",
        "rows_read": 0,
    }
    plain.refresh_from_db()
    assert plain.source == "sites.csv"
    run.refresh_from_db()
    assert run.error == (
        f"The server answered with a web page, not data: check the address ({shown})."
    )
