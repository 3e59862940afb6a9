"""A data manager sets each field's rules on the details page, beside its type: whether a value
is required, and the values it may hold (one a line, read as its type). Saving them is audited
and changes no stored feature; the next load reports each row that breaks them."""

import html
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.fields import dataset_field_type_change
from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.store import current_features
from infraplan.catalogue.tests.test_errors_described import described_by, element
from infraplan.core.testing.data import dataset_make
from infraplan.core.testing.pages import error_summary

pytestmark = pytest.mark.django_db

DETAILS = "/datasets/schemes/details/"
SCHEMA = [
    {"name": "ref", "title": "Reference", "type": "string"},
    {"name": "funding_status", "title": "Funding status", "type": "string"},
    {"name": "cost", "title": "Cost", "type": "number"},
]


def ingest(dataset: Dataset, path: Path):
    return ingest_run(
        actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
        mapping=IngestMapping(reference="ref"),
    )  # fmt: skip


def schemes_file(tmp_path: Path, statuses: dict[str, str], name: str = "schemes.csv") -> Path:
    path = tmp_path / name
    rows = "".join(
        f"{ref},{status},1000,615000,{157500 + i}\n"
        for i, (ref, status) in enumerate(statuses.items())
    )
    path.write_text("ref,funding_status,cost,Easting,Northing\n" + rows)
    return path


def rules_post(**rows: str) -> dict[str, str]:
    """The details page's fields form, each field as it is but for ``rows`` (its inputs)."""
    data = {"form": "field-types"}
    for index, entry in enumerate(SCHEMA):
        data[f"name-{index}"] = entry["name"]
        data[f"type-{index}"] = entry["type"]
    return {**data, **rows}


@pytest.fixture
def schemes(personas):
    return dataset_make(slug="schemes", owner=personas.organisation_a, field_schema=SCHEMA)


def test_the_page_shows_each_fields_rules(personas, client_as):
    dataset_make(
        slug="schemes", owner=personas.organisation_a,
        field_schema=[
            SCHEMA[0],
            {**SCHEMA[1], "required": True, "allowed": ["Funded", "Part funded, bid made"]},
            {**SCHEMA[2], "allowed": [100, 250.5]},
        ],
    )  # fmt: skip

    content = client_as(personas.data_manager_a).get(DETAILS).content.decode()

    required, _ = element(content, id="id_required-1")
    assert "checked" in required
    assert "checked" not in element(content, id="id_required-2")[0]
    assert '<span class="govuk-visually-hidden">funding_status needs a value</span>' in content
    assert 'id="id_allowed-1" name="allowed-1"' in content
    assert "\nFunded\nPart funded, bid made</textarea>" in content
    assert "\n100\n250.5</textarea>" in content
    assert described_by(element(content, id="id_allowed-2")[0]) == ["field-rules-hint"]
    assert "one value per line" in content


def test_saving_rules_updates_the_schema_and_the_audit_but_no_feature(
    schemes, personas, client_as, tmp_path
):
    ingest(schemes, schemes_file(tmp_path, {"S1": "Funded", "S2": "Funded-ish"}))
    outsider = client_as(personas.member_b).post(
        DETAILS, rules_post(**{"required-1": "1", "allowed-1": "Funded"})
    )
    assert outsider.status_code == 404

    response = client_as(personas.data_manager_a).post(
        DETAILS,
        rules_post(**{
            "required-1": "1", "allowed-1": " Funded \r\n\r\nUnfunded\r\nFunded",
            "allowed-2": "100\n250.50\n£1,000",
        }),
        follow=True,
    )  # fmt: skip

    assert response.redirect_chain[-1][0] == DETAILS + "#fields"
    assert (
        "funding_status needs a value, one of Funded, Unfunded: later loads report each row "
        "that does not." in response.content.decode()
    )
    schemes.refresh_from_db()
    assert schemes.field_schema == [
        SCHEMA[0],
        {**SCHEMA[1], "required": True, "allowed": ["Funded", "Unfunded"]},
        {**SCHEMA[2], "allowed": [100, 250.5, 1000]},
    ]
    entry = AuditEntry.objects.filter(action="dataset.update", target_id=str(schemes.pk)).latest(
        "pk"
    )
    assert entry.before["field_schema"] == SCHEMA
    assert entry.after["field_schema"] == schemes.field_schema
    statuses = dict(
        current_features(schemes).values_list("reference", "properties__funding_status")
    )
    assert statuses == {"S1": "Funded", "S2": "Funded-ish"}  # stored features are unchanged


def test_allowed_values_are_read_as_the_type_the_field_changes_to(schemes, personas, client_as):
    client_as(personas.data_manager_a).post(
        DETAILS, rules_post(**{"type-1": "integer", "allowed-1": "1\n2"})
    )

    schemes.refresh_from_db()
    assert schemes.field_schema[1] == {**SCHEMA[1], "type": "integer", "allowed": [1, 2]}


def test_a_change_of_type_alone_reads_the_allowed_values_as_the_new_type(personas):
    dataset = dataset_make(
        slug="schemes", owner=personas.organisation_a,
        field_schema=[{"name": "phase", "type": "integer", "allowed": [1, 2]},
                      {"name": "status", "type": "string", "allowed": ["Open"]}],
    )  # fmt: skip
    manager = personas.data_manager_a

    dataset_field_type_change(actor=manager, dataset=dataset, name="phase", kind="string")
    with pytest.raises(ValidationError, match="'Open' is not a whole number: the allowed values"):
        dataset_field_type_change(actor=manager, dataset=dataset, name="status", kind="integer")

    dataset.refresh_from_db()
    assert dataset.field_schema == [
        {"name": "phase", "type": "string", "allowed": ["1", "2"]},
        {"name": "status", "type": "string", "allowed": ["Open"]},
    ]


def test_an_allowed_value_not_of_the_fields_type_is_an_error_of_its_input(
    schemes, personas, client_as
):
    response = client_as(personas.data_manager_a).post(
        DETAILS,
        rules_post(**{"allowed-1": "Funded", "allowed-2": "100\nabout 250", "type-0": "integer"}),
    )

    assert response.status_code == 200
    message = "'about 250' is not a number: the allowed values of cost must be numbers"
    assert error_summary(response) == [f"Allowed values of cost: {message}"]
    content = response.content.decode()
    assert '<a href="#id_allowed-2">' in content
    textarea, _ = element(content, id="id_allowed-2")
    assert described_by(textarea) == ["field-rules-hint", "id_allowed-2-error"]
    assert (
        f'id="id_allowed-2-error"><span class="govuk-visually-hidden">Error:</span> {message}'
        in html.unescape(content)
    )
    # Nothing changed: neither the rules nor the type sent with them.
    assert Dataset.objects.get(pk=schemes.pk).field_schema == SCHEMA


def test_the_next_load_reports_rows_that_break_the_rules(schemes, personas, client_as, tmp_path):
    """The exploratory tester's "Funded-ish", and a blank status, after the data manager
    limited funding_status on the page."""
    statuses = {"S1": "Funded", "S2": "Funded-ish", "S3": ""}
    ingest(schemes, schemes_file(tmp_path, statuses))  # no rules yet: all are taken
    client_as(personas.data_manager_a).post(
        DETAILS, rules_post(**{"required-1": "1", "allowed-1": "Funded\nUnfunded"})
    )
    schemes.refresh_from_db()  # as a load reads it

    with pytest.raises(IngestRejected) as rejected:
        ingest(schemes, schemes_file(tmp_path, statuses, "again.csv"))

    assert rejected.value.version.report["problems"] == [
        {"row": 2, "field": "funding_status", "value": "Funded-ish",
         "problem": "is not one of: Funded, Unfunded"},
        {"row": 3, "field": "funding_status", "value": "", "problem": "is required"},
    ]  # fmt: skip
