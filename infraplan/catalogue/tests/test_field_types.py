"""A dataset's field types: a source's cast decides its first schema's, money is read exactly,
a date is its day in the platform's time zone and never loses a time, columns the schema lacks
are said, and a data manager changes a field's type or adds a field on the details page, checked
against the current features."""

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.fields import dataset_field_type_change
from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.loading import date_and_time_of_day, money_amount, typed_value
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make
from infraplan.core.testing.pages import error_summary

pytestmark = pytest.mark.django_db

DETAILS = "/datasets/sites/details/"


def ingest(dataset: Dataset, path: Path, **mapping):
    return ingest_run(
        actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
        mapping=IngestMapping(reference="ref", **mapping),
    )  # fmt: skip


def write(tmp_path: Path, text: str, name: str = "sites.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def geojson(tmp_path: Path, costs: list[float], name: str = "schemes.geojson") -> Path:
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0.87, 51.14 + i / 100]},
         "properties": {"ref": f"P{i}", "COST_GBP": cost}}
        for i, cost in enumerate(costs)
    ]  # fmt: skip
    return write(tmp_path, json.dumps({"type": "FeatureCollection", "features": features}), name)


def stored(dataset: Dataset, name: str) -> dict[str, object]:
    return dict(
        current_features(dataset).values_list("reference", f"properties__{name}").order_by()
    )


def stored_json(dataset: Dataset, name: str) -> dict[str, str]:
    """Each current feature's value of ``name`` as the database writes its JSON."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reference, (properties -> %s)::text FROM catalogue_feature "
            "WHERE dataset_id = %s AND valid_to IS NULL",
            [name, dataset.pk],
        )
        return dict(cursor.fetchall())


@pytest.fixture
def new_sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


# A source's cast decides the first schema's type


def test_a_column_read_as_a_number_is_a_number_field_whatever_its_first_values(new_sites, tmp_path):
    """The first load typed cost as whole numbers (4500000.0 is whole), and the next, with
    pence, was refused."""
    mapping = {"rename": {"COST_GBP": "cost"}, "casts": {"cost": "number"}}
    version = ingest(new_sites, geojson(tmp_path, [4500000.0, 1200000.0]), **mapping)

    new_sites.refresh_from_db()
    assert {entry["name"]: entry["type"] for entry in new_sites.field_schema} == {
        "ref": "string", "cost": "number"
    }  # fmt: skip
    assert any("as the column mapping reads cost" in note for note in version.report["notes"])
    ingest(new_sites, geojson(tmp_path, [4500000.0, 1350000.50], "again.geojson"), **mapping)
    assert stored_json(new_sites, "cost")["P1"] == "1350000.5"


def test_a_column_read_as_text_stays_text_though_its_values_are_numbers(new_sites, tmp_path):
    ingest(
        new_sites, write(tmp_path, "ref,code,Easting,Northing\nS1,120,615000,157500\n"),
        casts={"code": "string"},
    )  # fmt: skip

    new_sites.refresh_from_db()
    assert {entry["name"]: entry["type"] for entry in new_sites.field_schema}["code"] == "string"
    assert stored(new_sites, "code") == {"S1": "120"}


# Money


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("£2,500,000", 2500000.0),
        (" £1,350,000.50 ", 1350000.5),
        ("$3", 3.0),
        ("€2,000.25", 2000.25),
        ("-£1,200", -1200.0),
        ("(£1,200)", -1200.0),
        ("1,200-", -1200.0),
        ("1,000,000", 1000000.0),
    ],
)
def test_amounts_as_councils_write_them_are_numbers(text, number):
    assert typed_value(text, "number") == number
    assert money_amount(text) == Decimal(str(number))


def test_whole_amounts_are_whole_numbers_and_pence_are_not():
    assert typed_value("£2,500,000", "integer") == 2500000
    assert typed_value("£2,500,000.00", "integer") == 2500000
    with pytest.raises(ValueError, match="is not a whole number"):
        typed_value("£2,500,000.50", "integer")
    # What could be read two ways, or is no amount, is still refused.
    for text in ("2,5", "1,00", "about 40", "£", "((5))", "-(5)", "£1,2345"):
        with pytest.raises(ValueError, match=r"is not a number"):
            typed_value(text, "number")


@pytest.mark.parametrize("kind", ["integer", "number", "boolean", "date"])
def test_a_spreadsheets_not_known_is_refused_saying_to_leave_the_cell_empty(kind):
    """A typed field's unknown is an empty cell: "N/A", "-" or "TBC" where a number or date
    belongs is refused (never read as 0), and the message says what to write instead."""
    for text in ("N/A", "-", "TBC", " unknown "):
        with pytest.raises(ValueError, match=r"leave the cell empty where the value is not known$"):
            typed_value(text, kind)
    with pytest.raises(ValueError) as other:
        typed_value("about 40", kind)
    assert "leave the cell empty" not in str(other.value)
    assert typed_value("", kind) is None


def test_a_column_of_amounts_becomes_a_number_field_of_their_exact_values(new_sites, tmp_path):
    text = (
        "ref,cost,code,Easting,Northing\n"
        'S1,"£2,500,000",01227,615000,157500\n'
        'S2,"£1,350,000.50",01304,615100,157600\n'
        'S3,"(£1,200)",00001,615200,157700\n'
    )
    ingest(new_sites, write(tmp_path, text))

    new_sites.refresh_from_db()
    types = {entry["name"]: entry["type"] for entry in new_sites.field_schema}
    assert (types["cost"], types["code"]) == ("number", "string")  # a code keeps its zeros
    assert stored_json(new_sites, "cost") == {"S1": "2500000", "S2": "1350000.5", "S3": "-1200"}
    # The next load reads the same amounts as the same numbers: nothing changes.
    again = ingest(new_sites, write(tmp_path, text.replace("01227", "01227"), "again.csv"))
    assert (again.report["added"], again.report["changed"]) == (0, 0)


def test_a_number_field_takes_amounts_from_later_loads(personas, tmp_path):
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "cost", "type": "number"}],
    )  # fmt: skip

    ingest(
        dataset,
        write(tmp_path, 'ref,cost,Easting,Northing\nS1,"£1,350,000.50",615000,157500\n'
                        'S2,300000,615100,157600\nS3,"£2,500,000",615200,157700\n'),
    )  # fmt: skip

    # Whole amounts as a first load's whole-number field and JSON write them: not 300000.0.
    assert stored_json(dataset, "cost") == {"S1": "1350000.5", "S2": "300000", "S3": "2500000"}


# Columns the schema does not have


def test_a_column_that_is_no_field_is_said_in_the_versions_notes(personas, tmp_path):
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "name", "type": "string"}],
    )  # fmt: skip

    version = ingest(
        dataset,
        write(tmp_path, "ref,name,Status,Easting,Northing\nS1,Mill Lane,Allocated,615000,157500\n"),
    )

    assert (
        "The column Status is not a field of this dataset: kept with each feature as the source "
        "gives it, not checked against a field's type, and in downloads and the differences "
        "between versions, but not among its fields. A data manager can add it as a field on "
        "the dataset's details page."
    ) in version.report["notes"]


# Changing a field's type


@pytest.fixture
def homes_text(personas, tmp_path):
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "homes", "title": "Homes", "type": "string"}],
    )  # fmt: skip
    rows = "S1,40,615000,157500\nS2,120,615100,157500\nS3,,615200,157500\n"
    ingest(dataset, write(tmp_path, "ref,homes,Easting,Northing\n" + rows))
    return dataset


def test_a_change_of_type_converts_the_current_values_and_is_audited(
    homes_text, personas, tmp_path
):
    change = dataset_field_type_change(
        actor=personas.data_manager_a, dataset=homes_text, name="homes", kind="integer"
    )

    assert (change.before, change.after, change.converted) == ("string", "integer", 3)
    assert stored_json(homes_text, "homes") == {"S1": "40", "S2": "120", "S3": "null"}
    homes_text.refresh_from_db()
    assert homes_text.field_schema == [{"name": "homes", "title": "Homes", "type": "integer"}]
    entry = AuditEntry.objects.filter(action="dataset.update", target_id=str(homes_text.pk)).latest(
        "pk"
    )
    assert (entry.before["field_schema"][0]["type"], entry.after["field_schema"][0]["type"]) == (
        "string", "integer"
    )  # fmt: skip
    # The next load types by it: whole numbers are read as such and unchanged, text refused.
    again = ingest(
        homes_text, write(tmp_path, "ref,homes,Easting,Northing\nS1,40,615000,157500\n"
                          "S2,120,615100,157500\nS3,,615200,157500\n", "again.csv"),
    )  # fmt: skip
    assert (again.report["changed"], again.report["added"]) == (0, 0)
    with pytest.raises(IngestRejected) as rejected:
        ingest(
            homes_text,
            write(
                tmp_path,
                "ref,homes,Easting,Northing\nS1,about 40,615000,157500\n"
                "S2,120,615100,157500\nS3,,615200,157500\n",
                "x.csv",
            ),
        )
    assert rejected.value.version.report["problems"][0]["problem"] == (
        "'about 40' is not a whole number"
    )


def test_a_change_is_refused_naming_the_features_whose_values_do_not_convert(homes_text, personas):
    Dataset.objects.filter(pk=homes_text.pk).update(
        field_schema=[{"name": "homes", "title": "Homes", "type": "string"}]
    )
    feature = current_features(homes_text).get(reference="S2")
    feature.properties = {**feature.properties, "homes": "about 40"}
    feature.save(update_fields=["properties"])

    with pytest.raises(ValidationError) as refused:
        dataset_field_type_change(
            actor=personas.data_manager_a, dataset=homes_text, name="homes", kind="number"
        )

    assert refused.value.messages == [
        "1 feature has a value that is not numbers: S2 ('about 40'). Correct them in a load "
        "first, or keep homes as it is"
    ]
    homes_text.refresh_from_db()
    assert homes_text.field_schema[0]["type"] == "string"
    assert stored_json(homes_text, "homes")["S1"] == '"40"'  # nothing converted


def test_a_field_a_graduated_style_draws_stays_a_number(homes_text, personas):
    dataset_field_type_change(
        actor=personas.data_manager_a, dataset=homes_text, name="homes", kind="integer"
    )
    style = {"kind": "graduated", "field": "homes", "classes": [
        {"minimum": 0, "colour": "#1d70b8", "label": "Few"},
        {"minimum": 100, "colour": "#d4351c", "label": "Many"},
    ]}  # fmt: skip
    Dataset.objects.filter(pk=homes_text.pk).update(style=style)

    with pytest.raises(ValidationError, match="graduated style"):
        dataset_field_type_change(
            actor=personas.data_manager_a, dataset=homes_text, name="homes", kind="string"
        )
    dataset_field_type_change(  # a number is still a number
        actor=personas.data_manager_a, dataset=homes_text, name="homes", kind="number"
    )
    assert Dataset.objects.get(pk=homes_text.pk).field_schema[0]["type"] == "number"


def test_a_categorised_style_whose_values_would_not_match_refuses_the_change(personas, tmp_path):
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "open", "type": "string"}],
        style={"kind": "categorised", "field": "open", "categories": [
            {"value": "Yes", "colour": "#1d70b8", "label": "Open"}]},
    )  # fmt: skip
    ingest(dataset, write(tmp_path, "ref,open,Easting,Northing\nS1,Yes,615000,157500\n"))

    with pytest.raises(ValidationError, match="its categories Yes would match none"):
        dataset_field_type_change(
            actor=personas.data_manager_a, dataset=dataset, name="open", kind="boolean"
        )


# The details page


def test_a_data_manager_changes_a_type_on_the_details_page(homes_text, personas, client_as):
    for user in (personas.contributor_a, personas.viewer_a, personas.member_b):
        response = client_as(user).post(
            DETAILS, {"form": "field-types", "name-0": "homes", "type-0": "integer"}
        )
        assert response.status_code == 404
    assert Dataset.objects.get(pk=homes_text.pk).field_schema[0]["type"] == "string"
    client = client_as(personas.data_manager_a)
    page = client.get(DETAILS).content.decode()
    assert '<label class="govuk-label govuk-visually-hidden" for="id_type-0">Type of homes' in page

    response = client.post(
        DETAILS, {"form": "field-types", "name-0": "homes", "type-0": "integer"}, follow=True
    )

    assert response.redirect_chain[-1][0] == DETAILS + "#fields"
    assert "homes is now whole number, not text: 3 current features" in response.content.decode()
    assert stored_json(homes_text, "homes")["S1"] == "40"


def test_the_page_names_the_features_that_do_not_convert(homes_text, personas, client_as):
    feature = current_features(homes_text).get(reference="S2")
    feature.properties = {**feature.properties, "homes": "about 40"}
    feature.save(update_fields=["properties"])

    response = client_as(personas.data_manager_a).post(
        DETAILS, {"form": "field-types", "name-0": "homes", "type-0": "number"}
    )

    assert response.status_code == 200
    assert error_summary(response) == [
        "Type of homes: 1 feature has a value that is not numbers: S2 ('about 40'). Correct "
        "them in a load first, or keep homes as it is"
    ]
    assert Dataset.objects.get(pk=homes_text.pk).field_schema[0]["type"] == "string"


def test_a_data_manager_adds_a_column_the_features_hold_as_a_field(personas, client_as, tmp_path):
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "name", "type": "string"}],
    )  # fmt: skip
    ingest(dataset, write(tmp_path, "ref,name,units,Easting,Northing\nS1,Mill,12,615000,157500\n"))

    client_as(personas.data_manager_a).post(
        DETAILS,
        {
            "form": "field-add",
            "field-name": "units",
            "field-title": "Units",
            "field-type": "integer",
        },
    )

    dataset.refresh_from_db()
    assert dataset.field_schema[-1] == {"name": "units", "title": "Units", "type": "integer"}
    assert stored_json(dataset, "units") == {"S1": "12"}


# Dates


def test_a_moment_at_midnight_in_the_platforms_time_zone_is_that_day():
    """ArcGIS stores a day picked in the UK as its midnight in London, in UTC: 1 July in summer
    time is 2024-06-30T23:00:00Z. Its day is London's, by the time zone's own rules (not a
    fixed hour): British Standard Time kept clocks an hour ahead all year from 1968 to 1971."""
    days = {
        "2024-06-30T23:00:00Z": "2024-07-01",
        "2024-06-30 23:00:00.000+00:00": "2024-07-01",
        "2024-10-26T23:00:00Z": "2024-10-27",  # the day clocks go back, at 02:00
        "2024-01-01T00:00:00Z": "2024-01-01",
        "1969-12-30T23:00:00Z": "1969-12-31",
        "2024-07-01T01:00:00+02:00": "2024-07-01",
        # At midnight as written, in any zone: the day its writer meant (a day published to
        # ArcGIS from a file without a time zone is a UTC midnight).
        "2024-07-01T00:00:00Z": "2024-07-01",
        "2024-01-01T00:00:00+01:00": "2024-01-01",
    }
    assert {text: typed_value(text, "date") for text in days} == days
    with override_settings(TIME_ZONE="Europe/Paris"):  # the platform's, not London's as such
        assert typed_value("2024-06-30T22:00:00Z", "date") == "2024-07-01"


def test_a_date_with_a_time_of_day_is_its_day_in_the_platforms_time_zone():
    """A date field holds the day: a moment's day where the platform is (for a moment in UTC,
    taking the day as written could name the day before), a time without a zone's as written;
    whether there was a time of day is told, for a first load to keep such a column text."""
    days = {
        "2023-12-31T23:00:00Z": ("2023-12-31", True),
        "2024-07-01T14:30:00.250Z": ("2024-07-01", True),
        "2024-07-01T23:30:00Z": ("2024-07-02", True),
        "2024-07-01T14:30:00": ("2024-07-01", True),
        "2024-07-01T00:00:00": ("2024-07-01", False),
        "2024-06-30T23:00:00Z": ("2024-07-01", False),
    }
    assert {text: date_and_time_of_day(text) for text in days} == days
    assert {text: typed_value(text, "date") for text in days} == {
        text: day for text, (day, _) in days.items()
    }
    with pytest.raises(ValueError, match="is no such date: February 2024 has 29 days"):
        typed_value("2024-02-30T23:00:00Z", "date")
    with pytest.raises(ValueError, match="falls outside the years 1 to 9999"):
        typed_value("9999-12-31T23:00:00-01:00", "date")


def test_a_date_followed_by_what_is_no_time_is_no_date():
    """A date field keeps the day alone, so what follows it must be a time (perhaps with its
    zone) that the load can account for: other text, or a time no clock shows, is a problem of
    its row rather than a day that silently drops it. An hour alone is a time (ISO 8601)."""
    assert date_and_time_of_day("2024-06-20T14") == ("2024-06-20", True)
    assert date_and_time_of_day("2024-06-20T00") == ("2024-06-20", False)
    assert date_and_time_of_day("2024-06-30T23:00:00 UTC") == ("2024-07-01", False)
    assert date_and_time_of_day("2024-07-01T14:30 GMT") == ("2024-07-01", True)
    refused = {
        "2024-06-20 (approx)": "'2024-06-20 (approx)' is not a date (YYYY-MM-DD, DD/MM/YYYY or "
        "YYYYMMDD): ' (approx)' follows the day",
        "20/06/2016 or later": "' or later' follows the day",
        "2024-06-20T": "'T' follows the day",
        "2024-06-20T14:30:00 BST": "' BST' follows the time, which is no time zone",
        "2024-06-20T25:00": "'2024-06-20T25:00' is no such date and time",
        "2024-06-20T14:75": "is no such date and time",
    }
    for text, message in refused.items():
        with pytest.raises(ValueError, match=re.escape(message)):
            typed_value(text, "date")


def test_a_date_written_day_first_with_a_midnight_time_is_that_day():
    """A spreadsheet's CSV export writes a date cell as 20/06/2016 00:00 (or 00:00:00)."""
    assert typed_value("20/06/2016 00:00", "date") == "2016-06-20"
    assert typed_value("20/06/2016 00:00:00", "date") == "2016-06-20"
    assert date_and_time_of_day("20/06/2016 14:30") == ("2016-06-20", True)


def test_a_date_field_takes_days_picked_in_the_uk_as_those_days(personas, tmp_path):
    """A later load's summer day stored in UTC is its local day, not the day before; a moment
    at another time of day is its day in the platform's time zone, and the report says that
    the times were not kept."""
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "decided", "type": "date"}],
    )  # fmt: skip
    ingest(dataset, write(tmp_path, "ref,decided,Easting,Northing\nS2,2024-01-01,615100,157600\n"))

    version = ingest(
        dataset,
        write(tmp_path, "ref,decided,Easting,Northing\n"
                        "S1,2024-06-30T23:00:00Z,615000,157500\n"
                        "S2,2024-07-01T23:30:00Z,615100,157600\n"
                        "S3,2024-07-01 14:30,615200,157700\n", "later.csv"),
    )  # fmt: skip

    assert stored(dataset, "decided") == {
        "S1": "2024-07-01",
        "S2": "2024-07-02",
        "S3": "2024-07-01",
    }
    assert version.report["problems"] == []
    # The times dropped are said: S1 is a whole day where the platform is, S2 and S3 are not.
    assert (
        "2 values of decided held a time of day, which a date field does not keep: each is kept "
        "as its day (one with a time zone, its day in the platform's, Europe/London)."
    ) in version.report["notes"]


def test_a_change_to_a_date_field_takes_each_moment_as_its_local_day(personas, tmp_path):
    """Text of days picked in the UK and stored in UTC becomes their days, and a moment at
    another time of day its day there."""
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "decided", "title": "Decided", "type": "string"}],
    )  # fmt: skip
    rows = "S1,2024-06-30T23:00:00Z,615000,157500\nS2,2024-01-01T00:00:00Z,615100,157500\n"
    timed = "S3,2024-07-01T14:30:00Z,615200,157500\n"
    ingest(dataset, write(tmp_path, "ref,decided,Easting,Northing\n" + rows + timed))

    dataset_field_type_change(
        actor=personas.data_manager_a, dataset=dataset, name="decided", kind="date"
    )

    assert stored(dataset, "decided") == {
        "S1": "2024-07-01",
        "S2": "2024-01-01",
        "S3": "2024-07-01",
    }
