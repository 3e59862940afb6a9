"""The examples a search shows, each a place in the area the map covers.

Someone searching tries the examples of the hint and of the formats told when nothing is found:
they name the centre of the map's bounds (``AUTHORITY_PROFILE.map.bounds``), as
``core.coordinates.coordinate_examples`` writes it, and the postcode in the directory nearest
it. Each is worked out once per process and kept; the postcode once per load of the directory
(known by the load's checksum, a read of a table of a few rows), so a directory loaded after
start-up gives its example without a restart.
"""

from functools import cache

from django.conf import settings
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point

from infraplan.core.coordinates import coordinate_examples
from infraplan.maps.selectors import bbox_polygon

from .models import Postcode, PostcodeLoad


def postcode_example() -> str | None:
    """The postcode nearest the centre of the area the map covers, among those of the postcode
    directory in the area; None when it holds none there (no example rather than another
    area's)."""
    loaded = PostcodeLoad.objects.values_list("checksum", flat=True).first()
    if loaded is None:
        return None
    west, south, east, north = settings.AUTHORITY_PROFILE.map.bounds
    return _postcode_nearest_centre((west, south, east, north), loaded)


@cache
def _postcode_nearest_centre(
    bounds: tuple[float, float, float, float], directory_checksum: str
) -> str | None:
    """The postcode nearest the centre of ``bounds`` in the directory of that checksum (the
    checksum only keys the cache)."""
    west, south, east, north = bounds
    centre = Point((west + east) / 2, (south + north) / 2, srid=4326).transform(27700, clone=True)
    return (
        Postcode.objects.filter(point__within=bbox_polygon(bounds))
        .annotate(distance=Distance("point", centre))
        .order_by("distance", "postcode")
        .values_list("postcode", flat=True)
        .first()
    )


def search_hint_examples() -> list[str]:
    """The examples of the search box's hint: a postcode (where there is one), a grid reference
    and eastings and northings."""
    coordinates = coordinate_examples()
    postcode = postcode_example()
    return [
        *([postcode] if postcode else []),
        coordinates.grid_reference,
        coordinates.eastings_northings,
    ]


def search_formats() -> list[str]:
    """The formats a search understands, with examples, told to someone whose search found
    nothing."""
    coordinates = coordinate_examples()
    postcode = postcode_example()
    return [
        f"a postcode, like {postcode}, or the start of one, like {postcode.split()[0]}"
        if postcode
        else "a postcode, or the start of one",
        f"a grid reference, like {coordinates.grid_reference}",
        f"eastings and northings, like {coordinates.eastings_northings}",
        f"latitude and longitude, like {coordinates.latitude_longitude}",
        "the name of a place, an area or a feature on the map",
        "the ONS code of a district or ward (E07…, E05…)",
    ]
