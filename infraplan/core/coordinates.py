"""Reading the coordinates officers type: grid references, eastings/northings and lat/lon.

``coordinates_parse`` returns a point in EPSG:27700 (British National Grid), None when the text
does not look like coordinates at all (so a search can try it as a name), or raises
``CoordinateError`` with a message for the user when it looks like coordinates but cannot be one
(unknown grid letters, an odd number of digits, a place outside Great Britain). A place is
outside Great Britain and its waters when the National Grid's 100 km square holding it holds no
land of Great Britain, whichever way it was typed: ``TW 150 157``, ``615000,15750`` and
``50.003, 0.999`` are one place, in the Channel off France, and all three are refused.

Accepted forms:
- Ordnance Survey grid references, two letters and 2 to 10 digits, spaces optional:
  ``TR 150 575``, ``TR150575``, ``tr 15000 57500``. A grid reference names a square (10 km for
  2 digits down to 1 m for 10); the point returned is the square's centre, ``box`` the square.
- Eastings and northings in metres: ``615000,157500``, ``615000 157500``, ``E 615000 N 157500``.
- WGS84 latitude and longitude in decimal degrees: ``51.28, 1.08``. Longitude first
  (``1.08, 51.28``) is recognised too: in the United Kingdom latitudes (49 to 61) and
  longitudes (-9 to 2) never overlap, so the order is never ambiguous there.
- Latitude and longitude in degrees, minutes and seconds, or with the hemisphere's letter, as
  maps and site notices write them: ``51°16'47"N 1°04'59"E``, ``51 16 47 N, 1 4 59 E``,
  ``N51 16.78 E1 4.98``, ``51.28N 1.08W``. Either order; W and S are negative. Minutes and
  seconds must be under 60, and only the last figure of each may have decimals.

Lat/lon is transformed with pyproj, as everything else here (see docs/coordinates.md for the
transformation used and its accuracy).
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Literal

from django.conf import settings
from django.contrib.gis.geos import Point
from pyproj import Transformer

# The National Grid's 500 km squares that hold Great Britain, by letter, as (easting, northing)
# of their south-west corner in units of 500 km.
_MAJOR = {"S": (0, 0), "T": (1, 0), "N": (0, 1), "O": (1, 1), "H": (0, 2), "J": (1, 2)}
_MAJOR_AT = {position: letter for letter, position in _MAJOR.items()}
# Within a 500 km square, 100 km squares are lettered A to Z without I, row by row from the
# north-west corner, five to a row.
_MINOR = "ABCDEFGHJKLMNOPQRSTUVWXYZ"
# The 100 km squares that hold some land of Great Britain (Ordnance Survey's index of squares);
# a reference in any other square is at sea or outside the country.
_LAND_SQUARE_LETTERS = (
    "HL HM HN HO HP HT HU HW HX HY HZ NA NB NC ND NF NG NH NJ NK NL NM NN NO NR NS NT NU NW NX "
    "NY NZ OV SC SD SE SH SJ SK SM SN SO SP SR SS ST SU SV SW SX SY SZ TA TF TG TL TM TQ TR TV"
)
_LAND_SQUARES = frozenset(_LAND_SQUARE_LETTERS.split())
# The National Grid's extent, in metres.
GRID_EASTING_MAX = 700_000
GRID_NORTHING_MAX = 1_300_000
# Latitude and longitude ranges that take in the United Kingdom and its islands.
UK_LATITUDE = (49.0, 61.5)
UK_LONGITUDE = (-9.0, 2.5)

_GRID_REFERENCE = re.compile(r"^\s*([A-Za-z]{2})\s*(\d[\d\s]*)$")
_NUMBER = r"([+-]?\d+(?:\.\d+)?)"
_LABELLED_EN = re.compile(
    rf"^\s*E(?:asting)?\s*:?\s*{_NUMBER}\s*,?\s*N(?:orthing)?\s*:?\s*{_NUMBER}\s*$", re.IGNORECASE
)
_PAIR = re.compile(rf"^\s*{_NUMBER}\s*(?:,\s*|\s+){_NUMBER}\s*$")
# Degrees, minutes and seconds: the marks officers type or paste, each read as one of ° ' ".
_MARKS = str.maketrans(
    {
        "\u00ba": "°",  # masculine ordinal, typed for a degree sign
        "\u02da": "°",  # ring above
        "\u2032": "'",  # prime
        "\u2019": "'",  # right single quotation mark
        "\u2018": "'",  # left single quotation mark
        "\u2033": '"',  # double prime
        "\u201d": '"',  # right double quotation mark
        "\u201c": '"',  # left double quotation mark
    }
)
_ANGLE = r"(\d+(?:\.\d+)?)\s*°?\s*(?:(\d+(?:\.\d+)?)\s*'?\s*(?:(\d+(?:\.\d+)?)\s*(?:\"|'')?)?)?"
_HEMISPHERE_ANGLE = rf"(?:([NSEW])\s*{_ANGLE}|{_ANGLE}\s*([NSEW]))"
_ANGLE_WITH_HEMISPHERES = re.compile(
    rf"^\s*{_HEMISPHERE_ANGLE}\s*[,;/]?\s*{_HEMISPHERE_ANGLE}\s*$", re.IGNORECASE
)
_SIGNED_ANGLE = (
    r"([+-]?)\s*(\d+(?:\.\d+)?)\s*°\s*(?:(\d+(?:\.\d+)?)\s*'\s*(?:(\d+(?:\.\d+)?)\s*(?:\"|'')?)?)?"
)
_ANGLES_WITH_DEGREE_MARKS = re.compile(rf"^\s*{_SIGNED_ANGLE}\s*[,;/]?\s*{_SIGNED_ANGLE}\s*$")

Kind = Literal["grid-reference", "eastings-northings", "latitude-longitude"]


class CoordinateError(ValueError):
    """Text that looks like coordinates but cannot be; the message says why, for the user."""


@dataclass(frozen=True)
class Location:
    """A place read from coordinates: a point in EPSG:27700 and, for a grid reference, its
    square as (min easting, min northing, max easting, max northing)."""

    kind: Kind
    point: Point
    label: str
    box: tuple[float, float, float, float] | None = None


def decimal_text(value: float) -> str:
    """``value`` written with every digit it holds and no exponent (1141000, not 1.141e+06;
    51.27824, not 51.2782), so that a coordinate read back from the text is the same."""
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@cache
def _to_grid() -> Transformer:
    return Transformer.from_crs(4326, 27700, always_xy=True)


def coordinates_parse(text: str) -> Location | None:
    """The location ``text`` names, or None if it does not look like coordinates.

    Raises CoordinateError when it looks like coordinates but is malformed or outside Great
    Britain and its waters.
    """
    if _GRID_REFERENCE.match(text):
        return grid_reference_parse(text)
    labelled = _LABELLED_EN.match(text)
    if labelled:
        return _eastings_northings(float(labelled[1]), float(labelled[2]))
    pair = _PAIR.match(text)
    if pair:
        return _number_pair(pair[1], pair[2])
    return _degrees_minutes_seconds(text)


def grid_square_of(easting: float, northing: float) -> str | None:
    """The letters of the National Grid's 100 km square that holds the point (``TR`` for
    615000, 157500), or None if it is off the grid's lettered squares."""
    major = _MAJOR_AT.get((easting // 500_000, northing // 500_000))
    if major is None:
        return None
    column = int(easting % 500_000 // 100_000)
    row = 4 - int(northing % 500_000 // 100_000)
    return major + _MINOR[row * 5 + column]


@dataclass(frozen=True)
class CoordinateExamples:
    """One place, the centre of the area the map covers, written in each form that
    ``coordinates_parse`` reads: the examples shown to someone searching, so that trying one
    finds a place in their own area."""

    grid_reference: str  # its 100 m square: "TR 150 575"
    eastings_northings: str  # to the 100 m: "615000,157500"
    latitude_longitude: str  # to a hundredth of a degree: "51.28, 1.08"
    degrees_minutes_seconds: str  # to the second: 51°16'47"N 1°04'59"E
    # A box around it (west,south,east,north), as the features table's area field takes one:
    # in degrees ("0.9,51.2,1.3,51.4") and on the grid in metres ("600000,150000,630000,165000").
    box_degrees: str
    box_grid: str

    @property
    def grid_reference_digits(self) -> str:
        """The figures of the grid reference, after its letters: "150 575"."""
        return self.grid_reference.split(" ", 1)[1]

    def formats_hint(self) -> str:
        return (
            f"a grid reference like {self.grid_reference}, eastings and northings like "
            f"{self.eastings_northings}, or latitude and longitude like "
            f"{self.latitude_longitude} or {self.degrees_minutes_seconds}"
        )


def coordinate_examples() -> CoordinateExamples:
    """The examples for this deployment: at the centre of its map's bounds (the profile's)."""
    west, south, east, north = settings.AUTHORITY_PROFILE.map.bounds
    return _examples_at((west + east) / 2, (south + north) / 2)


def _angle_text(value: float, positive: str, negative: str) -> str:
    seconds = round(abs(value) * 3600)
    degrees, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{degrees}°{minutes:02d}'{seconds:02d}\"{positive if value >= 0 else negative}"


@cache
def _examples_at(longitude: float, latitude: float) -> CoordinateExamples:
    easting, northing = (round(value, -2) for value in _to_grid().transform(longitude, latitude))
    easting, northing = int(easting), int(northing)
    letters = grid_square_of(easting, northing)
    figures = f"{easting % 100_000 // 100:03d} {northing % 100_000 // 100:03d}"
    return CoordinateExamples(
        grid_reference=f"{letters} {figures}",
        eastings_northings=f"{easting},{northing}",
        latitude_longitude=f"{latitude:.2f}, {longitude:.2f}",
        degrees_minutes_seconds=(
            f"{_angle_text(latitude, 'N', 'S')} {_angle_text(longitude, 'E', 'W')}"
        ),
        box_degrees=",".join(
            f"{value:.1f}"
            for value in (longitude - 0.2, latitude - 0.1, longitude + 0.2, latitude + 0.1)
        ),
        box_grid=",".join(
            str(int(round(value, -4)))
            for value in (easting - 15_000, northing - 7_500, easting + 15_000, northing + 7_500)
        ),
    )


def typed_grid_pair(text: str) -> tuple[str, str] | None:
    """The easting and northing as typed, if ``text`` is a pair of eastings and northings
    (``615000,15750``, ``E 615000 N 15750``) rather than degrees or anything else."""
    labelled = _LABELLED_EN.match(text)
    if labelled:
        return labelled[1], labelled[2]
    pair = _PAIR.match(text)
    if not pair:
        return None
    # As ``_number_pair`` reads them: not degrees, nor degrees mixed with metres.
    degrees = [abs(float(value)) <= 180 for value in (pair[1], pair[2])]
    if all(degrees) or ("." in pair[1] + pair[2] and any(degrees)):
        return None
    return pair[1], pair[2]


def _in_great_britain(easting: float, northing: float, label: str) -> None:
    """Raise CoordinateError unless the point is in a 100 km square that holds some land of
    Great Britain: as for a grid reference, a place in any other square is in the sea far
    from the coast, or in another country."""
    letters = grid_square_of(easting, northing)
    if letters is None:
        raise CoordinateError(
            f"{label} is outside Great Britain: it is off the National Grid, which covers Great "
            "Britain and its waters."
        )
    if letters not in _LAND_SQUARES:
        raise CoordinateError(
            f"{label} is outside Great Britain: it is in the National Grid square {letters}, "
            "which holds no land of Great Britain."
        )


def grid_square_letters(text: str) -> bool:
    """Whether ``text`` is only the letters that start a grid reference: those of a 100 km
    square that holds land (``TR``), or the first letter of one (``T``), without the figures."""
    letters = text.strip().upper()
    return letters in _LAND_SQUARES or (len(letters) == 1 and letters in _MAJOR)


def grid_reference_parse(text: str) -> Location:
    """An Ordnance Survey grid reference (``TR 150 575``) as the centre of its square."""
    example = coordinate_examples().grid_reference
    match = _GRID_REFERENCE.match(text)
    if not match:
        raise CoordinateError(
            f"“{text.strip()}” is not a grid reference: write two letters and then 2 to 10 "
            f"digits, like {example}."
        )
    letters = match[1].upper()
    groups = match[2].split()
    digits = "".join(groups)
    shown = f"{letters} {' '.join(groups)}"
    if letters[0] not in _MAJOR or letters[1] not in _MINOR:
        raise CoordinateError(
            f"“{shown}” is not a grid reference: {letters} is not a square of the National Grid "
            "(the first letter is one of H, J, N, O, S or T, the second any letter but I)."
        )
    if len(groups) > 2:
        raise CoordinateError(
            f"“{shown}” is not a grid reference: after the letters come the easting and the "
            f"northing, two groups of digits (or one run of them), not {len(groups)}, like "
            f"{example} or {example.replace(' ', '')}."
        )
    if len(groups) == 2 and len(groups[0]) != len(groups[1]):
        raise CoordinateError(
            f"“{shown}” is not a grid reference: the easting and northing must have the same "
            f"number of digits, like {example}."
        )
    if len(digits) % 2:
        raise CoordinateError(
            f"“{shown}” is not a grid reference: it has an odd number of digits ({len(digits)}); "
            f"the easting and northing need the same number, like {example}."
        )
    if not 2 <= len(digits) <= 10:
        raise CoordinateError(
            f"“{shown}” is not a grid reference: it needs 2 to 10 digits, not {len(digits)}."
        )
    if letters not in _LAND_SQUARES:
        raise CoordinateError(
            f"“{shown}” is outside Great Britain: the National Grid square {letters} holds no "
            "land of Great Britain."
        )
    major_e, major_n = _MAJOR[letters[0]]
    row, column = divmod(_MINOR.index(letters[1]), 5)
    square_e = major_e * 500_000 + column * 100_000
    square_n = major_n * 500_000 + (4 - row) * 100_000
    half = len(digits) // 2
    size = 10 ** (5 - half)
    min_e = square_e + int(digits[:half]) * size
    min_n = square_n + int(digits[half:]) * size
    label = f"{letters} {digits[:half]} {digits[half:]}"
    return Location(
        kind="grid-reference",
        point=Point(min_e + size / 2, min_n + size / 2, srid=27700),
        label=label,
        box=(min_e, min_n, min_e + size, min_n + size),
    )


def _number_pair(first: str, second: str) -> Location:
    a, b = float(first), float(second)
    if abs(a) <= 180 and abs(b) <= 180:
        return _latitude_longitude(a, b)
    if "." in first + second and (abs(a) <= 180 or abs(b) <= 180):
        examples = coordinate_examples()
        raise CoordinateError(
            f"“{first}, {second}” mixes degrees and metres: give latitude and longitude "
            f"({examples.latitude_longitude}) or eastings and northings "
            f"({examples.eastings_northings})."
        )
    return _eastings_northings(a, b)


def _eastings_northings(easting: float, northing: float) -> Location:
    if not (0 <= easting <= GRID_EASTING_MAX and 0 <= northing <= GRID_NORTHING_MAX):
        raise CoordinateError(
            f"{decimal_text(easting)}, {decimal_text(northing)} is outside Great Britain: "
            f"eastings run from 0 to {GRID_EASTING_MAX:,} and northings from 0 to "
            f"{GRID_NORTHING_MAX:,} metres."
        )
    label = f"{decimal_text(easting)}, {decimal_text(northing)}"
    _in_great_britain(easting, northing, label)
    return Location(
        kind="eastings-northings", point=Point(easting, northing, srid=27700), label=label
    )


def _in(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _latitude_longitude(a: float, b: float) -> Location:
    if _in(a, UK_LATITUDE) and _in(b, UK_LONGITUDE):
        latitude, longitude = a, b
    elif _in(b, UK_LATITUDE) and _in(a, UK_LONGITUDE):
        latitude, longitude = b, a
    else:
        raise CoordinateError(
            f"{decimal_text(a)}, {decimal_text(b)} is outside the United Kingdom: latitudes "
            f"there run from {UK_LATITUDE[0]:g} to {UK_LATITUDE[1]:g} and longitudes from "
            f"{UK_LONGITUDE[0]:g} to {UK_LONGITUDE[1]:g} degrees."
        )
    easting, northing = _to_grid().transform(longitude, latitude)
    label = f"{decimal_text(latitude)}, {decimal_text(longitude)}"
    _in_great_britain(easting, northing, label)
    return Location(
        kind="latitude-longitude", point=Point(easting, northing, srid=27700), label=label
    )


def _degrees(text: str, degrees: str, minutes: str | None, seconds: str | None) -> float:
    """One angle in decimal degrees; CoordinateError for minutes or seconds of 60 or more, or a
    decimal figure before the last."""
    example = coordinate_examples().degrees_minutes_seconds
    figures = [figure for figure in (degrees, minutes, seconds) if figure is not None]
    if any("." in figure for figure in figures[:-1]):
        raise CoordinateError(
            f"“{text.strip()}” mixes decimals into degrees, minutes and seconds: only the last "
            f"figure of each coordinate may have decimals, like {example}."
        )
    for figure, name in ((minutes, "minutes"), (seconds, "seconds")):
        if figure is not None and float(figure) >= 60:
            raise CoordinateError(
                f"“{text.strip()}” has {figure} {name}: {name} run from 0 to 59, like {example}."
            )
    value = float(degrees) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
    return round(value, 7)


def _degrees_minutes_seconds(text: str) -> Location | None:
    """Latitude and longitude in degrees (and minutes and seconds), marked by hemisphere letters
    or by degree signs; None when ``text`` is neither."""
    normalised = text.translate(_MARKS)
    lettered = _ANGLE_WITH_HEMISPHERES.match(normalised)
    if lettered:
        groups = lettered.groups()
        return _hemisphere_pair(text, groups[:8], groups[8:])
    marked = _ANGLES_WITH_DEGREE_MARKS.match(normalised)
    if marked:
        values = []
        for sign, degrees, minutes, seconds in (marked.groups()[:4], marked.groups()[4:]):
            value = _degrees(text, degrees, minutes, seconds)
            values.append(-value if sign == "-" else value)
        return _latitude_longitude(*values)
    return None


def _hemisphere_pair(text: str, *angles: tuple[str | None, ...]) -> Location:
    """Two angles each with its hemisphere's letter (before or after its figures): one must be
    N or S (the latitude), the other E or W (the longitude)."""
    read: dict[str, float] = {}
    for before, *figures, after in angles:
        letter = (before or after).upper()
        degrees, minutes, seconds = figures[:3] if before else figures[3:]
        value = _degrees(text, degrees, minutes, seconds)
        axis = "latitude" if letter in "NS" else "longitude"
        if axis in read:
            raise CoordinateError(
                f"“{text.strip()}” gives two {axis}s: one coordinate needs N or S (the "
                "latitude), the other E or W (the longitude), like "
                f"{coordinate_examples().degrees_minutes_seconds}."
            )
        read[axis] = -value if letter in "SW" else value
    return _latitude_longitude(read["latitude"], read["longitude"])
