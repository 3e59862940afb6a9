"""Reading typed coordinates, checked against real places.

Reference values:
- Canterbury Cathedral: 51.2798 N, 1.0830 E (Wikipedia, "Canterbury Cathedral", coordinates
  box). pyproj 3.8 (EPSG:4326 -> EPSG:27700, the Helmert PROJ uses here, see
  docs/coordinates.md) gives 615109.5 E, 157920.8 N, i.e. the 100 m square TR 151 579; the
  brief's TR 150 578 is the square next to it, about 100 m south-west.
- Postcode CT1 2EH (the cathedral precincts): 615146 E, 157812 N in the ONS Postcode Directory
  (data/kent_postcodes_onspd, ONSPD Nov 2025).
- 100 km square TR: south-west corner 600000 E, 100000 N (Ordnance Survey, "A guide to
  coordinate systems in Great Britain", the National Grid's lettering: T is the 500 km square
  east of S; in it, R is the second column of the fourth row from the top).
- Ben Nevis summit: NN 166 712 (Ordnance Survey; Wikipedia "Ben Nevis"), 216600 E, 771200 N.
- 100 km square TW (600-700 km E, 0-100 km N) holds no land of Great Britain (Ordnance Survey's
  index of squares): 615000 E, 15750 N and 50.003 N, 0.999 E (pyproj: 615001 E, 15736 N) are in
  the Channel off Dieppe. St Helier, Jersey: 49.19 N, 2.11 W (Wikipedia), south of the grid.
"""

import pytest
from pyproj import Transformer

from infraplan.core.coordinates import CoordinateError, coordinates_parse, grid_reference_parse

CATHEDRAL_LAT_LON = (51.2798, 1.0830)
CATHEDRAL_BNG = (615109.5, 157920.8)


def _xy(location) -> tuple[float, float]:
    return location.point.x, location.point.y


@pytest.mark.parametrize(
    ("text", "box"),
    [
        ("TR 150 578", (615000, 157800, 615100, 157900)),
        ("TR150578", (615000, 157800, 615100, 157900)),
        ("tr 1 5", (610000, 150000, 620000, 160000)),
        ("TR 15 57", (615000, 157000, 616000, 158000)),
        ("TR 1500 5780", (615000, 157800, 615010, 157810)),
        ("TR1500057800", (615000, 157800, 615001, 157801)),
        ("TR 15109 57920", (615109, 157920, 615110, 157921)),
        ("NN 166 712", (216600, 771200, 216700, 771300)),
    ],
)
def test_a_grid_reference_is_its_square_and_centre(text, box):
    location = coordinates_parse(text)
    assert location.kind == "grid-reference"
    assert location.box == box
    assert location.point.srid == 27700
    assert _xy(location) == ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def test_canterbury_cathedral_by_grid_reference_lat_lon_and_eastings_northings():
    by_grid = coordinates_parse("TR 151 579")
    min_e, min_n, max_e, max_n = by_grid.box
    assert min_e <= CATHEDRAL_BNG[0] < max_e and min_n <= CATHEDRAL_BNG[1] < max_n

    by_lat_lon = coordinates_parse("51.2798, 1.0830")
    assert by_lat_lon.kind == "latitude-longitude"
    assert _xy(by_lat_lon) == pytest.approx(CATHEDRAL_BNG, abs=0.5)

    # Longitude first: still the cathedral, not a point in the sea.
    assert _xy(coordinates_parse("1.0830 51.2798")) == pytest.approx(CATHEDRAL_BNG, abs=0.5)

    expected = Transformer.from_crs(27700, 4326, always_xy=True).transform(*CATHEDRAL_BNG)
    assert expected == pytest.approx((CATHEDRAL_LAT_LON[1], CATHEDRAL_LAT_LON[0]), abs=1e-5)


@pytest.mark.parametrize(
    "text", ["615146,157812", "615146 157812", "E 615146 N 157812", "e615146, n157812"]
)
def test_eastings_and_northings_of_a_real_postcode(text):
    location = coordinates_parse(text)
    assert location.kind == "eastings-northings"
    assert _xy(location) == (615146, 157812)
    assert location.box is None


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # Lerwick, Shetland: northings past a million are written out, not as 1.141e+06.
        ("447000 1141000", "447000, 1141000"),
        ("E 447000.5 N 1141000.25", "447000.5, 1141000.25"),
        ("615000.75, 157500.25", "615000.75, 157500.25"),
        # Every decimal typed is kept: 51.2782 would be 4 m south of 51.27824.
        ("51.27824, 1.0794", "51.27824, 1.0794"),
        ("1.0794, 51.27824", "51.27824, 1.0794"),
        ("60.1530123,-1.1490456", "60.1530123, -1.1490456"),
    ],
)
def test_a_location_is_labelled_with_the_coordinates_as_typed(text, label):
    assert coordinates_parse(text).label == label


def test_a_place_outside_great_britain_is_named_as_typed():
    with pytest.raises(CoordinateError, match=r"^615000, 1400000 is outside Great Britain"):
        coordinates_parse("615000 1400000")


@pytest.mark.parametrize(
    "text", ["Canterbury", "CT1 2EH", "Herne Bay", "TR", "12", "A2 road", "St Mary 2nd"]
)
def test_text_that_is_not_coordinates_is_left_for_a_name_search(text):
    assert coordinates_parse(text) is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("ZZ 150 575", "ZZ is not a square of the National Grid"),
        ("TI 150 575", "TI is not a square of the National Grid"),
        ("TR 150 57", "same number of digits"),
        ("TR15057", r"odd number of digits \(5\)"),
        ("TR 1 2 3", "two groups of digits \\(or one run of them\\), not 3"),
        ("TR 15 05 75", "two groups of digits \\(or one run of them\\), not 3"),
        ("TR 123456 654321", "2 to 10 digits, not 12"),
        ("TN 150 575", "outside Great Britain"),
        ("615000, 1400000", "outside Great Britain"),
        # 157500 with a digit left out: in the Channel off France, in a square without land.
        (
            "615000, 15750",
            "^615000, 15750 is outside Great Britain: it is in the National Grid "
            "square TW, which holds no land of Great Britain",
        ),
        (
            "50.003, 0.999",
            "^50.003, 0.999 is outside Great Britain: it is in the National Grid square TW",
        ),
        ("49.19, -2.11", "^49.19, -2.11 is outside Great Britain: it is off the National Grid"),
        ("40.7, -74.0", "outside the United Kingdom"),
        ("51.28, 615000.5", "mixes degrees and metres"),
    ],
)
def test_malformed_coordinates_say_what_is_wrong(text, why):
    with pytest.raises(CoordinateError, match=why):
        coordinates_parse(text)


def test_grid_reference_parse_refuses_other_text():
    with pytest.raises(CoordinateError, match="two letters and then 2 to 10 digits"):
        grid_reference_parse("615000 157500")


@pytest.mark.parametrize(
    "text",
    [
        # 51.2798 N, 1.0830 E in degrees, minutes and seconds: 51°16'47.28"N, 1°04'58.8"E.
        "51°16'47.28\"N 1°04'58.8\"E",
        "51°16\u203247.28\u2033N, 1°04\u203258.8\u2033E",  # primes
        "51º 16' 47.28'' N, 1º 4' 58.8'' E",
        "51 16 47.28 N 1 4 58.8 E",
        "N51 16 47.28 E1 4 58.8",
        "1°04'58.8\"E 51°16'47.28\"N",
        "N 51 16.788, E 1 4.98",
        "51.2798N 1.0830E",
        "51.2798°, 1.0830°",
        "51°16'47.28\", 1°04'58.8\"",
    ],
)
def test_canterbury_cathedral_in_degrees_minutes_and_seconds(text):
    location = coordinates_parse(text)
    assert location.kind == "latitude-longitude"
    assert _xy(location) == pytest.approx(CATHEDRAL_BNG, abs=0.5)


def test_west_and_south_letters_make_the_coordinate_negative():
    # Land's End, 50°03'58"N 5°42'53"W (Wikipedia): a longitude west of Greenwich.
    location = coordinates_parse("50°03'58\"N 5°42'53\"W")
    assert location.label == "50.0661111, -5.7147222"
    with pytest.raises(CoordinateError, match="outside the United Kingdom"):
        coordinates_parse("51 16 47 S 1 4 59 E")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("51 60 N 1 4 E", "has 60 minutes: minutes run from 0 to 59"),
        ("51 16 75 N 1 4 59 E", "has 75 seconds: seconds run from 0 to 59"),
        ("51.5 16 N 1 4 E", "only the last figure of each coordinate may have decimals"),
        ("51 16 N 1 4 S", "gives two latitudes"),
        ("1 4 E 2 5 W", "gives two longitudes"),
    ],
)
def test_malformed_degrees_minutes_and_seconds_say_what_is_wrong(text, why):
    with pytest.raises(CoordinateError, match=why):
        coordinates_parse(text)


@pytest.mark.parametrize("text", ["N1 9GU", "SE1 7PB", "W1A 1AA", "E 17 road"])
def test_postcodes_and_names_with_compass_letters_are_not_degrees(text):
    assert coordinates_parse(text) is None
