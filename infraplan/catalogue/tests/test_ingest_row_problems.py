"""Values and coordinates that are wrong in one row: each is a problem of that row, named with
its field, value and reason, so the rejection threshold decides, and never fails the whole
load. Without a threshold the load is rejected and the version before stays current; with one
that allows the bad rows, the good rows are published."""

import json
import math
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.models import VersionState
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db

CANTERBURY = (615000, 157500)
CANTERBURY_LONLAT = (1.0789, 51.2802)
LONLAT_OUT_OF_RANGE = (
    "longitude/latitude out of range: longitudes lie between -180 and 180 and latitudes "
    "between -90 and 90"
)


@pytest.fixture
def sites(personas):
    return dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[
            {"name": "ref", "type": "string", "title": "Reference", "required": True},
            {"name": "homes", "type": "integer", "title": "Homes"},
            {"name": "area", "type": "number", "title": "Area (ha)"},
            {"name": "permitted", "type": "date", "title": "Permitted"},
        ],
    )  # fmt: skip


def ingest(dataset, path: Path, max_invalid_share: float = 0.0):
    return ingest_run(
        actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
        mapping=IngestMapping(reference="ref", max_invalid_share=max_invalid_share),
    )  # fmt: skip


def geojson(path: Path, features: list[tuple[dict, list]], crs: str | None = None) -> Path:
    """A GeoJSON file of points (properties, coordinates); NaN and Infinity are written bare,
    as some software does although JSON has neither."""
    collection: dict = {"type": "FeatureCollection"}
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    collection["features"] = [
        {"type": "Feature", "properties": properties,
         "geometry": {"type": "Point", "coordinates": coordinates}}
        for properties, coordinates in features
    ]  # fmt: skip
    path.write_text(json.dumps(collection))
    return path


def points_gpkg(path: Path, points: dict[str, tuple[float, float]], crs: str) -> Path:
    shapes = [shapely.Point(*point) for point in points.values()]
    pyogrio.raw.write(
        path, np.array(shapely.to_wkb(shapes), dtype=object),
        [np.array(list(points), dtype=object)], ["ref"],
        driver="GPKG", geometry_type="Point", crs=crs,
    )  # fmt: skip
    return path


def rejected_then_published(dataset, path: Path, max_invalid_share: float = 0.5):
    """The problems of the rejected load of ``path`` (the version before staying current),
    and the version published when ``max_invalid_share`` allows its bad rows."""
    before = version_publish_points(dataset=dataset, points={"KEEP": CANTERBURY})
    with pytest.raises(IngestRejected, match="rows have problems") as rejected:
        ingest(dataset, path)
    assert rejected.value.version.state == VersionState.FAILED
    before.refresh_from_db()
    assert before.is_current
    assert list(current_features(dataset).values_list("reference", flat=True)) == ["KEEP"]
    version = ingest(dataset, path, max_invalid_share)
    assert version.is_current
    return rejected.value.version.report["problems"], version


def date_gpkg(path: Path, dates: dict[str, str]) -> Path:
    """A GeoPackage with a date field holding ``dates`` as written (GIS software checks dates
    it writes; a hand-edited file need not)."""
    shapes = [shapely.Point(*CANTERBURY)] * len(dates)
    pyogrio.raw.write(
        path, np.array(shapely.to_wkb(shapes), dtype=object),
        [np.array(list(dates), dtype=object),
         np.array(["2000-01-01"] * len(dates), dtype="datetime64[D]")],
        ["ref", "permitted"], driver="GPKG", geometry_type="Point", crs="EPSG:27700",
        layer="sites",
    )  # fmt: skip
    with closing(sqlite3.connect(path)) as database, database:
        # The spatial index's triggers call functions only GDAL's SQLite has.
        triggers = database.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        for (trigger,) in triggers.fetchall():
            database.execute(f'DROP TRIGGER "{trigger}"')
        for reference, value in dates.items():
            database.execute("UPDATE sites SET permitted = ? WHERE ref = ?", (value, reference))
    return path


def dated_source(kind: str, tmp_path: Path) -> Path:
    dates = {"S1": "2026-02-28", "S2": "2026-02-30", "S3": "2024-02-29"}
    if kind == "geojson":
        return geojson(
            tmp_path / "sites.geojson",
            [({"ref": ref, "permitted": value}, list(CANTERBURY_LONLAT))
             for ref, value in dates.items()],
        )  # fmt: skip
    if kind == "gpkg":
        return date_gpkg(tmp_path / "sites.gpkg", dates)
    path = tmp_path / "sites.csv"
    rows = "".join(
        f"{ref},{value},{CANTERBURY[0]},{CANTERBURY[1]}\n" for ref, value in dates.items()
    )
    path.write_text("ref,permitted,Easting,Northing\n" + rows)
    return path


@pytest.mark.parametrize("kind", ["geojson", "gpkg", "csv"])
def test_a_date_no_calendar_has_is_a_problem_of_its_row(sites, tmp_path, kind):
    problems, version = rejected_then_published(sites, dated_source(kind, tmp_path))

    assert problems == [
        {"row": 2, "field": "permitted", "value": "2026-02-30",
         "problem": "'2026-02-30' is no such date: February 2026 has 28 days"},
    ]  # fmt: skip
    assert version.report["rows_rejected"] == 1
    permitted = dict(current_features(sites).values_list("reference", "properties__permitted"))
    assert permitted == {"S1": "2026-02-28", "S3": "2024-02-29"}


def test_dates_say_why_they_are_not_on_the_calendar(sites, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "ref,permitted,Easting,Northing\nS1,2026-13-01,615000,157500\n"
        "S2,2026-04-00,615000,157500\nS3,2025-02-29,615000,157500\n"
    )
    with pytest.raises(IngestRejected) as rejected:
        ingest(sites, path)
    assert [p["problem"] for p in rejected.value.version.report["problems"]] == [
        "'2026-13-01' is no such date: there is no month 13",
        "'2026-04-00' is no such date: there is no day 0",
        "'2025-02-29' is no such date: February 2025 has 28 days",
    ]


def test_coordinates_that_are_not_numbers_or_beyond_longitude_latitude_are_row_problems(
    sites, tmp_path
):
    path = geojson(
        tmp_path / "sites.geojson",
        [({"ref": "S1"}, list(CANTERBURY_LONLAT)), ({"ref": "S2"}, [math.nan, 51]),
         ({"ref": "S3"}, [1e30, 1e30]), ({"ref": "S4"}, [-math.inf, 51])],
    )  # fmt: skip

    problems, version = rejected_then_published(sites, path, max_invalid_share=0.75)

    assert problems == [
        {"row": 2, "field": "geometry", "value": "POINT(NaN 51)",
         "problem": "coordinates are not finite numbers"},
        {"row": 3, "field": "geometry", "value": "POINT(1e+30 1e+30)",
         "problem": LONLAT_OUT_OF_RANGE},
        {"row": 4, "field": "geometry", "value": "POINT(-Infinity 51)",
         "problem": "coordinates are not finite numbers"},
    ]  # fmt: skip
    assert version.report["rows_rejected"] == 3
    feature = current_features(sites).get()
    expected = Transformer.from_crs(4326, 27700, always_xy=True).transform(*CANTERBURY_LONLAT)
    assert feature.reference == "S1"
    assert (feature.geom.x, feature.geom.y) == pytest.approx(expected, abs=0.01)


def test_coordinates_a_projected_system_cannot_convert_are_row_problems(sites, tmp_path):
    utm = Transformer.from_crs(27700, 32631, always_xy=True).transform(*CANTERBURY)
    path = points_gpkg(tmp_path / "sites.gpkg", {"S1": utm, "S2": (1e30, 1e30)}, crs="EPSG:32631")

    problems, version = rejected_then_published(sites, path)

    assert problems == [
        {"row": 2, "field": "geometry", "value": "POINT(1e+30 1e+30)",
         "problem": "coordinates out of range for EPSG:32631: they cannot be converted to "
                    "British National Grid"},
    ]  # fmt: skip
    assert version.report["rows_rejected"] == 1
    assert current_features(sites).get().geom.x == pytest.approx(CANTERBURY[0], abs=1)


def test_grid_coordinates_that_are_not_numbers_are_row_problems(sites, tmp_path):
    path = points_gpkg(
        tmp_path / "sites.gpkg", {"S1": CANTERBURY, "S2": (math.nan, 157500)}, crs="EPSG:27700"
    )
    problems, _ = rejected_then_published(sites, path)
    assert problems == [
        {"row": 2, "field": "geometry", "value": "POINT(NaN 157500)",
         "problem": "coordinates are not finite numbers"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    "crs",
    [
        pytest.param(None, id="undeclared"),
        pytest.param("urn:ogc:def:crs:OGC:1.3:CRS84", id="crs84"),
        pytest.param("urn:ogc:def:crs:EPSG::4326", id="epsg4326"),
    ],
)
def test_longitude_latitude_geojson_is_not_read_as_grid_for_a_bad_row(sites, tmp_path, crs):
    """A point at 200, 100 makes the file's extent fit the grid and not longitude/latitude,
    but the other row is a place in Canterbury in degrees: the file stays longitude/latitude
    and the bad row is the problem."""
    path = geojson(
        tmp_path / "sites.geojson",
        [({"ref": "S1"}, list(CANTERBURY_LONLAT)), ({"ref": "S2"}, [200, 100])], crs=crs,
    )  # fmt: skip

    problems, version = rejected_then_published(sites, path)

    assert problems == [
        {"row": 2, "field": "geometry", "value": "POINT(200 100)", "problem": LONLAT_OUT_OF_RANGE},
    ]  # fmt: skip
    feature = current_features(sites).get()
    expected = Transformer.from_crs(4326, 27700, always_xy=True).transform(*CANTERBURY_LONLAT)
    assert (feature.geom.x, feature.geom.y) == pytest.approx(expected, abs=0.01)
    noted = any(
        "some of its coordinates are beyond their ranges" in n for n in version.report["notes"]
    )
    assert noted == (crs is None)


def test_geojson_declaring_longitude_latitude_is_never_read_as_grid(sites, tmp_path):
    path = geojson(
        tmp_path / "sites.geojson", [({"ref": "S1"}, list(CANTERBURY))],
        crs="urn:ogc:def:crs:OGC:1.3:CRS84",
    )  # fmt: skip
    with pytest.raises(IngestRejected) as rejected:
        ingest(sites, path)
    assert rejected.value.version.report["problems"] == [
        {"row": 1, "field": "geometry", "value": "POINT(615000 157500)",
         "problem": LONLAT_OUT_OF_RANGE},
    ]  # fmt: skip


def test_grid_points_in_the_sea_beyond_great_britain_are_row_problems(sites, tmp_path):
    """Inside the old rectangle around Great Britain but not near it: the Atlantic at the grid's
    origin (where degrees read as metres land) and the North Sea beyond 2°E and 61°N."""
    path = points_gpkg(
        tmp_path / "sites.gpkg",
        {"S1": CANTERBURY, "S2": (200, 100), "S3": (1.08, 51.28), "S4": (700_000, 1_300_000),
         "SCILLY": (90_000, 10_000), "UNST": (460_000, 1_210_000)},
        crs="EPSG:27700",
    )  # fmt: skip

    problems, _ = rejected_then_published(sites, path)

    assert problems == [
        {"row": 2, "field": "geometry", "value": "POINT(200 100)",
         "problem": "lies outside Great Britain (in British National Grid, E 200 N 100)"},
        {"row": 3, "field": "geometry", "value": "POINT(1.08 51.28)",
         "problem": "lies outside Great Britain (in British National Grid, E 1 N 51)"},
        {"row": 4, "field": "geometry", "value": "POINT(700000 1300000)",
         "problem": "lies outside Great Britain (in British National Grid, E 700000 N 1300000)"},
    ]  # fmt: skip
    assert sorted(current_features(sites).values_list("reference", flat=True)) == [
        "S1", "SCILLY", "UNST",
    ]  # fmt: skip


def test_points_in_the_sea_off_the_covered_areas_are_row_problems(sites, tmp_path):
    """In Great Britain's waters but far from every council area the platform covers: the North
    Sea off Thanet and a latitude typed wrongly. A point on Margate's harbour arm, beyond the
    generalised coastline but within the margin, and one in Kent are kept."""
    demo_load(only={"districts"})
    path = tmp_path / "sites.csv"
    path.write_text(
        "ref,latitude,longitude\n"
        "S1,51.2802,1.0789\n"  # Canterbury
        "SEA,51.60,2.00\n"  # the North Sea
        "TYPO,50.7562,1.0789\n"  # Canterbury's longitude with 50 for 51: in the Channel
        "ARM,51.3916,1.3776\n",  # Margate harbour arm
        encoding="utf-8",
    )

    problems, _ = rejected_then_published(sites, path)

    assert [(p["row"], p["field"]) for p in problems] == [(2, "geometry"), (3, "geometry")]
    assert problems[0]["problem"] == (
        "lies more than 1,000 m outside every council area this platform covers: in the sea, "
        "or a coordinate typed wrongly? (in British National Grid, E 676965 N 196652)"
    )
    assert problems[1]["value"] == "latitude 50.7562, longitude 1.0789"  # as the file has it
    assert sorted(current_features(sites).values_list("reference", flat=True)) == ["ARM", "S1"]


def test_places_in_ireland_are_outside_great_britain_its_western_isles_inside(sites, tmp_path):
    """The grid's numbers reach Ireland, which is not on it: a CSV of latitudes and longitudes
    in Belfast, Dublin or on Rathlin Island is refused row by row, while the islands of Great
    Britain facing Ireland (Kintyre, the Isle of Man, the Smalls, Scilly) are loaded."""
    path = tmp_path / "sites.csv"
    path.write_text(
        "ref,latitude,longitude\n"
        "CANTERBURY,51.2802,1.0789\n"
        "BELFAST,54.5973,-5.9301\n"
        "DUBLIN,53.3498,-6.2603\n"
        "RATHLIN,55.2960,-6.1900\n"
        "KINTYRE,55.3107,-5.8018\n"
        "CALF-OF-MAN,54.0530,-4.8290\n"
        "SMALLS,51.7210,-5.6700\n"
        "BISHOP-ROCK,49.8722,-6.4454\n"
    )

    problems, _ = rejected_then_published(sites, path)

    assert [(problem["row"], problem["problem"][:26]) for problem in problems] == [
        (2, "lies outside Great Britain"), (3, "lies outside Great Britain"),
        (4, "lies outside Great Britain"),
    ]  # fmt: skip
    assert sorted(current_features(sites).values_list("reference", flat=True)) == [
        "BISHOP-ROCK", "CALF-OF-MAN", "CANTERBURY", "KINTYRE", "SMALLS",
    ]  # fmt: skip


def test_whole_numbers_beyond_exact_and_infinite_numbers_are_row_problems(sites, tmp_path):
    exact = 2**53 - 1
    path = tmp_path / "sites.geojson"
    features = [
        ('"S1"', "40", "2.5"), ('"S2"', "1" + "0" * 30, "1.5"), ('"S3"', "1.5e300", "1.5"),
        ('"S4"', str(exact + 1), "1.5"), ('"S5"', str(exact), "Infinity"),
        ('"S6"', str(-exact), "-Infinity"), ('"S7"', "null", "NaN"),
    ]  # fmt: skip
    path.write_text(
        '{"type": "FeatureCollection", "features": ['
        + ", ".join(
            f'{{"type": "Feature", "properties": {{"ref": {ref}, "homes": {homes}, '
            f'"area": {area}}}, "geometry": {{"type": "Point", "coordinates": [1.0789, 51.2802]}}}}'
            for ref, homes, area in features
        )
        + "]}"
    )
    too_large = (
        "is too large to store exactly: whole numbers must be between "
        "-9,007,199,254,740,991 and 9,007,199,254,740,991"
    )

    problems, version = rejected_then_published(sites, path, max_invalid_share=5 / 7)

    assert problems == [
        {"row": 2, "field": "homes", "value": "1e+30", "problem": f"1e+30 {too_large}"},
        {"row": 3, "field": "homes", "value": "1.5e+300", "problem": f"1.5e+300 {too_large}"},
        {"row": 4, "field": "homes", "value": "9007199254740992.0",
         "problem": f"9007199254740992.0 {too_large}"},
        {"row": 5, "field": "area", "value": "Infinity", "problem": "Infinity is not a finite number"},
        {"row": 6, "field": "area", "value": "-Infinity",
         "problem": "-Infinity is not a finite number"},
    ]  # fmt: skip
    assert version.report["rows_rejected"] == 5
    stored = dict(current_features(sites).values_list("reference", "properties"))
    # NaN is how an empty number comes from the file reader, so it is unknown, never zero.
    assert {ref: (p["homes"], p["area"]) for ref, p in stored.items()} == {
        "S1": (40, 2.5), "S7": (None, None),
    }  # fmt: skip


def test_a_csv_with_nul_characters_loads_without_them_and_says_so(sites, tmp_path):
    """GDAL ends a line at a NUL: the rest of the row would silently be lost."""
    path = tmp_path / "sites.csv"
    padding = "".join(f"P{n},,{615000 + n},157500\n" for n in range(40))  # past the first 512 bytes
    path.write_bytes(
        f"ref,homes,Easting,Northing\nS1,4\x000,615000,157500\n{padding}S2,7,6151\x0000,157600\n"
        .encode()
    )  # fmt: skip

    version = ingest(sites, path)

    assert version.report["rows_read"] == 42 and version.report["problems"] == []
    assert (
        "The file held NUL characters on lines 2 and 43 (the header is line 1), which text "
        "cannot carry; they were removed."
    ) in version.report["notes"]
    stored = {feature.reference: feature for feature in current_features(sites)}
    assert stored["S1"].properties["homes"] == 40
    assert (stored["S2"].geom.x, stored["S2"].geom.y) == (615100, 157600)


def polygons_geojson(path: Path, rings: dict[str, list]) -> Path:
    """Polygons with one ring each, written as given (closed or not)."""
    features = [
        {"type": "Feature", "properties": {"ref": ref},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}
        for ref, ring in rings.items()
    ]  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_a_polygon_ring_too_short_or_not_closed_is_a_problem_of_its_row(personas, tmp_path):
    parcels = dataset_make(slug="parcels", owner=personas.organisation_a, geometry_type="polygon")
    square = [[1.07, 51.27], [1.075, 51.27], [1.075, 51.275], [1.07, 51.275], [1.07, 51.27]]
    path = polygons_geojson(
        tmp_path / "parcels.geojson",
        {
            "GOOD": square,
            "FLAT": [[1.08, 51.28], [1.09, 51.28], [1.08, 51.28]],  # closed, but 3 points
            "OPEN": [[1.08, 51.28], [1.09, 51.28], [1.09, 51.29], [1.08, 51.29]],
        },
    )
    before = version_publish_points(dataset=parcels, points={})
    with pytest.raises(IngestRejected, match="2 of 3 rows have problems") as rejected:
        ingest(parcels, path)
    problems = {problem["row"]: problem for problem in rejected.value.version.report["problems"]}
    assert problems[2]["field"] == "geometry"
    assert problems[2]["value"].startswith("POLYGON ((1.08 51.28, 1.09 51.28, 1.08 51.28))")
    assert problems[2]["problem"] == (
        "a ring of the polygon has fewer than 4 points: a ring needs at least three corners and "
        "to end on the point it starts from"
    )
    assert problems[3]["problem"] == (
        "the geometry cannot be read: Points of LinearRing do not form a closed linestring"
    )
    before.refresh_from_db()
    assert before.is_current
    version = ingest(parcels, path, max_invalid_share=0.7)
    assert version.is_current
    assert list(current_features(parcels).values_list("reference", flat=True)) == ["GOOD"]


def test_blank_rows_are_left_out_with_a_note_not_counted_as_problems(sites, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "ref,Easting,Northing,homes\nS1,615000,157500,10\n,,,\nS2,615100,157600,12\n  ,,,\n,,,\n"
    )
    version = ingest(sites, path)
    assert version.is_current
    report = version.report
    assert (report["rows_read"], report["problem_count"], report["rows_rejected"]) == (5, 0, 0)
    assert "3 blank rows, with no value and no geometry, were left out." in report["notes"]
    assert sorted(current_features(sites).values_list("reference", flat=True)) == ["S1", "S2"]


def test_whole_numbers_with_blanks_among_them_stay_whole(personas, tmp_path):
    """A GeoPackage (or spreadsheet) column of whole numbers with a blank comes as doubles; a
    reference like a UPRN must not become 100062012345.0, or the next load would see every
    feature removed and added again."""
    dataset = dataset_make(slug="uprns", owner=personas.organisation_a)
    path = tmp_path / "uprns.gpkg"
    shapes = [shapely.Point(*CANTERBURY), shapely.Point(615100, 157600)]
    pyogrio.raw.write(
        path, np.array(shapely.to_wkb(shapes), dtype=object),
        [np.array([100062012345.0, 100062012346.0]), np.array([3.0, np.nan])],
        ["uprn", "storeys"], driver="GPKG", geometry_type="Point", crs="EPSG:27700",
    )  # fmt: skip
    ingest_run(
        actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
        mapping=IngestMapping(reference="uprn"),
    )  # fmt: skip
    stored = dict(current_features(dataset).values_list("reference", "properties"))
    assert stored == {
        "100062012345": {"uprn": 100062012345, "storeys": 3},
        "100062012346": {"uprn": 100062012346, "storeys": None},
    }


def test_a_list_in_a_geojson_property_is_stored_as_a_list(sites, tmp_path):
    path = geojson(
        tmp_path / "sites.geojson",
        [({"ref": "S1", "tags": ["allocated", "brownfield"], "phases": [1, 2]},
          list(CANTERBURY_LONLAT))],
    )  # fmt: skip
    ingest(sites, path)
    properties = current_features(sites).get().properties
    assert properties["tags"] == ["allocated", "brownfield"] and properties["phases"] == [1, 2]


def test_spreadsheet_dates_with_slashes_and_whole_numbers_with_a_point_are_read(sites, tmp_path):
    """GDAL writes a workbook's date cell as text with slashes when its column also holds text;
    a spreadsheet saved as CSV may write a whole number as 10.0."""
    path = tmp_path / "sites.csv"
    path.write_text(
        "ref,Easting,Northing,permitted,homes\n"
        "S1,615000,157500,2024/01/02,10.0\n"
        "S2,615100,157600,TBC,12\n"
        "S3,615200,157700,2024-02-29,10.5\n"
    )
    problems, _ = rejected_then_published(sites, path, max_invalid_share=0.7)
    assert [(problem["row"], problem["field"], problem["problem"]) for problem in problems] == [
        (
            2,
            "permitted",
            "'TBC' is not a date (YYYY-MM-DD, DD/MM/YYYY or YYYYMMDD): leave the cell empty where "
            "the value is not known",
        ),
        (3, "homes", "'10.5' is not a whole number"),
    ]
    stored = dict(current_features(sites).values_list("reference", "properties"))
    assert stored["S1"]["permitted"] == "2024-01-02" and stored["S1"]["homes"] == 10


def test_british_and_compact_dates_are_read_day_first_never_month_first(sites, tmp_path):
    """Council spreadsheets and Get Information About Schools write 31/08/2007 or 31-08-2007;
    the NHS Organisation Data Service 20070831. A date written month first is not guessed at:
    the month it would give does not exist, and the officer is told so."""
    path = tmp_path / "sites.csv"
    path.write_text(
        "ref,Easting,Northing,permitted\n"
        "S1,615000,157500,31/08/2007\n"
        "S2,615100,157600,31-08-2007 00:00:00\n"
        "S3,615200,157700,1.9.2015\n"
        "S4,615300,157800,20160630\n"
        "S5,615400,157900,08/31/2007\n"
        "S6,615500,158000,2016063\n"
    )
    problems, _ = rejected_then_published(sites, path, max_invalid_share=0.5)
    assert [(problem["row"], problem["problem"]) for problem in problems] == [
        (5, "'08/31/2007' is no such date: there is no month 31"),
        (6, "'2016063' is not a date (YYYY-MM-DD, DD/MM/YYYY or YYYYMMDD)"),
    ]
    stored = dict(current_features(sites).values_list("reference", "properties__permitted"))
    assert stored == {
        "S1": "2007-08-31", "S2": "2007-08-31", "S3": "2015-09-01", "S4": "2016-06-30"
    }  # fmt: skip


def test_one_mistyped_coordinate_is_a_problem_of_its_row_not_the_files(sites, tmp_path):
    rows = [f"S{number},{615000 + number},157500" for number in range(1, 20)]
    path = tmp_path / "sites.csv"
    path.write_text("ref,X,Y\n" + "\n".join([*rows, "TYPO,6150000,157500"]) + "\n")
    problems, version = rejected_then_published(sites, path, max_invalid_share=0.1)
    assert [(problem["row"], problem["field"]) for problem in problems] == [(20, "geometry")]
    assert problems[0]["problem"].startswith("lies outside Great Britain")
    assert version.report["rows_read"] == 20 and current_features(sites).count() == 19


def test_a_point_with_one_coordinate_cell_empty_names_that_cell(sites, tmp_path):
    """The report named "geometry" for an empty Northing: the officer is told which cell."""
    path = tmp_path / "sites.csv"
    path.write_text(
        "ref,Easting,Northing\nS1,615000,157500\nS2,615100,\nS3,,157700\nS4,,\n", encoding="utf-8"
    )
    problems, _ = rejected_then_published(sites, path, max_invalid_share=0.9)
    by_row = {}
    for problem in problems:
        by_row.setdefault(problem["row"], []).append((problem["field"], problem["problem"]))
    why = "is empty, while {} has a value: a point needs both coordinates"
    assert by_row[2] == [("Northing", why.format("Easting"))]
    assert by_row[3] == [("Easting", why.format("Northing"))]
    # Both empty: no point at all, reported against the geometry as before.
    assert by_row[4] == [("geometry", "the geometry is missing or empty")]
