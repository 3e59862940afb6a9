"""Loader options the demo data needs: reported missing geometry, joins, types, derived
references and placement in districts and wards (real PostGIS, real boundaries)."""

import json
from pathlib import Path

import pytest
import shapely
from pyproj import Transformer

from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.loading import (
    Join,
    LoadError,
    LoadOptions,
    Placement,
    PointColumns,
    dataset_load_file,
)
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db
TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


def write_points(path: Path, points: dict[str, tuple[float, float] | None], **extra) -> Path:
    """A GeoJSON file of points given in BNG (None: no geometry)."""
    features = []
    for reference, position in points.items():
        geometry = None
        if position is not None:
            lon, lat = TO_WGS84.transform(*position)
            geometry = {"type": "Point", "coordinates": [lon, lat]}
        properties = {"ref": reference, **extra.get(reference, {})}
        features.append({"type": "Feature", "properties": properties, "geometry": geometry})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_rows_without_geometry_are_reported_when_asked_and_fail_by_default(sites, tmp_path):
    path = write_points(tmp_path / "p.geojson", {"a": (601300, 142700), "b": None})
    with pytest.raises(LoadError, match="row 2, geometry: the geometry is missing or empty"):
        dataset_load_file(actor=None, dataset=sites, path=path, options=LoadOptions("ref"))
    options = LoadOptions("ref", missing_geometry="report")
    version = dataset_load_file(actor=None, dataset=sites, path=path, options=options)
    assert version.report["skipped"] == [{"row": 2, "reference": "b", "reason": "no geometry"}]
    assert list(current_features(sites).values_list("reference", flat=True)) == ["a"]


def test_spaces_around_a_reference_are_not_part_of_it(sites, tmp_path):
    """As a load through the pipeline reads them: "a " repeats row 1's reference."""
    path = write_points(tmp_path / "p.geojson", {"a": (601300, 142700), "a ": (601400, 142800)})
    with pytest.raises(LoadError, match="row 2, ref: reference 'a' is also on row 1"):
        dataset_load_file(actor=None, dataset=sites, path=path, options=LoadOptions("ref"))
    path = write_points(tmp_path / "q.geojson", {" b ": (601300, 142700)})
    dataset_load_file(actor=None, dataset=sites, path=path, options=LoadOptions("ref"))
    assert list(current_features(sites).values_list("reference", flat=True)) == ["b"]


def test_csv_points_types_and_derived_references(sites, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "org,site,lon,lat,homes,open\n"
        "A,1,0.8727,51.1465,12,yes\n"
        "B,1,0.8730,51.1470,,no\n"
        "B,,0.8740,51.1480,3,yes\n"
    )
    options = LoadOptions(
        reference_template="{org}/{site}",
        reference_fallback="{org}/row-{row}",
        points=PointColumns("lon", "lat"),
        field_types={"homes": "integer", "open": "boolean"},
    )
    dataset_load_file(actor=None, dataset=sites, path=path, options=options)
    rows = dict(current_features(sites).values_list("reference", "properties"))
    assert set(rows) == {"A/1", "B/1", "B/row-3"}
    assert rows["A/1"]["homes"] == 12 and rows["A/1"]["open"] is True
    assert rows["B/1"]["homes"] is None and rows["B/1"]["open"] is False
    bad = tmp_path / "bad.csv"
    bad.write_text("org,site,lon,lat,homes,open\nA,1,0.87,51.14,twelve,yes\nA,2,east,51.1,1,no\n")
    with pytest.raises(LoadError) as raised:
        dataset_load_file(actor=None, dataset=sites, path=bad, options=options)
    problems = [(p.row, p.field, p.reason) for p in raised.value.problems]
    assert problems == [
        (1, "homes", "'twelve' is not a whole number"),
        (2, "lon/lat", "('east', '51.1') is not a coordinate pair"),
    ]


def test_a_join_adds_columns_and_a_missing_match_names_the_feature(sites, tmp_path):
    path = write_points(
        tmp_path / "areas.geojson",
        {"E01000001": (601300, 142700), "E01000002": (601650, 142180)},
    )
    table = tmp_path / "population.csv"
    table.write_text("Area Codes,All Ages\nE01000001,1500\nE01000002,1650\n")
    join = Join(table, key="Area Codes", on="ref", fields={"All Ages": "population"})
    options = LoadOptions("ref", join=join, field_types={"population": "integer"})
    dataset_load_file(actor=None, dataset=sites, path=path, options=options)
    populations = dict(current_features(sites).values_list("reference", "properties__population"))
    assert populations == {"E01000001": 1500, "E01000002": 1650}
    table.write_text("Area Codes,All Ages\nE01000001,1500\n")
    with pytest.raises(LoadError, match=r"row 2, ref: 'E01000002' has no row in population\.csv"):
        dataset_load_file(actor=None, dataset=sites, path=path, options=options)


def ward_district(ward: str) -> str:
    """The district the demo's boundaries put ``ward`` in: the one holding its inner point."""
    districts = current_features(Dataset.objects.get(slug="districts"))
    inner = current_features(Dataset.objects.get(slug="wards")).get(reference=ward).geom
    return districts.get(geom__intersects=inner.point_on_surface).reference


def test_placement_uses_the_source_code_then_containment_then_the_nearest_ward(sites, tmp_path):
    wards = current_features(demo_load(only={"districts", "wards"})[1].dataset)
    # The easternmost point of all wards, on the coast: 100 m east of it is in no ward.
    east_x, east_y, east_ward = max(
        (*max(shapely.get_coordinates(shapely.from_wkb(bytes(ward.geom.wkb))), key=lambda c: c[0]),
         ward.reference)
        for ward in wards
    )  # fmt: skip
    path = write_points(
        tmp_path / "p.geojson",
        {
            "civic-centre": (601300, 142700),  # Ashford
            "labelled": (601650, 142180),  # in Ashford, but its source says Maidstone
            "bad-code": (601700, 142200),  # a source code that is not a GSS code
            "offshore": (east_x + 100, east_y),  # 100 m off the easternmost ward's coast
            "at-sea": (650000, 100000),  # the Channel
        },
        labelled={"lad": "E07000110"},
        **{"bad-code": {"lad": "n/a"}},
    )
    options = LoadOptions("ref", placement=Placement("districts", "wards", district_field="lad"))
    version = dataset_load_file(actor=None, dataset=sites, path=path, options=options)
    placed = {f.reference: (f.district, f.ward) for f in current_features(sites)}
    assert placed["civic-centre"][0] == "E07000105" and placed["civic-centre"][1]
    # Its source says Maidstone, its point lies deep in Ashford: no Maidstone ward is near it,
    # and an Ashford ward would contradict its district.
    assert placed["labelled"] == ("E07000110", "")
    assert placed["bad-code"][0] == "E07000105"
    assert placed["offshore"][1] == east_ward
    # Its nearest ward's district holds it too, so an area download of that council has it.
    east_district = ward_district(east_ward)
    assert placed["offshore"][0] == east_district != ""
    assert placed["at-sea"] == ("", "")
    report = version.report["placement"]
    assert report["district_from_source"] == 1
    assert report["ward_nearest"] == 1
    assert report["district_by_nearest_ward"] == 1
    assert {"at-sea", "offshore"} <= set(report["outside_districts"])
    assert report["district_unplaced"] == ["at-sea"]
    assert report["ward_unplaced"] == ["at-sea", "labelled"]
    assert report["ward_by_containment"] == 2


def test_a_feature_near_a_border_is_placed_in_a_ward_of_its_own_district(sites, tmp_path):
    """Districts and wards are generalised apart: near a border a point can lie in one
    district's polygon and a neighbouring district's ward. Its ward is then one of its own
    district's, the nearest within reach."""
    districts, wards = demo_load(only={"districts", "wards"})
    district_of = {}  # ward code -> the district code its source gives (LAD23CD)
    overlaps = []  # (district code, the part of a neighbouring district's ward inside it)
    district_shapes = {
        feature.reference: shapely.from_wkb(bytes(feature.geom.wkb))
        for feature in current_features(districts.dataset)
    }
    for ward in current_features(wards.dataset):
        district_of[ward.reference] = ward.properties["LAD23CD"]
        shape = shapely.from_wkb(bytes(ward.geom.wkb))
        for code, district in district_shapes.items():
            if code != ward.properties["LAD23CD"]:
                part = shapely.intersection(shape, district)
                if part.area > 10_000:
                    overlaps.append((code, part))
    code, part = max(overlaps, key=lambda overlap: overlap[1].area)
    point = part.point_on_surface()
    path = write_points(tmp_path / "p.geojson", {"border": (point.x, point.y)})
    options = LoadOptions("ref", placement=Placement("districts", "wards"))
    version = dataset_load_file(actor=None, dataset=sites, path=path, options=options)
    feature = current_features(sites).get()
    assert feature.district == code
    assert feature.ward and district_of[feature.ward] == code, version.report["placement"]


def test_placement_without_boundaries_says_so(sites, tmp_path):
    path = write_points(tmp_path / "p.geojson", {"a": (601300, 142700)})
    options = LoadOptions("ref", placement=Placement("districts", "wards"))
    version = dataset_load_file(actor=None, dataset=sites, path=path, options=options)
    assert version.report["placement"]["boundaries_missing"] == ["districts", "wards"]
    assert current_features(sites).get().district == ""


def test_the_same_file_for_another_organisations_part_is_loaded(sites, personas, tmp_path):
    """An unchanged file is skipped only for the part of the dataset it loaded: the same bytes
    from another organisation are that organisation's features."""
    path = write_points(tmp_path / "p.geojson", {"a": (601300, 142700)})
    options = LoadOptions("ref")
    first = dataset_load_file(
        actor=None, dataset=sites, path=path, options=options, organisation=personas.organisation_a
    )
    again = dataset_load_file(
        actor=None, dataset=sites, path=path, options=options, organisation=personas.organisation_a
    )
    assert again == first
    other = dataset_load_file(
        actor=None, dataset=sites, path=path, options=options, organisation=personas.organisation_b
    )
    assert other != first and other.is_current
    owners = current_features(sites).values_list("reference", "organisation__slug")
    assert sorted(owners) == [("a", "org-a"), ("a", "org-b")]


def test_a_file_loaded_again_after_another_file_is_loaded_again(sites, tmp_path):
    """A file is skipped only while it is the last file loaded into its part: the first file
    again, after a second, is a new version with the first file's features."""
    first, second = (
        write_points(tmp_path / f"{name}.geojson", {name: (601300, 142700)}) for name in ("a", "b")
    )
    options = LoadOptions("ref")
    for path in (first, second, first):
        dataset_load_file(actor=None, dataset=sites, path=path, options=options)
    assert list(current_features(sites).values_list("reference", flat=True)) == ["a"]
    assert sites.versions.count() == 3


def test_a_reference_in_two_unicode_forms_is_one_reference(sites, tmp_path):
    path = write_points(
        tmp_path / "p.geojson", {"Caf\u00e9": (601300, 142700), "Cafe\u0301": (601400, 142700)}
    )
    with pytest.raises(LoadError, match="row 2, ref: reference 'Cafe\u0301' is also on row 1"):
        dataset_load_file(actor=None, dataset=sites, path=path, options=LoadOptions("ref"))
