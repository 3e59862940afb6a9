"""Postcodes in a search: a full postcode, or every postcode of an outward code or sector.

A full postcode that is not in the postcode directory is said not to be, with the postcodes it
may have been meant for to choose from: its sector, its outward code and those one character
away.
"""

import re
import string

from django.contrib.gis.db.models import Extent
from django.db.models import Count, Q

from .models import Postcode
from .search_results import MapChoice, SearchOutcome, SearchResult, box_result, point_result
from .services import postcode_normalise

# The start of a postcode: its outward code (CT1), sector (CT1 2) or more (CT1 2E).
_POSTCODE_START = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)(?: (\d)([A-Z])?)?$")
# The characters of a postcode, for those one character away from one that does not exist.
_POSTCODE_CHARACTERS = string.ascii_uppercase + string.digits


def postcode_start(query: str) -> re.Match[str] | None:
    return _POSTCODE_START.match(" ".join(query.upper().split()))


def _postcode_area_result(
    prefix: str, count: int, extent: tuple[float, ...], choice: MapChoice
) -> SearchResult:
    detail = f"{count:,} postcode{'' if count == 1 else 's'}"
    return box_result("postcode-area", prefix.strip(), extent, choice, detail)


def postcodes(query: str, limit: int, choice: MapChoice) -> list[SearchResult]:
    """The postcodes that start as ``query`` does past a sector (``CT1 2E``), in order, at most
    ``limit`` + 1 (the last telling that there are more); or the postcodes of an outward code
    (``CT1``) or sector (``CT1 2``), as one box."""
    part = postcode_start(query)
    if not part:
        return []
    if part[3]:
        found = Postcode.objects.filter(postcode__startswith=f"{part[1]} {part[2]}{part[3]}")
        return [
            point_result("postcode", postcode.postcode, postcode.point, choice)
            for postcode in found.order_by("postcode")[: limit + 1]
        ]
    prefix = f"{part[1]} {part[2] or ''}"
    summary = Postcode.objects.filter(postcode__startswith=prefix).aggregate(
        extent=Extent("point"), count=Count("pk")
    )
    if not summary["count"]:
        return []
    return [_postcode_area_result(prefix, summary["count"], summary["extent"], choice)]


def _one_character_away(postcode: str) -> set[str]:
    """The postcodes, well formed, that differ from ``postcode`` by one character: one more,
    one fewer, another in its place, or two side by side the other way round."""
    compact = postcode.replace(" ", "")
    typed = set()
    for index in range(len(compact) + 1):
        before, after = compact[:index], compact[index:]
        typed |= {before + character + after for character in _POSTCODE_CHARACTERS}
        if after:
            typed.add(before + after[1:])
            typed |= {before + character + after[1:] for character in _POSTCODE_CHARACTERS}
        if len(after) > 1:
            typed.add(before + after[1] + after[0] + after[2:])
    return {found for found in map(postcode_normalise, typed) if found and found != postcode}


def full_postcode(query: str, postcode: str, limit: int, choice: MapChoice) -> SearchOutcome | None:
    """The full postcode ``query`` is, ``postcode``: where it is; or, if it is not in the
    postcode directory, that it is not, with the postcodes it may have been meant for (its
    sector and outward code, those one character away) to choose from, the map left where it
    is. None when neither it nor any of those is in the directory (it is one of another
    area's, which the directory does not hold)."""
    found = Postcode.objects.filter(postcode=postcode).first()
    if found:
        return SearchOutcome(
            query=query, results=[point_result("postcode", postcode, found.point, choice)]
        )
    outward, inward = postcode.split()
    sector = Q(postcode__startswith=f"{outward} {inward[0]}")
    areas = Postcode.objects.filter(postcode__startswith=f"{outward} ").aggregate(
        outward_count=Count("pk"), outward_extent=Extent("point"),
        sector_count=Count("pk", filter=sector), sector_extent=Extent("point", filter=sector),
    )  # fmt: skip
    suggestions = [
        _postcode_area_result(prefix, areas[f"{part}_count"], areas[f"{part}_extent"], choice)
        for part, prefix in (("sector", f"{outward} {inward[0]}"), ("outward", outward))
        if areas[f"{part}_count"]
    ]
    nearby = Postcode.objects.filter(postcode__in=_one_character_away(postcode))
    suggestions += [
        point_result("postcode", near.postcode, near.point, choice, "one character away")
        for near in nearby.order_by("postcode")[: max(limit - len(suggestions), 0)]
    ]
    if not suggestions:
        return None
    # A postcode of an outward code in the directory would be in it: it does not exist.
    error = (
        f"There is no postcode {postcode}."
        if areas["outward_count"]
        else f"No postcode {postcode} is in the platform's postcode directory."
    )
    return SearchOutcome(query=query, results=[], error=error, suggestions=tuple(suggestions))
