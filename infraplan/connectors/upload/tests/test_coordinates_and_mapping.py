"""Tables as councils save them: grid columns the wrong way round, decimal commas in a CSV
separated by semicolons, and column mappings that do not fit the file, each said in the report."""

from pathlib import Path

import pytest

from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


def ingest(dataset, path: Path, mapping: IngestMapping | None = None):
    return ingest_run(
        actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
        mapping=mapping or IngestMapping(reference="ref"),
    )  # fmt: skip


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sites.csv"
    path.write_text(text)
    return path


def test_eastings_and_northings_the_wrong_way_round_are_refused(tmp_path, sites):
    version_publish_points(dataset=sites, points={"S1": (615000, 157500)})
    # As given, these points lie in Scotland; swapped, in the area the platform covers.
    path = _csv(tmp_path, "ref,Easting,Northing\nS1,157500,615000\nS2,157600,615100\n")
    with pytest.raises(IngestRejected) as rejected:
        ingest(sites, path)
    assert str(rejected.value).startswith(
        "The values in Easting look like northings and those in Northing like eastings: the two "
        "columns seem to be the wrong way round"
    )
    assert sites.current_version.number == 1
    assert current_features(sites).get().geom.coords == (615000, 157500)


def test_grid_values_the_right_way_round_outside_the_area_still_load(tmp_path, sites):
    # Elsewhere in Great Britain (Leeds), and no nearer the area swapped: loaded as given.
    version = ingest(sites, _csv(tmp_path, "ref,Easting,Northing\nS1,430000,433000\n"))
    assert version.is_current


def test_decimal_commas_are_read_in_a_csv_separated_by_semicolons(tmp_path, sites):
    path = _csv(tmp_path, "ref;latitude;longitude\nS1;51,28;1,08\nS2;51,2801;1,0801\n")
    version = ingest(sites, path)
    assert version.report["problem_count"] == 0
    x, y = current_features(sites).get(reference="S1").geom.coords
    assert 614_000 < x < 616_000 and 157_000 < y < 159_000


def test_a_comma_in_a_coordinate_of_a_comma_separated_csv_says_what_to_do(tmp_path, sites):
    path = _csv(tmp_path, 'ref,Easting,Northing\nS1,615000,157500\nS2,"615,100",157600\n')
    version = ingest(sites, path, IngestMapping(reference="ref", max_invalid_share=0.5))
    assert version.report["problems"] == [
        {
            "row": 2, "field": "Easting", "value": "615,100",
            "problem": "is not a number: write coordinates without thousands separators and "
            "with a full stop before any decimals (615000.5), or save the table separated by "
            "semicolons to keep decimal commas",
        }
    ]  # fmt: skip


def test_a_rename_of_a_column_the_file_does_not_have_is_said(tmp_path, sites):
    path = _csv(tmp_path, "ref,Easting,Northing,homes\nS1,615000,157500,12\n")
    version = ingest(sites, path, IngestMapping(reference="ref", rename={"units": "homes_total"}))
    assert (
        "The column mapping renames 'units' (to 'homes_total'), which the source does not have; "
        "its columns are: ref, Easting, Northing, homes." in version.report["notes"]
    )


@pytest.mark.parametrize("order", ["status,state", "state,status"])
def test_a_column_renamed_onto_another_replaces_it_whatever_their_order(tmp_path, sites, order):
    values = {"status": "allocated", "state": "old"}
    header = f"ref,Easting,Northing,{order}"
    row = "S1,615000,157500," + ",".join(values[name] for name in order.split(","))
    path = _csv(tmp_path, f"{header}\n{row}\n")
    version = ingest(sites, path, IngestMapping(reference="ref", rename={"status": "state"}))
    assert current_features(sites).get().properties["state"] == "allocated"
    assert (
        "The column mapping renames 'status' to 'state', which the source also has: state holds "
        "the values of status, and the source's own state column is not kept."
        in version.report["notes"]
    )


def test_longitudes_and_latitudes_that_disagree_with_the_grid_columns_are_said(
    tmp_path, sites, client
):
    """A download carries each point twice: easting and northing, longitude and latitude. The
    points are placed by the grid columns; an officer who moved one by editing its longitude and
    latitude is told which row and how far, not left to find it unchanged."""
    version_publish_points(dataset=sites, points={"S1": (615000, 157500), "S2": (615200, 157700)})
    response = client.get("/datasets/sites/download.csv")
    downloaded = b"".join(response.streaming_content).decode("utf-8-sig")
    # Loaded back as downloaded: the two pairs agree to the download's rounding.
    path = tmp_path / "sites.csv"
    path.write_text(downloaded)
    version = ingest(sites, path, IngestMapping(reference="reference"))
    assert not [note for note in version.report["notes"] if "put the point" in note]

    header, first, second = downloaded.splitlines()
    columns = header.split(",")
    moved = second.split(",")
    # About 140 m west of where its easting and northing put it.
    moved[columns.index("longitude")] = f"{float(moved[columns.index('longitude')]) - 0.002:.6f}"
    path.write_text("\n".join([header, first, ",".join(moved)]) + "\n")
    version = ingest(sites, path, IngestMapping(reference="reference"))
    (note,) = [note for note in version.report["notes"] if "put the point" in note]
    assert note == (
        "In row 2, the columns longitude and latitude put the point up to 140 m from where "
        "easting and northing put it. The points were placed by easting and northing: to move "
        "a point, change those, or delete those two columns to place every point by longitude "
        "and latitude."
    )
    assert current_features(sites).get(reference="S2").geom.coords == (615200, 157700)


@pytest.mark.parametrize(
    ("header", "x", "y"),
    [
        ("ref,X_COORD,Y_COORD", "615000", "157500"),
        ("ref,XCOORD,YCOORD", "615000", "157500"),
        ("ref,X Coordinate,Y Coordinate", "615000", "157500"),
        ("ref,EAST,NORTH", "615000", "157500"),
        ("ref,Eastings,Northings", "615000", "157500"),
        ("ref,x_coord,y_coord", "1.0789", "51.2802"),  # degrees: the names do not say
    ],
)
def test_coordinate_columns_as_council_systems_export_them_load(tmp_path, sites, header, x, y):
    version = ingest(sites, _csv(tmp_path, f"{header}\nS1,{x},{y}\n"))
    assert version.is_current and version.report["problem_count"] == 0
    easting, northing = current_features(sites).get(reference="S1").geom.coords
    assert 614_000 < easting < 616_000 and 157_000 < northing < 159_000


def test_coordinate_columns_renamed_on_the_upload_are_found_by_their_new_names(tmp_path, sites):
    """A file whose coordinate columns have names no list holds loads when the upload renames
    them to Easting and Northing: renames apply before the coordinates are looked for."""
    path = _csv(tmp_path, "ref,Grid E,Grid N,name\nS1,615000,157500,Mill Lane\n")
    with pytest.raises(IngestRejected, match="The table has no coordinate columns"):
        ingest(sites, path)
    rename = {"Grid E": "Easting", "Grid N": "Northing"}
    version = ingest(sites, path, IngestMapping(reference="ref", rename=rename))
    assert version.is_current and version.report["problem_count"] == 0
    feature = current_features(sites).get(reference="S1")
    assert feature.geom.coords == (615000, 157500)
    assert "Points from the columns Grid E and Grid N as British National Grid" in " ".join(
        version.report["notes"]
    )
    # The coordinates are the geometry, not properties.
    assert feature.properties["name"] == "Mill Lane"
    assert not {"Grid E", "Grid N", "Easting", "Northing"} & set(feature.properties)


def test_a_coordinate_column_renamed_away_is_not_read_as_coordinates(tmp_path, sites):
    """The renamed column takes the name's place: X and Y renamed to other fields, and columns
    renamed to Easting and Northing, place the points by the latter."""
    path = _csv(tmp_path, "ref,X,Y,E,N\nS1,1,2,615000,157500\n")
    rename = {"X": "x_old", "Y": "y_old", "E": "Easting", "N": "Northing"}
    version = ingest(sites, path, IngestMapping(reference="ref", rename=rename))
    assert version.is_current
    assert current_features(sites).get(reference="S1").geom.coords == (615000, 157500)


def test_a_rename_that_takes_the_coordinate_column_away_says_so(tmp_path, sites):
    """Not "no coordinate columns" beside a list of columns naming Easting and Northing."""
    version_publish_points(dataset=sites, points={"S1": (615000, 157500)})
    path = _csv(tmp_path, "ref,Easting,Northing\nS1,615000,157500\n")
    rename = {"Easting": "easting_kept"}
    with pytest.raises(IngestRejected) as rejected:
        ingest(sites, path, IngestMapping(reference="ref", rename=rename))
    assert str(rejected.value) == (
        "The column mapping renames 'Easting' to 'easting_kept', which takes away the table's "
        "coordinate column: a coordinate column keeps its name (Easting and Northing (British "
        "National Grid), Latitude and Longitude, GeoX and GeoY, or X and Y, or give a WKT "
        "column). Remove that rename from the mapping."
    )
    assert sites.current_version.number == 1
