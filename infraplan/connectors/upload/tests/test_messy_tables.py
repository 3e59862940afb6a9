"""Tables as spreadsheets save them when nobody tidied them: header cells with spaces around
their names, columns mixing numbers, dates and text, and eastings written with thousands
separators in a CSV separated by semicolons."""

import datetime
from pathlib import Path

import numpy as np
import pytest
import xlsxwriter

from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.store import current_features
from infraplan.connectors.upload.cells import text_cells_as_shown
from infraplan.connectors.upload.tables import coordinate_number
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


def ingest(dataset, path: Path, mapping: IngestMapping):
    return ingest_run(
        actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
        mapping=mapping,
    )  # fmt: skip


def workbook(path: Path, rows: list[list], date_format: str = "dd/mm/yyyy") -> Path:
    """A workbook of one sheet written by xlsxwriter, as a spreadsheet program saves it: numbers
    as numbers, dates as dates shown in ``date_format``, text as text."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Sites")
    dated = book.add_format({"num_format": date_format})
    for row_number, row in enumerate(rows):
        for column, value in enumerate(row):
            if isinstance(value, datetime.date):
                sheet.write_datetime(row_number, column, value, dated)
            elif value is not None:
                sheet.write(row_number, column, value)
    book.close()
    return path


def csv_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sites.csv"
    path.write_text(text)
    return path


SPACED_HEADER = ["Site Ref ", " Easting", "Northing ", "Homes "]


def spaced_csv(tmp_path: Path) -> Path:
    # GDAL takes plain spaces off a CSV's names itself, but not a no-break space (text copied
    # from a web page).
    return csv_file(
        tmp_path, "Site Ref\u00a0, Easting,Northing ,Homes\u00a0\nS1,615000,157500,12\n"
        "S2,615100,157600,30\n",
    )  # fmt: skip


def spaced_workbook(tmp_path: Path) -> Path:
    rows = [SPACED_HEADER, ["S1", 615000, 157500, 12], ["S2", 615100, 157600, 30]]
    return workbook(tmp_path / "sites.xlsx", rows)


@pytest.mark.parametrize("made", [spaced_csv, spaced_workbook], ids=["csv", "xlsx"])
def test_spaces_around_header_names_are_not_part_of_the_names(tmp_path, sites, made):
    version = ingest(sites, made(tmp_path), IngestMapping(reference="Site Ref"))
    assert version.report["problem_count"] == 0
    feature = current_features(sites).get(reference="S1")
    assert feature.properties["Homes"] == 12
    assert feature.geom.coords == (615000, 157500)


@pytest.mark.parametrize("made", [spaced_csv, spaced_workbook], ids=["csv", "xlsx"])
def test_a_header_name_with_spaces_around_it_is_renamed_as_typed(tmp_path, sites, made):
    mapping = IngestMapping(reference="site_ref", rename={"Site Ref": "site_ref"})
    version = ingest(sites, made(tmp_path), mapping)
    assert version.report["problem_count"] == 0
    assert not [note for note in version.report["notes"] if "renames" in note]
    assert sorted(current_features(sites).values_list("reference", flat=True)) == ["S1", "S2"]


def test_two_names_that_differ_only_by_spaces_around_them_are_refused(tmp_path, sites):
    rows = [["Site Ref", "Site Ref ", "Easting", "Northing"], ["S1", "T1", 615000, 157500]]
    path = workbook(tmp_path / "sites.xlsx", rows)
    with pytest.raises(IngestRejected) as rejected:
        ingest(sites, path, IngestMapping(reference="Site Ref"))
    assert (
        "Some columns' names differ only by spaces before or after them ('Site Ref' and "
        "'Site Ref '): they are read without those spaces, so they would have the same name."
    ) in str(rejected.value)


def mixed_workbook(tmp_path: Path) -> Path:
    """Columns of numbers and dates with some text among them, which GDAL reads as text."""
    rows = [
        ["ref", "Easting", "Northing", "Cost", "Start"],
        ["S1", 615000, 157500, 1.5, "to be agreed"],
        ["S2", 615100, 157600, "n/a", datetime.date(2024, 3, 31)],
        ["S3", 615200, 157700, 99999.99, "31/03/2024"],
        ["S4", 615300, 157800, 0.1 + 0.2, datetime.datetime(2025, 1, 15, 14, 30)],
        ["S5", 615400, 157900, "0.30000000000000004 typed", "2024/03/31 as typed"],
    ]
    return workbook(tmp_path / "sites.xlsx", rows)


def test_numbers_and_dates_in_a_column_of_text_are_read_as_the_sheet_shows_them(tmp_path, sites):
    version = ingest(sites, mixed_workbook(tmp_path), IngestMapping(reference="ref"))
    read = {
        feature.reference: (feature.properties["Cost"], feature.properties["Start"])
        for feature in current_features(sites)
    }
    assert read == {
        "S1": ("1.5", "to be agreed"),
        "S2": ("n/a", "2024-03-31"),
        "S3": ("99999.99", "31/03/2024"),
        "S4": ("0.3", "2025-01-15"),
        "S5": ("0.30000000000000004 typed", "2024/03/31 as typed"),
    }
    assert version.report["problem_count"] == 0


@pytest.mark.parametrize(
    ("gdal", "shown"),
    [
        ("2024/03/31 14:30:00", "2024-03-31T14:30:00"),
        ("2.1999999999999999E-05", "2.2E-05"),
        ("-99999.99000000001", "-99999.99"),
        ("3.333333333333333E+16", "3.333333333333333E+16"),  # 16 digits, and each one counts
        ("0.1234567890123456", "0.1234567890123456"),
        ("31/03/2024", "31/03/2024"),
    ],
)
def test_text_gdal_wrote_for_a_number_or_date_cell_is_what_the_sheet_shows(gdal, shown):
    assert list(text_cells_as_shown(np.array([gdal, None], dtype=object))) == [shown, None]


def test_an_easting_with_a_thousands_comma_in_a_csv_separated_by_semicolons_says_what_to_do(
    tmp_path, sites
):
    path = csv_file(tmp_path, "ref;Easting;Northing\nS1;615000;157500\nS2;615,100;157600\n")
    version = ingest(sites, path, IngestMapping(reference="ref", max_invalid_share=0.5))
    assert version.report["problems"] == [
        {
            "row": 2, "field": "Easting", "value": "615,100",
            "problem": "is not a number: write coordinates without thousands separators "
            "(615100, not 615,100)",
        }
    ]  # fmt: skip
    assert list(current_features(sites).values_list("reference", flat=True)) == ["S1"]


@pytest.mark.parametrize(
    ("written", "number"),
    [
        ("51,28", 51.28),
        ("1,0801", 1.0801),
        ("-0,5", -0.5),
        ("615000", 615000.0),
        # Three decimals look like a thousands separator, but read so they are no degrees of
        # the grid's area: a latitude and a longitude of Kent with three decimals.
        ("51,280", 51.28),
        ("1,080", 1.08),
        ("-5,125", -5.125),
    ],
)
def test_decimal_commas_are_still_read_in_a_csv_separated_by_semicolons(written, number):
    assert coordinate_number(written, decimal_comma=True) == number


@pytest.mark.parametrize("written", ["615,000", "1,157,500", " 157,500 ", "62,500"])
def test_thousands_commas_are_not_read_as_decimal_commas(written):
    with pytest.raises(ValueError):
        coordinate_number(written, decimal_comma=True)


def test_spaces_around_a_geojson_propertys_name_are_not_part_of_it(tmp_path, sites):
    path = tmp_path / "sites.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
        '{"Site Ref ": "S1"}, "geometry": {"type": "Point", "coordinates": [1.08, 51.28]}}]}'
    )
    ingest(sites, path, IngestMapping(reference="Site Ref"))
    assert list(current_features(sites).values_list("reference", flat=True)) == ["S1"]
