"""Search: what an officer types, as places to fly the map to.

In order of kind: a postcode (or every postcode of an outward code or sector, ``CT1``,
``CT1 2``), a grid reference or coordinates (``infraplan.core.coordinates``), then names: areas
(the current features of the boundary datasets in ``AREA_DATASETS``), then features of any other
dataset the user may view, by its label field. Names come only from datasets that the one gate,
``Dataset.objects.permitting(user, "view")``, lets the user see.

``search`` reads coordinates itself and asks the other modules for the rest: ``postcode_search``
for postcodes, ``town_search`` for post towns, ``name_search`` for names; ``search_results``
holds what they return (and ``AREA_DATASETS``) and the map links of the results.
"""

from typing import Any

from django.contrib.gis.geos import Point

from infraplan.catalogue.models import Dataset
from infraplan.core.coordinates import (
    CoordinateError,
    Location,
    coordinate_examples,
    coordinates_parse,
    grid_square_letters,
    typed_grid_pair,
)

from .map_area import digits_note, in_map_area, outside_area
from .name_search import former_names, names_found, search_terms
from .postcode_search import full_postcode, postcode_start, postcodes
from .search_results import MapChoice, SearchOutcome, SearchResult, box_result, point_result
from .services import postcode_normalise
from .town_search import post_towns

MAX_RESULTS = 10
MAX_QUERY_LENGTH = 200
# The map as it opens, which a search links to unless it comes from a map: its default layers,
# as of now.
_MAP_DEFAULTS = MapChoice()


# Said when no name holds every distinctive word of a search: the results hold some of them.
SOME_WORDS_NOTE = (
    "Nothing found has all the words of “{query}”: these results have some of them, those "
    "naming a place first."
)


def _left_out_note(words: tuple[str, ...]) -> str:
    """Said when no name holds ``words``: the results are for the query's other words. A word
    typed twice is named once."""
    quoted = [f"“{word}”" for word in dict.fromkeys(words)]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"Nothing found has {listed}: these results are for the other words."


def _swapped(location: Location, choice: MapChoice) -> list[SearchResult]:
    """Eastings and northings typed the other way round (the northing first), offered after
    the place as typed: as typed they name a place far from the area the map covers (615000 N
    is in Scotland), swapped one in it. Uploads refuse such columns; search offers both."""
    if location.kind != "eastings-northings" or in_map_area(location.point):
        return []
    swapped = Point(location.point.y, location.point.x, srid=27700)
    if not in_map_area(swapped):
        return []
    label = ", ".join(reversed(location.label.split(", ")))
    detail = "the two numbers the other way round: the easting comes first"
    return [point_result(location.kind, label, swapped, choice, detail)]


def _square_size(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


def _location(location: Location, choice: MapChoice) -> SearchResult:
    """The place coordinates name; where it is outside the map's area, how far and which way."""
    outside = outside_area(location.point)
    if location.box:
        # A grid reference names a square, not a point: say which, and which point is shown.
        size = _square_size(location.box[2] - location.box[0])
        detail = "; ".join(
            filter(None, [f"the {size} square; the point shown is its centre", outside])
        )
        return box_result(location.kind, location.label, location.box, choice, detail)
    return point_result(location.kind, location.label, location.point, choice, outside)


def search(
    user: Any, query: str, *, limit: int = MAX_RESULTS, choice: MapChoice = _MAP_DEFAULTS
) -> SearchOutcome:
    """What ``query`` names, for ``user``: at most ``limit`` results, best kind first, each
    linking to the map with the layers and moment of ``choice``."""
    # Control characters (a NUL, say, which PostgreSQL refuses in text) count as spaces.
    query = "".join(character if character.isprintable() else " " for character in query)
    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    if not query:
        return SearchOutcome(query="", results=[])
    postcode = postcode_normalise(query)
    outcome = full_postcode(query, postcode, limit, choice) if postcode else None
    if outcome:
        return outcome
    results = postcodes(query, limit, choice)
    if results and results[0].kind == "postcode":  # the postcodes starting so: nothing else
        return SearchOutcome(query=query, results=results[:limit], more=len(results) > limit)
    error = ""
    try:
        location = coordinates_parse(query)
    except CoordinateError as problem:
        # Eastings and northings of unlike lengths: a digit left out took the place off the
        # island (615000,15750 for 615000,157500).
        pair = typed_grid_pair(query)
        digits = digits_note(query, *pair) if pair else ""
        location = None
        error = " ".join(
            filter(
                None,
                [
                    str(problem),
                    digits,
                    f"You can also search for {coordinate_examples().formats_hint()}.",
                ],
            )
        )
        # "AB12" is the start of a postcode as much as a grid reference: say both.
        outward = postcode_start(query)
        if outward:
            error = f"No postcode starting {outward[0]} is in the platform's postcode directory. {error}"
    if location is not None:
        pair = typed_grid_pair(query)
        # Outside the map's area, numbers of unlike lengths are most likely a digit left out.
        outside = pair and not in_map_area(location.point)
        return SearchOutcome(
            query=query,
            results=[_location(location, choice), *_swapped(location, choice)],
            note=digits_note(query, *pair) if outside else "",
        )
    if grid_square_letters(query):
        return SearchOutcome(query=query, results=[], error=_grid_letters_error(query))
    terms = search_terms(query)
    # A town's name is read with what follows a comma (its county) unless kinds were named.
    named_towns, alike_towns = post_towns(user, terms.rest if terms.kinds else query, choice)
    results += named_towns
    results += former_names(user, terms.rest, limit - len(results), choice)
    # Text that is almost coordinates ("TR 150 57") is explained unless a name holds it all;
    # the start of a postcode is one thing, not words that other names may hold some of.
    names = names_found(
        user, query, max(limit - len(results) - len(alike_towns), 0), choice,
        some_words=not error and not postcode_start(query),
    )  # fmt: skip
    # A town whose name is only like the query's (misspelt, or another town: Chatham for
    # Chartham) after the names that hold the query as typed.
    results += [
        *names.results[: names.as_typed],
        *alike_towns,
        *names.results[names.as_typed :],
    ]
    # The kind of place asked for first ("Upton parish": the parish before the town).
    results = sorted(results, key=lambda result: result.kind not in terms.kinds)
    slugs = {result.dataset["slug"] for result in results if result.dataset}
    return SearchOutcome(
        query=query,
        results=results,
        more=len(results) >= limit,
        error="" if results else error,
        note=" ".join(
            filter(
                None,
                [
                    names.left_out and _left_out_note(names.left_out),
                    names.partial_of and SOME_WORDS_NOTE.format(query=names.partial_of),
                ],
            )
        ),
        datasets=tuple(Dataset.objects.filter(slug__in=slugs).order_by("slug")),
    )


def _grid_letters_error(letters: str) -> str:
    """What to say of a search for only the letters of a National Grid square (``TR``)."""
    letters = letters.upper()
    examples = coordinate_examples()
    example = (
        f"{letters} {examples.grid_reference_digits}"
        if len(letters) == 2
        else examples.grid_reference
    )
    return (
        f"“{letters}” is only the letters of a grid reference: add the figures of the easting "
        f"and northing after them, like {example}. You can also search for "
        f"{examples.formats_hint()}."
    )
