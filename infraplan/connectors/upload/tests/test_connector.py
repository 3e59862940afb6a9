"""The upload connector through the registry: batches in order, row problems kept."""

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely

from infraplan.connectors.base import ConnectorError, SourceContext
from infraplan.connectors.fetch import FetchPolicy
from infraplan.connectors.registry import connector_config, connector_for, connector_keys

from .test_files import CANTERBURY_BNG, geojson_points, shapefile_text_members, zipped
from .workbooks import write_workbook


def context(tmp_path: Path, seen: list | None = None) -> SourceContext:
    made = SourceContext(workdir=tmp_path / "work", fetch_policy=FetchPolicy(allowed_hosts=()))
    if seen is not None:
        made.progress = lambda rows, stage: seen.append((rows, stage))
    return made


def read_all(tmp_path: Path, path: Path, seen: list | None = None, **options):
    connector = connector_for("upload")
    config = connector_config("upload", {"path": str(path), **options})
    kwargs = {} if seen is None else {"seen": seen}
    return list(connector.batches(config, context(tmp_path, **kwargs)))


def read_with_notes(tmp_path: Path, path: Path, **options) -> tuple[list, list[str]]:
    made = context(tmp_path)
    config = connector_config("upload", {"path": str(path), **options})
    return list(connector_for("upload").batches(config, made)), made.notes


def test_upload_is_registered_under_its_key():
    assert "upload" in connector_keys()
    with pytest.raises(ConnectorError, match=r"no connector 'ftp' \(known: .*upload"):
        connector_for("ftp")


def test_configuration_is_checked_at_the_edge():
    with pytest.raises(ConnectorError, match="batch_size: Input should be a valid integer"):
        connector_config("upload", {"path": "a.gpkg", "batch_size": "many"})
    with pytest.raises(ConnectorError, match="colour: Extra inputs are not permitted"):
        connector_config("upload", {"path": "a.gpkg", "colour": "red"})
    with pytest.raises(ConnectorError, match="path: Field required"):
        connector_config("upload", {})


def test_a_geopackage_in_batches(tmp_path):
    path = tmp_path / "sites.gpkg"
    points = [shapely.Point(615000 + n, 157500) for n in range(5)]
    pyogrio.raw.write(
        path, np.array(shapely.to_wkb(points), dtype=object),
        [np.array([f"site-{n}" for n in range(5)], dtype=object)], ["reference"],
        driver="GPKG", geometry_type="Point", crs="EPSG:27700",
    )  # fmt: skip
    seen: list = []
    batches = read_all(tmp_path, path, seen, batch_size=2)
    assert [(batch.first_row, len(batch)) for batch in batches] == [(1, 2), (3, 2), (5, 1)]
    assert [value for batch in batches for value in batch.fields["reference"]] == [
        f"site-{n}" for n in range(5)
    ]
    assert shapely.from_wkb(batches[2].geometry[0]).x == 615004
    assert {batch.crs for batch in batches} == {"EPSG:27700"}
    assert seen == [(2, "reading"), (4, "reading"), (5, "reading")]


def test_a_csv_with_unreadable_coordinates_reports_each_row(tmp_path):
    # Rows are numbered by feature, 1-based, the header not counted (as every report does).
    path = tmp_path / "sites.csv"
    path.write_text(
        "Name,Easting,Northing\nA,615000,157500\nB,six hundred,157500\nC,,\nD,615100,x\n",
        encoding="utf-8",
    )
    (batch,) = read_all(tmp_path, path)
    assert [problem.as_dict() for problem in batch.problems] == [
        {"row": 2, "field": "Easting", "value": "six hundred", "problem": "is not a number"},
        {"row": 4, "field": "Northing", "value": "x", "problem": "is not a number"},
    ]
    assert shapely.from_wkb(batch.geometry[0]).coords[0] == (615000, 157500)
    assert list(batch.geometry[1:]) == [None, None, None]  # C has none: missing, not a problem
    assert batch.crs == "EPSG:27700"


def test_a_csv_with_wkt(tmp_path):
    path = tmp_path / "lines.csv"
    path.write_text('Name,WKT\nA,"LINESTRING (615000 157500, 616000 158000)"\nB,oops\n')
    (batch,) = read_all(tmp_path, path)
    assert shapely.from_wkb(batch.geometry[0]).geom_type == "LineString"
    assert [(p.row, p.field, p.reason) for p in batch.problems] == [(2, "WKT", "is not WKT")]


def test_a_repeated_column_name_keeps_every_columns_values(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "Name,Status,Status,Easting,Northing,Status,Status_2\n"
        "A,open,closed,615000,157500,dormant,x\nB,,,615100,157600,,\n"
    )  # fmt: skip
    made = context(tmp_path)
    config = connector_config("upload", {"path": str(path), "batch_size": 1})
    batches = list(connector_for("upload").batches(config, made))
    assert [list(batch.fields) for batch in batches] == [
        ["Name", "Status", "Status_2_", "Easting", "Northing", "Status_3", "Status_2"]
    ] * 2
    first = {name: values[0] for name, values in batches[0].fields.items()}
    assert (first["Status"], first["Status_2_"], first["Status_3"], first["Status_2"]) == (
        "open", "closed", "dormant", "x",
    )  # fmt: skip
    assert [note for note in made.notes if "more than once" in note] == [
        "The column Status appears more than once; later ones are read as Status_2_, Status_3."
    ]


def test_an_unclosed_quote_is_suggested_when_a_table_seems_to_have_no_rows(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text('Name,Easting,Northing\n"A,615000,157500\nB,615100,157600\n')
    with pytest.raises(ConnectorError, match="a value whose opening quote mark is never closed"):
        read_all(tmp_path, path)


def test_latitude_and_longitude_columns_the_wrong_way_round_are_named(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("Name,Latitude,Longitude\nA,1.0789,51.2802\nB,-0.5,51.5\n")
    with pytest.raises(ConnectorError, match=r"values in Longitude look like latitudes and those "
                                             r"in Latitude like longitudes"):  # fmt: skip
        read_all(tmp_path, path)
    path.write_text("Name,Latitude,Longitude\nA,51.2802,1.0789\nB,51.5,-0.5\n")
    (batch,) = read_all(tmp_path, path)
    assert shapely.from_wkb(batch.geometry[0]).coords[0] == (1.0789, 51.2802)


def test_coordinate_columns_are_read_by_name_whatever_their_order(tmp_path):
    """GeoY before GeoX, with a northing beyond any easting (Lerwick): still the grid."""
    path = tmp_path / "sites.csv"
    path.write_text("Name,GeoY,GeoX\nLerwick,1141000,446000\n")
    (batch,) = read_all(tmp_path, path)
    assert batch.crs == "EPSG:27700"
    assert shapely.from_wkb(batch.geometry[0]).coords[0] == (446000, 1141000)


def test_curved_wkt_is_a_row_problem_that_says_so(tmp_path):
    path = tmp_path / "areas.csv"
    arc = "CURVEPOLYGON(CIRCULARSTRING(615000 157500, 615100 157600, 615200 157500, 615000 157500))"
    path.write_text(f'Name,WKT\nA,"{arc}"\nB,"POINT (616000 157000)"\nC,oops\n')
    (batch,) = read_all(tmp_path, path)
    assert [(p.row, p.field, p.reason) for p in batch.problems] == [
        (1, "WKT", "is a curved geometry (arcs), which the platform does not read: save it with "
                   "straight segments"),
        (3, "WKT", "is not WKT"),
    ]  # fmt: skip
    assert batch.geometry[0] is None and shapely.from_wkb(batch.geometry[1]).x == 616000


def test_unreadable_files_are_connector_errors(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ConnectorError, match="The file is empty"):
        read_all(tmp_path, path)


CAFE = "Caf\u00e9 \u00a3"


def test_a_shapefile_whose_cpg_wrongly_says_utf8_is_read_as_windows_1252(tmp_path):
    members = shapefile_text_members(tmp_path, CAFE, "cp1252")
    members["sites.cpg"] = b"UTF-8"
    (batch,), notes = read_with_notes(tmp_path, zipped(tmp_path / "sites.zip", members))
    assert list(batch.fields["name"]) == [CAFE]
    assert notes[0] == (
        "The Shapefile's .cpg file says its text is UTF-8, but it is not: it was read as "
        "Windows-1252. Check accented letters and symbols such as \u00a3 in the result, and "
        "correct the .cpg file (or export the Shapefile again) before the next upload."
    )


@pytest.mark.parametrize(
    ("encoding", "read_as"),
    [("UTF-8", "UTF-8, which its text is"), ("cp1252", "Windows-1252, as its text is not UTF-8")],
)
def test_a_shapefile_without_cpg_is_read_in_the_encoding_its_bytes_show(
    tmp_path, encoding, read_as
):
    members = shapefile_text_members(tmp_path, CAFE, encoding)
    del members["sites.cpg"]
    (batch,), notes = read_with_notes(tmp_path, zipped(tmp_path / "sites.zip", members))
    assert list(batch.fields["name"]) == [CAFE]
    assert notes[0] == (
        f"The Shapefile has no .cpg file to say how its text is encoded: it was read as {read_as}. "
        "Check accented letters and symbols such as \u00a3 in the result."
    )


def test_a_geojson_in_windows_1252_keeps_its_letters(tmp_path):
    path = geojson_points(tmp_path / "sites.geojson", [[1.0789, 51.2802]])
    named = '"properties": {"name": "' + CAFE + '"}'
    path.write_bytes(path.read_bytes().replace(b'"properties": {}', named.encode("cp1252")))
    (batch,) = read_all(tmp_path, path)
    assert list(batch.fields["name"]) == [CAFE]


def test_a_geopackage_whose_text_is_not_utf8_says_so(tmp_path):
    path = tmp_path / "sites.gpkg"
    pyogrio.raw.write(
        path, np.array([shapely.to_wkb(shapely.Point(*CANTERBURY_BNG))], dtype=object),
        [np.array(["S1"], dtype=object)], ["reference"], driver="GPKG", geometry_type="Point",
        crs="EPSG:27700", layer="sites",
    )  # fmt: skip
    with closing(sqlite3.connect(path)) as database, database:
        # The spatial index's triggers call functions only GDAL's SQLite has.
        triggers = database.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        for (trigger,) in triggers.fetchall():
            database.execute(f'DROP TRIGGER "{trigger}"')
        database.execute("UPDATE sites SET reference = CAST(X'436166E9' AS TEXT)")  # Caf\xe9
    with pytest.raises(
        ConnectorError,
        match=r"The text in sites\.gpkg is not UTF-8, as the file says it is \(in row 1 or "
        r"after\): export the file again from your GIS with its text as UTF-8\.",
    ):
        read_all(tmp_path, path)


def test_a_workbook_sheet_named_as_the_layer_is_the_one_read(tmp_path):
    header = ["Reference", "Easting", "Northing"]
    path = write_workbook(
        tmp_path / "sites.xlsx",
        {
            "Sites2023": [header, ["A1", 615000, 157500]],
            "Sites2024": [header, ["B1", 616000, 158000]],
        },
    )
    (batch,) = read_all(tmp_path, path, layer="Sites2024")
    assert list(batch.fields["Reference"]) == ["B1"]
    assert shapely.from_wkb(batch.geometry[0]).coords[0] == (616000, 158000)


def test_a_workbook_of_text_only_keeps_its_column_names(tmp_path):
    path = write_workbook(
        tmp_path / "sites.xlsx",
        {"Sites": [["Reference", "WKT"], ["A1", "POINT (615000 157500)"]]},
    )
    (batch,) = read_all(tmp_path, path)
    assert list(batch.fields) == ["Reference", "WKT"]
    assert list(batch.fields["Reference"]) == ["A1"]
