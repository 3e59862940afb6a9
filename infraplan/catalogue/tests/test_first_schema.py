"""A new dataset's fields come from its first load, typed by every value it holds."""

import json
from pathlib import Path

import pytest
from django.db import connection

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points

pytestmark = pytest.mark.django_db

HEADER = "ref,name,homes,density,affordable,permitted,phone,notes,Easting,Northing\n"
ROWS = (
    "S1,Mill Lane,120,35.5,TRUE,20/06/2016,01227 862000,12,615000,157500\n"
    "S2,Station Road,,40,No,2017-01-31,01304 821199,twelve,615100,157600\n"
)


def ingest(dataset, path: Path, **mapping):
    return ingest_run(
        actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
        mapping=IngestMapping(reference="ref", **mapping),
    )  # fmt: skip


def csv(tmp_path: Path, text: str, name: str = "sites.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def geojson(tmp_path: Path, properties: list[dict]) -> Path:
    """A GeoJSON file on the grid of points 1 m apart, one for each item of ``properties``."""
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [615000 + i, 157500]},
         "properties": values}
        for i, values in enumerate(properties)
    ]  # fmt: skip
    grid = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}}
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features, "crs": grid}))
    return path


@pytest.fixture
def new_sites(personas):
    """A dataset as the page that adds one leaves it: no fields, no version."""
    return dataset_make(slug="new-sites", owner=personas.organisation_a)


def test_the_first_load_gives_the_dataset_its_fields_in_the_source_order(new_sites, tmp_path):
    version = ingest(new_sites, csv(tmp_path, HEADER + ROWS))

    new_sites.refresh_from_db()
    assert [(entry["name"], entry["type"]) for entry in new_sites.field_schema] == [
        ("ref", "string"),
        ("name", "string"),
        ("homes", "integer"),
        ("density", "number"),
        ("affordable", "boolean"),
        ("permitted", "date"),
        ("phone", "string"),
        ("notes", "string"),
    ]  # fmt: skip  (Easting and Northing are the geometry)
    assert new_sites.field_schema[1]["title"] == "Name"
    assert new_sites.label_field == "name"  # the map labels and search its features by it
    assert any(
        note.startswith("The dataset had no fields of its own")
        and "homes (whole numbers)" in note
        and "permitted (dates)" in note
        for note in version.report["notes"]
    )
    assert AuditEntry.objects.filter(
        action="dataset.update", target_id=str(new_sites.pk), after__field_schema__isnull=False
    ).exists()


def test_values_held_as_text_are_stored_as_their_fields_type(new_sites, tmp_path):
    ingest(new_sites, csv(tmp_path, HEADER + ROWS))

    stored = dict(current_features(new_sites).values_list("reference", "properties"))
    typed = ("homes", "density", "affordable", "permitted")
    assert {name: stored["S1"][name] for name in typed} == {
        "homes": 120, "density": 35.5, "affordable": True, "permitted": "2016-06-20"
    }  # fmt: skip
    # Blank is unknown, never zero; a code's leading zero is kept; a column of mixed values
    # keeps each as the source wrote it.
    assert stored["S2"]["homes"] is None
    assert stored["S2"]["affordable"] is False  # "No"
    assert stored["S2"]["permitted"] == "2017-01-31"
    assert stored["S1"]["phone"] == "01227 862000"
    assert (stored["S1"]["notes"], stored["S2"]["notes"]) == ("12", "twelve")


def test_a_day_the_calendar_lacks_leaves_the_column_text(new_sites, tmp_path):
    ingest(
        new_sites,
        csv(tmp_path, "ref,decided,Easting,Northing\nS1,20/06/2016,615000,157500\n"
                      "S2,31/06/2016,615100,157600\n"),
    )  # fmt: skip

    new_sites.refresh_from_db()
    assert {entry["name"]: entry["type"] for entry in new_sites.field_schema}["decided"] == "string"
    stored = dict(current_features(new_sites).values_list("reference", "properties__decided"))
    assert stored == {"S1": "20/06/2016", "S2": "31/06/2016"}


def test_later_loads_are_checked_against_the_fields_the_first_gave(new_sites, tmp_path):
    ingest(new_sites, csv(tmp_path, HEADER + ROWS))
    new_sites.refresh_from_db()

    with pytest.raises(IngestRejected) as rejected:
        ingest(
            new_sites,
            csv(tmp_path, HEADER + "S1,Mill Lane,many,35.5,TRUE,2016-06-20,0,x,615000,157500\n",
                "again.csv"),
        )  # fmt: skip

    assert [
        (problem["row"], problem["field"], problem["problem"])
        for problem in rejected.value.version.report["problems"]
    ] == [(1, "homes", "'many' is not a whole number")]


def test_a_rejected_first_load_leaves_the_dataset_without_fields(new_sites, tmp_path):
    with pytest.raises(IngestRejected):
        ingest(new_sites, csv(tmp_path, "ref,homes,Easting,Northing\nS1,4,615000,157500\n,5,1,1\n"))

    assert Dataset.objects.get(pk=new_sites.pk).field_schema == []


def test_a_dataset_already_published_without_fields_keeps_none(new_sites, tmp_path):
    version_publish_points(dataset=new_sites, points=ASHFORD_POINTS)

    ingest(new_sites, csv(tmp_path, HEADER + ROWS))

    assert Dataset.objects.get(pk=new_sites.pk).field_schema == []
    homes = dict(current_features(new_sites).values_list("reference", "properties__homes"))
    assert homes == {"S1": "120", "S2": ""}  # as the source has them


def test_a_field_ending_in_name_labels_the_features_unless_a_label_was_chosen(
    new_sites, personas, tmp_path
):
    chosen = dataset_make(slug="chosen", owner=personas.organisation_a, label_field="Site Ref")
    path = csv(tmp_path, "Site Ref,Site Name,Easting,Northing\nS1,Mill Lane,615000,157500\n")
    for dataset in (new_sites, chosen):
        ingest_run(
            actor=None,
            dataset=dataset,
            connector_key="upload",
            config={"path": str(path)},
            mapping=IngestMapping(reference="Site Ref"),
        )

    assert Dataset.objects.get(pk=new_sites.pk).label_field == "Site Name"
    assert Dataset.objects.get(pk=chosen.pk).label_field == "Site Ref"


def test_dates_written_at_midnight_are_days_and_times_of_day_stay_text(new_sites, tmp_path):
    """A date-time at midnight (as the ArcGIS connector and a GeoPackage write one) is that day,
    in whatever zone it is written; a column with real times of day keeps them, as text, and
    the report says why."""
    ingest(
        new_sites,
        csv(tmp_path, "ref,decided,edited,Easting,Northing\n"
                      "S1,2024-06-20T00:00:00Z,2024-06-19T23:00:00Z,615000,157500\n"
                      "S2,2024-01-01 00:00:00+01:00,2024-01-01T14:30:00.250Z,615100,157600\n"
                      "S3,2016-06-20,,615200,157700\n"),
    )  # fmt: skip

    new_sites.refresh_from_db()
    types = {entry["name"]: entry["type"] for entry in new_sites.field_schema}
    assert (types["decided"], types["edited"]) == ("date", "string")
    stored = {
        feature.reference: (feature.properties["decided"], feature.properties["edited"])
        for feature in current_features(new_sites)
    }
    assert stored == {
        "S1": ("2024-06-20", "2024-06-19T23:00:00Z"),
        "S2": ("2024-01-01", "2024-01-01T14:30:00.250Z"),
        "S3": ("2016-06-20", ""),
    }
    [note] = [n for n in new_sites.versions.get().report["notes"] if "had no fields" in n]
    assert "decided (dates), edited (text)" in note
    assert "edited holds times of day, which a date field cannot: it is kept as text" in note


def test_days_picked_in_the_uk_and_stored_in_utc_make_a_date_field_of_their_local_days(
    new_sites, tmp_path
):
    """ArcGIS stores a day picked in the UK as its midnight in London, in UTC: 1 July in summer
    time is 2024-06-30T23:00:00Z, a date field's 1 July. A column with a time of day (23:00 in
    winter is one) stays text, and the report says why."""
    ingest(
        new_sites,
        csv(tmp_path, "ref,decided,checked,Easting,Northing\n"
                      "S1,2024-06-30T23:00:00Z,2024-06-30T23:00:00Z,615000,157500\n"
                      "S2,2024-01-01T00:00:00Z,2023-12-31T23:00:00Z,615100,157600\n"
                      "S3,2024-10-26T23:00:00Z,,615200,157700\n"),
    )  # fmt: skip

    new_sites.refresh_from_db()
    types = {entry["name"]: entry["type"] for entry in new_sites.field_schema}
    assert (types["decided"], types["checked"]) == ("date", "string")
    stored = {
        feature.reference: (feature.properties["decided"], feature.properties["checked"])
        for feature in current_features(new_sites)
    }
    assert stored == {
        "S1": ("2024-07-01", "2024-06-30T23:00:00Z"),
        "S2": ("2024-01-01", "2023-12-31T23:00:00Z"),
        "S3": ("2024-10-27", ""),  # the day clocks go back
    }
    [note] = [n for n in new_sites.versions.get().report["notes"] if "had no fields" in n]
    assert "decided (dates), checked (text)" in note
    assert "checked holds times of day, which a date field cannot: it is kept as text" in note


def test_an_hour_alone_is_a_time_of_day_and_a_day_with_other_text_stays_text(new_sites, tmp_path):
    """An hour alone (ISO 8601's 2024-06-20T14) is a time of day, so its column stays text with
    the report's reason; midnight in UTC written as a word is that day; a day followed by other
    words is not a date, so nothing its writer added is dropped."""
    ingest(
        new_sites,
        csv(tmp_path, "ref,surveyed,decided,due,Easting,Northing\n"
                      "S1,2024-06-20T14,2024-06-20T00:00 UTC,2025-01-01 (approx),615000,157500\n"
                      "S2,2024-06-21T09,2024-01-01 00:00:00 GMT,2025-03-31,615100,157600\n"),
    )  # fmt: skip

    new_sites.refresh_from_db()
    types = {entry["name"]: entry["type"] for entry in new_sites.field_schema}
    assert (types["surveyed"], types["decided"], types["due"]) == ("string", "date", "string")
    stored = {
        feature.reference: tuple(feature.properties[name] for name in ("surveyed", "due"))
        for feature in current_features(new_sites)
    }
    assert stored == {
        "S1": ("2024-06-20T14", "2025-01-01 (approx)"),
        "S2": ("2024-06-21T09", "2025-03-31"),
    }
    [note] = [n for n in new_sites.versions.get().report["notes"] if "had no fields" in n]
    assert "surveyed holds times of day, which a date field cannot: it is kept as text" in note


def test_dates_written_day_first_with_a_midnight_time_make_a_date_field(new_sites, tmp_path):
    """A spreadsheet's CSV export writes a date cell as 20/06/2016 00:00 (or 00:00:00)."""
    ingest(
        new_sites,
        csv(tmp_path, "ref,received,Easting,Northing\n"
                      "S1,20/06/2016 00:00,615000,157500\n"
                      "S2,21/06/2016 00:00:00,615100,157600\n"
                      "S3,22/06/2016,615200,157700\n"),
    )  # fmt: skip

    new_sites.refresh_from_db()
    assert new_sites.field_schema[1] == {"name": "received", "title": "Received", "type": "date"}
    assert {f.reference: f.properties["received"] for f in current_features(new_sites)} == {
        "S1": "2016-06-20", "S2": "2016-06-21", "S3": "2016-06-22",
    }  # fmt: skip


def test_numbers_a_source_writes_with_a_fraction_are_stored_as_a_later_load_types_them(
    new_sites, tmp_path
):
    """GDAL reads a GeoJSON column of 4000000.0 and 2.5 as reals: the first load stores
    4000000, as every later load types a whole number, so downloads and pages do not show
    4000000.0 beside another load's 1500000."""
    rows = [("S1", 4000000.0, 120.0), ("S2", 2.5, 40.0), ("S3", None, 7.0)]
    names = ("ref", "cost", "homes")
    ingest(new_sites, geojson(tmp_path, [dict(zip(names, row, strict=True)) for row in rows]))

    new_sites.refresh_from_db()
    kinds = {entry["name"]: entry["type"] for entry in new_sites.field_schema}
    assert (kinds["cost"], kinds["homes"]) == ("number", "integer")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reference, properties ->> 'cost', properties ->> 'homes' FROM catalogue_feature"
            " WHERE dataset_id = %s ORDER BY reference",
            [new_sites.pk],
        )
        assert cursor.fetchall() == [
            ("S1", "4000000", "120"),
            ("S2", "2.5", "40"),
            ("S3", None, "7"),
        ]


def test_eight_figure_days_in_a_column_named_for_dates_make_a_date_field(new_sites, tmp_path):
    """20240331 is a day in decision_date or DateReceived; a number elsewhere, and where one
    value is no day (20241341)."""
    ingest(
        new_sites,
        csv(
            tmp_path,
            "ref,decision_date,DateReceived,file_number,start_date,Easting,Northing\n"
            "S1,20240331,20231201,20240331,20241341,615000,157500\n"
            "S2,,19991231,20231201,20240101,615100,157600\n",
        ),
    )

    new_sites.refresh_from_db()
    kinds = {entry["name"]: entry["type"] for entry in new_sites.field_schema}
    assert [kinds[name] for name in ("decision_date", "DateReceived", "file_number", "start_date")] == [
        "date", "date", "integer", "integer"
    ]  # fmt: skip
    stored = dict(current_features(new_sites).values_list("reference", "properties"))
    assert (stored["S1"]["decision_date"], stored["S2"]["decision_date"]) == ("2024-03-31", None)
    assert stored["S2"]["DateReceived"] == "1999-12-31"
    assert stored["S1"]["file_number"] == 20240331


def test_eight_figure_days_a_source_holds_as_numbers_make_a_date_field(new_sites, tmp_path):
    """A GeoPackage's or GeoJSON's integer column of YYYYMMDD days, as a workbook's cells too."""
    rows = [("S1", 20240331), ("S2", 20231201), ("S3", None)]
    names = ("ref", "DecisionDate")
    ingest(new_sites, geojson(tmp_path, [dict(zip(names, row, strict=True)) for row in rows]))

    new_sites.refresh_from_db()
    assert {entry["name"]: entry["type"] for entry in new_sites.field_schema}["DecisionDate"] == (
        "date"
    )
    stored = dict(current_features(new_sites).values_list("reference", "properties__DecisionDate"))
    assert stored == {"S1": "2024-03-31", "S2": "2023-12-01", "S3": None}
