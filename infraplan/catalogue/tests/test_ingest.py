"""The ingest pipeline through the upload connector: what publishes, what is rejected and why,
and that a rejected load leaves the current version exactly as it was."""

import json
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from infraplan.accounts.models import Organisation
from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.models import VersionState
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make, demo_dataset_load, version_publish_points

pytestmark = pytest.mark.django_db

CANTERBURY = (615000, 157500)


def ingest(dataset, path: Path, mapping: IngestMapping | None = None, **kwargs):
    return ingest_run(
        actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
        mapping=mapping or IngestMapping(reference="ref"), **kwargs,
    )  # fmt: skip


def csv(tmp_path: Path, text: str, name: str = "sites.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def sites(personas):
    return dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[
            {"name": "ref", "type": "string", "title": "Reference", "required": True},
            {"name": "homes", "type": "integer", "title": "Homes"},
            {"name": "status", "type": "string", "title": "Status",
             "allowed": ["allocated", "permitted"]},
        ],
    )  # fmt: skip


def test_a_good_csv_becomes_the_current_version(sites, tmp_path):
    seen = []
    version = ingest(
        sites,
        csv(
            tmp_path,
            "ref,homes,status,Easting,Northing\nS1,40,allocated,615000,157500\n"
            "S2,,permitted,615100,157600\n",
        ),
        progress=lambda rows, stage: seen.append(stage),
    )
    assert (version.state, version.is_current, version.feature_count) == ("published", True, 2)
    assert version.report["added"] == 2
    assert version.report["rows_read"] == 2 and version.report["problems"] == []
    homes = dict(current_features(sites).values_list("reference", "properties__homes"))
    assert homes == {"S1": 40, "S2": None}  # typed by the schema; unknown is never zero
    assert {"reading", "checking", "publishing"} <= set(seen)


def test_two_loads_in_one_transaction_both_publish(sites, personas, tmp_path):
    """Each test runs in a transaction of its own, so the second load shares the first's."""
    ingest(sites, csv(tmp_path, "ref,Easting,Northing\nS1,615000,157500\n"))
    others = dataset_make(slug="other-sites", owner=personas.organisation_a)
    version = ingest(others, csv(tmp_path, "ref,Easting,Northing\nO1,615100,157600\n", "o.csv"))
    assert version.is_current
    assert list(current_features(sites).values_list("reference", flat=True)) == ["S1"]
    assert list(current_features(others).values_list("reference", flat=True)) == ["O1"]


def test_wgs84_coordinates_are_transformed_to_the_grid(sites, tmp_path):
    ingest(sites, csv(tmp_path, "ref,latitude,longitude\nS1,51.2802,1.0789\n"))
    feature = current_features(sites).get()
    expected = Transformer.from_crs(4326, 27700, always_xy=True).transform(1.0789, 51.2802)
    assert feature.geom.srid == 27700
    assert (feature.geom.x, feature.geom.y) == pytest.approx(expected, abs=0.01)


def test_a_windows_1252_csv_keeps_its_pound_signs(personas, tmp_path):
    costs = dataset_make(slug="costs", owner=personas.organisation_a)
    ingest(costs, csv(tmp_path, "ref,cost,Easting,Northing\nP1,£4.5m,615000,157500\n",
                      encoding="cp1252"))  # fmt: skip
    assert current_features(costs).get().properties["cost"] == "£4.5m"


def test_casts_type_columns_the_schema_does_not_and_a_bad_value_is_a_row_problem(sites, tmp_path):
    path = tmp_path / "sites.geojson"
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1.08, 51.28]},
         "properties": {"ref": ref, "code": code, "area": area, "open": is_open, "homes": "12"}}
        for ref, code, area, is_open in [("S1", 12.0, "2.5", "yes"), ("S2", 7.5, "", "no"),
                                         ("S3", None, "about 3", "no")]
    ]  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    mapping = IngestMapping(
        reference="ref", max_invalid_share=0.5,
        # homes is the schema's integer field: its type wins over the cast.
        casts={"code": "string", "area": "number", "open": "boolean", "homes": "date",
               "absent": "integer"},
    )  # fmt: skip
    version = ingest(sites, path, mapping)
    assert [(p["row"], p["field"], p["value"], p["problem"]) for p in version.report["problems"]] == [
        (3, "area", "about 3", "'about 3' is not a number"),
    ]  # fmt: skip
    properties = dict(current_features(sites).values_list("reference", "properties"))
    assert properties == {
        # A whole number read as a double becomes text without its ".0"; unknown stays unknown.
        "S1": {"ref": "S1", "code": "12", "area": 2.5, "open": True, "homes": 12, "status": None},
        "S2": {"ref": "S2", "code": "7.5", "area": None, "open": False, "homes": 12,
               "status": None},
    }  # fmt: skip


def test_problems_name_row_field_value_and_reason_and_nothing_changes(sites, tmp_path):
    before = version_publish_points(dataset=sites, points={"KEEP": CANTERBURY})
    bad = csv(
        tmp_path,
        "ref,homes,status,Easting,Northing\n"
        "S1,forty,allocated,615000,157500\n"  # homes not a number
        "S2,10,demolished,615100,157600\n"  # status not allowed
        ",5,allocated,615200,157700\n"  # no reference
        "S1,7,allocated,615300,157800\n"  # duplicate reference
        "S5,7,allocated,615300,x\n"  # unreadable coordinate
        "S6,7,allocated,-200000,157800\n"  # outside Great Britain
        "S7,3,permitted,,\n",  # no geometry
    )
    with pytest.raises(IngestRejected, match=r"7 of 7 rows have problems \(100\.0%\)") as rejected:
        ingest(sites, bad)
    failed = rejected.value.version
    assert failed.state == VersionState.FAILED
    problems = [(p["row"], p["field"], p["value"], p["problem"]) for p in failed.report["problems"]]
    assert problems == [
        (1, "homes", "forty", "'forty' is not a whole number"),
        (2, "status", "demolished", "is not one of: allocated, permitted"),
        (3, "ref", "", "the reference is empty"),  # once, though the schema requires it too
        (4, "reference", "S1", "reference 'S1' is also on row 1"),
        (5, "Northing", "x", "is not a number"),
        (6, "geometry", "POINT(-200000 157800)",
         "lies outside Great Britain (in British National Grid, E -200000 N 157800)"),
        (7, "geometry", "", "the geometry is missing or empty"),
    ]  # fmt: skip
    # The current version is the one before, complete.
    before.refresh_from_db()
    assert before.is_current
    assert list(current_features(sites).values_list("reference", flat=True)) == ["KEEP"]


def test_below_the_threshold_bad_rows_are_left_out_and_listed(sites, tmp_path):
    path = csv(tmp_path, "ref,Easting,Northing\nA,615000,157500\nB,615100,157600\n"
                         "C,615200,157700\nD,oops,157800\n")  # fmt: skip
    with pytest.raises(IngestRejected, match="over the 20% allowed"):
        ingest(sites, path, IngestMapping(reference="ref", max_invalid_share=0.2))
    version = ingest(sites, path, IngestMapping(reference="ref", max_invalid_share=0.25))
    assert version.is_current and version.report["rows_rejected"] == 1
    assert sorted(current_features(sites).values_list("reference", flat=True)) == ["A", "B", "C"]


def test_invalid_polygons_are_repaired_and_counted(personas, tmp_path):
    areas = dataset_make(slug="areas", owner=personas.organisation_a, geometry_type="polygon")
    bowtie = shapely.Polygon([(615000, 157000), (616000, 158000), (616000, 157000),
                              (615000, 158000), (615000, 157000)])  # fmt: skip
    square = shapely.box(617000, 157000, 618000, 158000)
    path = tmp_path / "areas.gpkg"
    pyogrio.raw.write(
        path, np.array(shapely.to_wkb([bowtie, square]), dtype=object),
        [np.array(["bowtie", "square"], dtype=object)], ["ref"],
        driver="GPKG", geometry_type="Polygon", crs="EPSG:27700",
    )  # fmt: skip
    version = ingest(areas, path)
    assert version.report["geometries_repaired"] == 1
    assert version.report["repaired_references"] == ["bowtie"]  # the report names them
    repaired = current_features(areas).get(reference="bowtie").geom
    assert repaired.valid and repaired.area == pytest.approx(500_000)


def test_a_polygon_of_no_area_is_a_problem_of_its_row_not_a_repair(personas, tmp_path):
    """A polygon whose corners lie on one line is invalid, and nothing of it is left when it is
    repaired: its row says so, once, and the report does not count it as repaired."""
    areas = dataset_make(slug="areas", owner=personas.organisation_a, geometry_type="polygon")
    flat = shapely.Polygon([(615000, 157000), (616000, 157000), (615500, 157000)])
    square = shapely.box(617000, 157000, 618000, 158000)
    path = tmp_path / "areas.gpkg"
    pyogrio.raw.write(
        path, np.array(shapely.to_wkb([flat, square]), dtype=object),
        [np.array(["flat", "square"], dtype=object)], ["ref"],
        driver="GPKG", geometry_type="Polygon", crs="EPSG:27700",
    )  # fmt: skip
    version = ingest(areas, path, IngestMapping(reference="ref", max_invalid_share=0.5))
    assert version.report["geometries_repaired"] == 0
    assert version.report["repaired_references"] == []
    assert [(p["row"], p["field"], p["problem"]) for p in version.report["problems"]] == [
        (1, "geometry", "is invalid, and nothing is left of it when repaired: a polygon of no area")
    ]
    assert list(current_features(areas).values_list("reference", flat=True)) == ["square"]


@pytest.mark.parametrize(
    ("crs", "start", "end"),
    [
        pytest.param("EPSG:27700", (615000, 157500), (615100, 157600), id="grid"),
        pytest.param("EPSG:4326", (1.0789, 51.2802), (1.0803, 51.2811), id="wgs84"),
    ],
)
def test_heights_are_dropped_and_noted(personas, tmp_path, crs, start, end):
    """Heights (GPS, CAD levels) are common in exports; the platform keeps two dimensions and
    says how many geometries lost theirs, whichever coordinate system they came in."""
    routes = dataset_make(slug="routes", owner=personas.organisation_a, geometry_type="line")
    shapes = {
        "high": shapely.LineString([(*start, 12.5), (*end, 3.0)]),
        "low": shapely.LineString([(*start, -1.0), (*end, 0.0)]),
        "flat": shapely.LineString([start, end]),
    }
    path = tmp_path / "routes.gpkg"
    pyogrio.raw.write(
        path, np.array(shapely.to_wkb(list(shapes.values()), flavor="iso"), dtype=object),
        [np.array(list(shapes), dtype=object)], ["ref"],
        driver="GPKG", geometry_type="Unknown", crs=crs,
    )  # fmt: skip

    version = ingest(routes, path)

    assert version.report["geometries_flattened"] == 2
    assert "2 geometries had heights (Z)" in " ".join(version.report["notes"])
    stored = {feature.reference: feature.geom for feature in current_features(routes)}
    assert sorted(stored) == ["flat", "high", "low"]
    assert not any(geometry.hasz for geometry in stored.values())
    assert stored["high"].equals_exact(stored["flat"], 1e-6)
    assert stored["low"].equals_exact(stored["flat"], 1e-6)


def test_geometry_collections_become_polygons_when_that_is_all_they_hold(personas, tmp_path):
    areas = dataset_make(slug="areas", owner=personas.organisation_a, geometry_type="polygon")
    before = version_publish_points(dataset=areas, points={})
    square = {"type": "Polygon", "coordinates": [[[1.07, 51.28], [1.08, 51.28], [1.08, 51.29],
                                                  [1.07, 51.29], [1.07, 51.28]]]}  # fmt: skip
    triangle = {"type": "Polygon",
                "coordinates": [[[1.09, 51.28], [1.1, 51.28], [1.1, 51.29], [1.09, 51.28]]]}  # fmt: skip

    def collection(*parts):
        return {"type": "GeometryCollection", "geometries": list(parts)}

    path = tmp_path / "areas.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ref": "only-polygons"},
         "geometry": collection(square, triangle)},
        {"type": "Feature", "properties": {"ref": "with-a-point"},
         "geometry": collection(square, {"type": "Point", "coordinates": [1.0, 51.0]})},
    ]}))  # fmt: skip

    with pytest.raises(IngestRejected, match=r"1 of 2 rows have problems") as rejected:
        ingest(areas, path)
    assert rejected.value.version.report["problems"] == [
        {"row": 2, "field": "geometry", "value": "GEOMETRYCOLLECTION",
         "problem": "a GEOMETRYCOLLECTION mixing polygons with other kinds of geometry: save its "
                    "polygons as one feature and the rest elsewhere"},
    ]  # fmt: skip
    before.refresh_from_db()
    assert before.is_current

    version = ingest(areas, path, IngestMapping(reference="ref", max_invalid_share=0.5))
    stored = current_features(areas).get()
    assert version.is_current and stored.reference == "only-polygons"
    assert stored.geom.geom_type == "MultiPolygon" and len(stored.geom) == 2


def test_spreadsheet_dates_are_iso_and_a_blank_date_is_unknown(personas, tmp_path):
    sites = dataset_make(slug="dated", owner=personas.organisation_a)
    path = tmp_path / "sites.xlsx"
    pyogrio.raw.write(
        path, None,
        [np.array(["A", "B"], dtype=object), np.array([615000, 615100]),
         np.array([157500, 157600]), np.array(["2024-03-01", "NaT"], dtype="datetime64[D]"),
         np.array(["2024-03-01T14:30:00", "NaT"], dtype="datetime64[ms]")],
        ["ref", "Easting", "Northing", "permitted", "visited"], driver="XLSX", geometry_type=None,
    )  # fmt: skip
    ingest(sites, path)
    stored = {f.reference: f.properties for f in current_features(sites)}
    assert (stored["A"]["permitted"], stored["A"]["visited"]) == (
        "2024-03-01",
        "2024-03-01T14:30:00",
    )
    assert (stored["B"]["permitted"], stored["B"]["visited"]) == (None, None)  # not "None"


def test_a_reference_column_the_source_lacks_is_said_once_with_the_columns_it_has(sites, tmp_path):
    path = csv(tmp_path, "site,Easting,Northing\nS1,615000,157500\nS2,615100,157600\n")
    with pytest.raises(IngestRejected) as rejected:
        ingest(sites, path)  # the mapping's reference is "ref"
    report = rejected.value.version.report
    assert report["error"] == (
        "The source has no column 'ref' to read each feature's reference from (its columns are: "
        "site, Easting, Northing). Choose the column that identifies each feature as the "
        "reference column, or rename one to it."
    )
    assert report["problems"] == []  # not the same problem on every row


def test_a_reference_longer_than_the_platform_keeps_is_a_row_problem(sites, tmp_path):
    before = version_publish_points(dataset=sites, points={"KEEP": CANTERBURY})
    long = "R" * 201
    path = csv(tmp_path, f"ref,Easting,Northing\n{long},615000,157500\nS2,615100,157600\n")
    with pytest.raises(IngestRejected, match=r"1 of 2 rows have problems") as rejected:
        ingest(sites, path)
    assert rejected.value.version.report["problems"] == [
        {"row": 1, "field": "ref", "value": "R" * 40 + "…",
         "problem": "the reference is longer than 200 characters"},
    ]  # fmt: skip
    before.refresh_from_db()
    assert before.is_current and current_features(sites).count() == 1
    version = ingest(sites, path, IngestMapping(reference="ref", max_invalid_share=0.5))
    assert list(current_features(sites).values_list("reference", flat=True)) == ["S2"]
    assert version.report["rows_rejected"] == 1


def test_geometry_of_the_wrong_kind_is_refused(sites, tmp_path):
    path = tmp_path / "mixed.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ref": "P"},
         "geometry": {"type": "Point", "coordinates": [1.0789, 51.2802]}},
        {"type": "Feature", "properties": {"ref": "L"},
         "geometry": {"type": "LineString", "coordinates": [[1.07, 51.28], [1.08, 51.29]]}},
    ]}))  # fmt: skip
    with pytest.raises(IngestRejected) as rejected:
        ingest(sites, path)
    assert rejected.value.version.report["problems"] == [
        {"row": 2, "field": "geometry", "value": "LINESTRING",
         "problem": "a LINESTRING in a dataset of points"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty"),
        (b"ref,Easting,Northing\n", "a header but no rows"),
        (b"ref,Ward\nA,Northgate\n", "no coordinate columns"),
        (b'{"type": "FeatureCollection", "features": [', "truncated or damaged"),
    ],
)
def test_unreadable_sources_fail_the_version_with_the_reason(sites, tmp_path, content, message):
    before = version_publish_points(dataset=sites, points={"KEEP": CANTERBURY})
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(IngestRejected, match=message) as rejected:
        ingest(sites, path)
    assert message in rejected.value.version.report["error"]
    before.refresh_from_db()
    assert before.is_current and current_features(sites).count() == 1


def test_a_whole_file_read_as_a_header_is_not_copied_into_the_message(sites, tmp_path):
    """A GeoJSON of one huge polygon named .csv is one header line of 200 kB: the reason quotes
    its start, not all of it, so the load's and the dataset's pages stay small."""
    header = "[[[[" + "[1.08]" * 30_000 + "]]]]"
    path = csv(tmp_path, header + "\n1\n")
    with pytest.raises(IngestRejected, match="no coordinate columns") as rejected:
        ingest(sites, path)
    error = rejected.value.version.report["error"]
    assert len(error) < 1_000 and "Its columns are: [[[[[1.08][1.08]" in error


def test_a_reference_in_two_unicode_forms_is_a_duplicate_of_its_row(sites, tmp_path):
    """ "Café" with é as one character and as "e" and a combining accent is one reference: the
    second row is a problem of its own, not an internal error when it is published."""
    composed, decomposed = "Caf\u00e9", "Cafe\u0301"
    path = csv(
        tmp_path,
        f"ref,Easting,Northing\n{composed},615000,157500\nB,615100,157600\n"
        f"{decomposed},615200,157700\n",
    )
    version = ingest(sites, path, IngestMapping(reference="ref", max_invalid_share=0.5))
    assert [(p["row"], p["field"], p["problem"]) for p in version.report["problems"]] == [
        (3, "reference", f"reference '{decomposed}' is also on row 1")
    ]
    assert sorted(current_features(sites).values_list("reference", flat=True)) == ["B", composed]


def test_spaces_around_a_reference_are_not_part_of_it(sites, tmp_path):
    """A spreadsheet's stray space ("E1 ") is the same feature as E1: the row repeats row 1's
    reference rather than adding a second feature, and a reference of spaces alone is empty.
    The GeoJSON form of the same slip is read the same way."""
    path = csv(
        tmp_path,
        'ref,Easting,Northing\nE1,615000,157500\n"E1 ",615100,157600\n" E2",615200,157700\n'
        '"  ",615300,157800\n',
    )
    version = ingest(sites, path, IngestMapping(reference="ref", max_invalid_share=0.5))
    assert [(p["row"], p["field"], p["problem"]) for p in version.report["problems"]] == [
        (2, "reference", "reference 'E1' is also on row 1"),
        (4, "ref", "the reference is empty"),
    ]
    features = dict(current_features(sites).values_list("reference", "properties__ref"))
    assert features == {"E1": "E1", "E2": "E2"}

    geojson = tmp_path / "sites.geojson"
    geojson.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
        '{"ref": " E2 "}, "geometry": {"type": "Point", "coordinates": [1.08, 51.28]}}]}'
    )
    ingest(sites, geojson, IngestMapping(reference="ref", allow_large_removal=True))
    assert list(current_features(sites).values_list("reference", flat=True)) == ["E2"]


def test_a_councils_part_lying_in_another_district_is_listed_in_the_report(
    sites, personas, districts, client_as, tmp_path
):
    """Dover's data manager loaded Dover's sites shifted into Canterbury without a word: a
    council's part is checked against the council's own district."""
    demo_dataset_load("wards")
    Organisation.objects.filter(pk=personas.organisation_b.pk).update(
        kind="district", area_code="E07000108"
    )
    dover = Organisation.objects.get(pk=personas.organisation_b.pk)  # as a load reads it
    sites.contributing_organisations.add(dover)
    path = csv(
        tmp_path, "ref,Easting,Northing\nIN-DOVER,631800,141500\nIN-CANTERBURY,615000,157500\n"
    )

    version = ingest(sites, path, organisation=dover)

    assert version.report["placement"]["outside_own_area"] == ["IN-CANTERBURY"]
    page = client_as(personas.data_manager_a).get(f"/datasets/sites/versions/{version.number}/")
    assert (
        f"Lying in another district than {dover.name}'s own: 1 (IN-CANTERBURY)"
        in page.content.decode()
    )


def test_a_row_with_a_problem_keeps_its_feature_as_it_was(sites, tmp_path):
    """A slip in one row of a council's file must not take a live site off the map."""
    ingest(
        sites,
        csv(tmp_path, "ref,homes,Easting,Northing\nS1,40,615000,157500\nS2,12,615100,157600\n"),
    )
    version = ingest(
        sites,
        csv(
            tmp_path,
            "ref,homes,Easting,Northing\nS1,about 40,615000,157500\nS2,14,615100,157600\n"
            "S3,many,615200,157700\n",
            "again.csv",
        ),
        IngestMapping(reference="ref", max_invalid_share=0.7),
    )

    assert (version.report["added"], version.report["changed"], version.report["removed"]) == (
        0, 1, 0
    )  # fmt: skip
    assert version.report["kept"] == 1
    assert (
        "1 row with problems is a feature of the current version: kept as it was, not removed "
        "(S1)." in version.report["notes"][-1]
    )
    homes = dict(current_features(sites).values_list("reference", "properties__homes"))
    assert homes == {"S1": 40, "S2": 14}  # S3 was never a feature: nothing to keep
    # The problem itself says so, for a report read alone (its CSV); S3's does not.
    problems = {p["row"]: p["problem"] for p in version.report["problems"]}
    assert problems == {
        1: "'about 40' is not a whole number (feature 'S1' is kept as the current version has it)",
        3: "'many' is not a whole number",
    }


def test_a_row_whose_point_cannot_be_made_keeps_its_feature_as_it_was(sites, tmp_path):
    """A coordinate left empty, or one no point can be made of, is found before the row is
    staged: the live site is kept all the same, and the row's problem is said once."""
    ingest(
        sites,
        csv(
            tmp_path,
            "ref,homes,Easting,Northing\nS1,40,615000,157500\nS2,12,615100,157600\n"
            "S3,8,615200,157700\n",
        ),
    )
    version = ingest(
        sites,
        csv(
            tmp_path,
            "ref,homes,Easting,Northing\nS1,41,615000,\nS2,14,615100,157600\n"
            "S3,9,615200,1e400\nS4,5,,157800\n",
            "again.csv",
        ),
        IngestMapping(reference="ref", max_invalid_share=0.8),
    )

    assert (version.report["added"], version.report["removed"], version.report["kept"]) == (
        0, 0, 2
    )  # fmt: skip
    homes = dict(current_features(sites).values_list("reference", "properties__homes"))
    assert homes == {"S1": 40, "S2": 14, "S3": 8}  # S4 was never a feature: nothing to keep
    problems = [(p["row"], p["field"]) for p in version.report["problems"]]
    # One problem each: not "the geometry is missing" as well.
    assert problems == [(1, "Northing"), (3, "geometry"), (4, "Easting")]
    assert (
        "(feature 'S1' is kept as the current version has it)"
        in (version.report["problems"][0]["problem"])
    )


def test_coordinate_columns_are_the_geometry_not_properties_unless_the_schema_has_them(
    sites, personas, tmp_path
):
    path = csv(tmp_path, "ref,homes,Easting,Northing\nS1,40,615000,157500\n")
    ingest(sites, path)
    assert current_features(sites).get().properties == {"ref": "S1", "homes": 40, "status": None}

    surveyed = dataset_make(
        slug="surveyed", owner=personas.organisation_a,
        field_schema=[{"name": "Easting", "type": "integer", "title": "Easting"}],
    )  # fmt: skip
    ingest(surveyed, path)
    assert current_features(surveyed).get().properties["Easting"] == 615000


def test_a_download_loaded_again_changes_nothing(personas, client_as, tmp_path):
    """Download, correct in a spreadsheet, load again: the platform's own columns (district,
    easting ...) are not kept, and a field written as property_Easting is read as Easting."""
    sites = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "name", "type": "string", "title": "Name"},
                      {"name": "Easting", "type": "integer", "title": "Easting"}],
    )  # fmt: skip
    ingest(
        sites,
        csv(tmp_path, "ref,name,Easting,Northing\nS1,Mill Lane,615000,157500\n"
                      "S2,Station Road,615100,157600\n"),
    )  # fmt: skip
    before = dict(current_features(sites).values_list("reference", "properties"))
    downloaded = tmp_path / "download.csv"
    response = client_as(personas.data_manager_a).get("/datasets/sites/download.csv")
    downloaded.write_bytes(b"".join(response.streaming_content))
    assert "property_Easting" in downloaded.read_text().splitlines()[0]

    version = ingest(sites, downloaded, IngestMapping(reference="reference"))

    assert (version.report["added"], version.report["changed"], version.report["removed"]) == (
        0, 0, 0
    )  # fmt: skip
    assert dict(current_features(sites).values_list("reference", "properties")) == before
    assert any(
        note.startswith("The file is a download from this platform")
        and "property_Easting is read as Easting" in note
        for note in version.report["notes"]
    )


def test_a_download_whose_fields_share_the_platforms_column_names_loads_back_unchanged(
    personas, client_as, tmp_path
):
    """A register whose features carry their own latitude and longitude, in the schema or not:
    the download writes them as property_latitude and property_longitude beside its own
    columns of those names, and loading it back reads them as the properties they were."""
    sites = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "name", "type": "string", "title": "Name"},
                      {"name": "latitude", "type": "number", "title": "Latitude"}],
    )  # fmt: skip
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1.08, 51.28]},
         "properties": {"ref": f"S{n}", "name": f"Site {n}", "latitude": 51.2801 + n,
                        "longitude": "1.0801"}}
        for n in range(2)
    ]}))  # fmt: skip
    ingest(sites, path)
    before = dict(current_features(sites).values_list("reference", "properties"))
    downloaded = tmp_path / "download.csv"
    response = client_as(personas.data_manager_a).get("/datasets/sites/download.csv")
    downloaded.write_bytes(b"".join(response.streaming_content))
    header = downloaded.read_text().splitlines()[0]
    assert "property_latitude" in header and "property_longitude" in header

    version = ingest(sites, downloaded, IngestMapping(reference="reference"))

    assert (version.report["added"], version.report["changed"], version.report["removed"]) == (
        0, 0, 0
    )  # fmt: skip
    assert dict(current_features(sites).values_list("reference", "properties")) == before


def _points_csv(tmp_path: Path, references: list[str], name: str) -> Path:
    rows = "".join(f"{ref},{615000 + n},157500\n" for n, ref in enumerate(references))
    return csv(tmp_path, "ref,Easting,Northing\n" + rows, name)


def test_a_load_removing_most_features_is_rejected_unless_allowed(sites, tmp_path):
    """A wrong file, or a service answering with a fraction of its features, must not empty
    the map at once."""
    full = [f"S{n}" for n in range(20)]
    ingest(sites, _points_csv(tmp_path, full, "full.csv"))
    # Half removed is allowed (a real refresh can be that large); more is not.
    half = ingest(sites, _points_csv(tmp_path, full[:10], "half.csv"))
    assert (half.report["removed"], half.report["added"]) == (10, 0)
    few = _points_csv(tmp_path, ["S0", "S1", "S2", "S3", "NEW"], "few.csv")

    with pytest.raises(IngestRejected) as rejected:
        ingest(sites, few)

    assert str(rejected.value) == (
        "This load would remove 6 of the 10 current features (60%) and add 1: a load may remove "
        "at most half of them unless it is allowed to, in case the wrong file was chosen or the "
        "source answered only in part. If the removals are meant, load it again allowing large "
        "removals (a choice on the upload and source pages; --allow-large-removal at the command "
        "line)."
    )
    failed = rejected.value.version
    assert failed.state == VersionState.FAILED and failed.report["rejected"] is True
    assert half.number == sites.current_version.number
    assert current_features(sites).count() == 10

    allowed = ingest(sites, few, IngestMapping(reference="ref", allow_large_removal=True))
    assert allowed.is_current and (allowed.report["removed"], allowed.report["added"]) == (6, 1)


def test_a_small_part_is_not_held_to_the_removal_limit(sites, tmp_path):
    """Below ten current features one replaced outline or site is routine, not an accident."""
    ingest(sites, _points_csv(tmp_path, ["A", "B", "C"], "three.csv"))
    version = ingest(sites, _points_csv(tmp_path, ["D"], "one.csv"))
    assert version.is_current and version.report["removed"] == 3


def test_a_point_outside_britain_is_reported_as_the_source_wrote_it(sites, tmp_path):
    """An officer fixes the cell they typed: latitude and longitude, not grid numbers the
    platform computed."""
    path = csv(tmp_path, "ref,latitude,longitude\nA,51.28,1.08\nSEA,52.51,3.0\n")
    with pytest.raises(IngestRejected) as rejected:
        ingest(sites, path)
    [problem] = rejected.value.version.report["problems"]
    assert (problem["row"], problem["field"], problem["value"]) == (
        2, "geometry", "latitude 52.51, longitude 3"
    )  # fmt: skip
    assert problem["problem"].startswith("lies outside Great Britain (in British National Grid, E")


def test_a_grid_point_outside_britain_is_reported_with_its_decimals(sites, tmp_path):
    """Degrees typed into a grid table's row: the report's value is the cell's 1.3 and 51.13,
    not a point rounded to the metre (POINT(1 51)) that names no cell."""
    path = csv(
        tmp_path,
        "ref,Easting,Northing\nA,615000,157500\nB,615100,157600\nC,615200,157700\nD,1.3,51.13\n",
    )
    with pytest.raises(IngestRejected) as rejected:
        ingest(sites, path)
    [problem] = rejected.value.version.report["problems"]
    assert (problem["row"], problem["value"]) == (4, "POINT(1.3 51.13)")


def test_a_source_that_fails_before_staging_reports_the_rows_it_read(sites, tmp_path):
    path = csv(tmp_path, "site,Easting,Northing\n" + "S,615000,157500\n" * 20)
    with pytest.raises(IngestRejected) as rejected:
        ingest(sites, path)  # no "ref" column
    report = rejected.value.version.report
    assert report["rows_read"] == 20 and "rejected" not in report
