"""Where typed coordinates lie against the area the map covers (``AUTHORITY_PROFILE.map.bounds``).

A place outside the area is still shown if it is in Great Britain (``core.coordinates`` refuses
it otherwise), but search says how far outside it is and which way: an easting or northing with
a digit left out names a place a hundred kilometres away, in the sea or another county, and
the map would otherwise fly there without a word. For eastings and northings of different
lengths, it says that too, beside the lengths they have in the area.
"""

from functools import cache

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, Point

from infraplan.maps.selectors import bbox_polygon


@cache
def _area_on_grid(bounds: tuple[float, float, float, float]) -> GEOSGeometry:
    """The box of ``bounds`` (WGS84) as a polygon on the National Grid (EPSG:27700)."""
    return bbox_polygon(bounds)


def _bounds() -> tuple[float, float, float, float]:
    west, south, east, north = settings.AUTHORITY_PROFILE.map.bounds
    return west, south, east, north


def _distance_text(metres: float) -> str:
    return f"{metres / 1000:,.0f} km" if metres >= 1000 else f"{metres:,.0f} m"


def in_map_area(point: Point) -> bool:
    """Whether ``point`` (EPSG:27700) is in the area the map covers."""
    west, south, east, north = _bounds()
    lon, lat = point.transform(4326, clone=True).coords
    return west <= lon <= east and south <= lat <= north


def outside_area(point: Point) -> str:
    """How far outside the map's area ``point`` (EPSG:27700) is, and which way ("101 km south
    of the area the map covers"); empty if it is inside."""
    if in_map_area(point):
        return ""
    west, south, east, north = _bounds()
    lon, lat = point.transform(4326, clone=True).coords
    area = _area_on_grid(_bounds())
    way = "-".join(
        filter(
            None,
            [
                "north" if lat > north else "south" if lat < south else "",
                "east" if lon > east else "west" if lon < west else "",
            ],
        )
    )
    distance = _distance_text(area.distance(point))
    return " ".join(filter(None, [distance, way, "of the area the map covers"]))


def _digits(value: str) -> int:
    """The number of digits of a whole number of metres as typed (before any decimal point)."""
    return len(value.lstrip("+-").split(".")[0].lstrip("0") or "0")


def _area_digits() -> tuple[int | None, int | None]:
    """The number of digits every easting and every northing of the area has (None where
    they differ within it: an area across 100 km north of the grid's origin)."""
    min_e, min_n, max_e, max_n = _area_on_grid(_bounds()).extent
    easting = {len(str(int(value))) for value in (min_e, max_e)}
    northing = {len(str(int(value))) for value in (min_n, max_n)}
    return (
        easting.pop() if len(easting) == 1 else None,
        northing.pop() if len(northing) == 1 else None,
    )


def digits_note(query: str, easting: str, northing: str) -> str:
    """For an easting and a northing (as typed in ``query``) of different numbers of digits,
    that they differ, the one unlike the area's first ("615000,15750: the northing has 5 digits
    and the easting 6; in this area both have 6."); empty when they have as many."""
    typed_e, typed_n = _digits(easting), _digits(northing)
    if typed_e == typed_n:
        return ""
    area_e, area_n = _area_digits()
    if area_n is not None and typed_n != area_n and typed_e == area_e:
        told = f"the northing has {typed_n} digits and the easting {typed_e}"
    else:
        told = f"the easting has {typed_e} digits and the northing {typed_n}"
    if area_e is None or area_n is None:
        area = ""
    elif area_e == area_n:
        area = f"; in this area both have {area_e}"
    else:
        area = f"; in this area eastings have {area_e} and northings {area_n}"
    return f"{query}: {told}{area}."
