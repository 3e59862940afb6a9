"""Search: what an officer types, as places to fly the map to.

In order of kind: a postcode (or every postcode of an outward code or sector, ``CT1``,
``CT1 2``), a grid reference or coordinates (``infraplan.core.coordinates``), then names: areas
(the current features of the boundary datasets in ``AREA_DATASETS``), then features of any other
dataset the user may view, by its label field. Names come only from datasets that the one gate,
``Dataset.objects.permitting(user, "view")``, lets the user see.
"""

import math
import re
import string
from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.gis.db.models import Extent
from django.contrib.gis.geos import Point, Polygon
from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import QueryDict
from psycopg import sql

from infraplan.catalogue.access import Action
from infraplan.catalogue.history import versions_current_at
from infraplan.catalogue.models import Dataset, DatasetVersion, Feature, GeometryType
from infraplan.catalogue.placement import GSS_CODE
from infraplan.core.coordinates import (
    FORMATS_HINT,
    CoordinateError,
    Location,
    coordinates_parse,
    grid_square_letters,
    typed_grid_pair,
)
from infraplan.maps.ended import live_on_sql
from infraplan.maps.marker import Marker
from infraplan.maps.selectors import (
    NOW,
    MapMoment,
    boundary_layers,
    moment_or_error,
    requested_layers,
)
from infraplan.maps.styling import label_field_of

from .map_area import digits_note, in_map_area, outside_area
from .models import Postcode
from .name_index import name_expression
from .services import postcode_normalise
from .terms import (
    ACCENTED,
    SHORT_WORD,
    UNACCENTED,
    Terms,
    terms_read,
    unaccented,
    words_of,
)

MAX_RESULTS = 10
MAX_QUERY_LENGTH = 200
# The boundary datasets whose features search offers as areas, by slug, in the order results
# list them; features of every other dataset come after them. A parish before a ward: a parish
# is the town or village of its name, where a ward of that name is an electoral division named
# after a street or a part of a town ("Bridge": the village's parish, before the wards called
# Bridge in two towns).
AREA_DATASETS = {
    "districts": ("district", "District"),
    "parishes": ("parish", "Parish"),
    "wards": ("ward", "Ward"),
}
FEATURE_GROUP = len(AREA_DATASETS)
# The formats a search understands, told to someone whose search found nothing.
FORMATS = [
    "a postcode, like CT1 2EH, or the start of one, like CT1",
    "a grid reference, like TR 150 575",
    "eastings and northings, like 615000,157500",
    "latitude and longitude, like 51.28, 1.08",
    "the name of a place, an area or a feature on the map",
    "the ONS code of a district or ward (E07…, E05…)",
]
# The start of a postcode: its outward code (CT1), sector (CT1 2) or more (CT1 2E).
_POSTCODE_START = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)(?: (\d)([A-Z])?)?$")
# The characters of a postcode, for those one character away from one that does not exist.
_POSTCODE_CHARACTERS = string.ascii_uppercase + string.digits
# Zooms the map flies to: a postcode or typed point, and the limits for a fitted box.
POINT_ZOOM = 16
MIN_ZOOM, MAX_ZOOM = 6, 17
# The view a fitted box must fit in, in CSS pixels (the map panel on a laptop screen).
VIEW_WIDTH, VIEW_HEIGHT = 800, 600

KIND_LABELS = {
    "postcode": "Postcode",
    "postcode-area": "Postcode area",
    "grid-reference": "Grid reference",
    "eastings-northings": "Eastings and northings",
    "latitude-longitude": "Latitude and longitude",
    "feature": "Feature",
    "town": "Town",
    "county": "County",
    "group": "Area",
    **dict(AREA_DATASETS.values()),
}
# A town is shown on the middle of its postcodes, from this share of them to one minus it each
# way: a postcode district reaches out over the villages around its town.
TOWN_SPREAD = 0.1
# How alike (pg_trgm's similarity) a misspelt town's name must be to a town's to find it.
TOWN_LIKENESS = 0.5
_NOT_NAME = re.compile(r"[^a-z0-9]+")


def _town_name(text: str) -> str:
    """``text`` as town names are compared: lower case without accents, each run of other
    characters a space."""
    return _NOT_NAME.sub(" ", unaccented(text.lower())).strip()


@dataclass(frozen=True)
class SearchResult:
    label: str
    kind: str  # one of KIND_LABELS' keys
    kind_label: str
    point: tuple[float, float]  # WGS84 lon, lat
    bbox: tuple[float, float, float, float] | None  # WGS84 min lon, min lat, max lon, max lat
    map_url: str
    detail: str = ""
    dataset: dict[str, str] | None = None  # {slug, title} of the feature's dataset
    feature_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        result = asdict(self)
        result["point"] = {"lon": self.point[0], "lat": self.point[1]}
        result["bbox"] = list(self.bbox) if self.bbox else None
        return result


@dataclass(frozen=True)
class SearchOutcome:
    query: str
    results: list[SearchResult]
    error: str = ""  # why the text, which looks like coordinates, is not a place
    # The datasets whose features are among the results (reads of restricted ones are audited).
    datasets: tuple[Dataset, ...] = ()
    # Whether the results stopped at the limit, with others left unlisted.
    more: bool = False
    note: str = ""  # how the results answer the query, where they answer only part of it
    # With an error, places the query may have been meant for, to choose from: the map is not
    # moved to any (the postcodes one character away from one that does not exist).
    suggestions: tuple[SearchResult, ...] = ()

    @property
    def more_message(self) -> str:
        if not self.more:
            return ""
        if all(result.kind == "postcode" for result in self.results):
            return (
                f"Only the first {len(self.results)} are listed: type more of the postcode to "
                "find others."
            )
        return (
            f"Only the first {len(self.results)} are listed: add a word, such as a town or a "
            "kind of place, to find others."
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "results": [result.as_json() for result in self.results],
            "more": self.more_message or None,
            "note": self.note or None,
            "error": self.error or None,
            "suggestions": [suggestion.as_json() for suggestion in self.suggestions],
            "message": None if self.results or not self.query else nothing_found(self.query),
            "formats": FORMATS,
        }


# Said when no name holds every distinctive word of a search: the results hold some of them.
SOME_WORDS_NOTE = (
    "Nothing found has all the words of “{query}”: these results have some of them, those "
    "naming a place first."
)


def _left_out_note(words: tuple[str, ...]) -> str:
    """Said when no name holds ``words``: the results are for the query's other words."""
    quoted = [f"“{word}”" for word in words]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"Nothing found has {listed}: these results are for the other words."


def nothing_found(query: str) -> str:
    return f"Nothing found for “{query}”. Search for " + "; ".join(FORMATS) + "."


def _rounded(values: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(round(value, 6) for value in values)


def _wgs84(point: Point) -> tuple[float, float]:
    moved = point.transform(4326, clone=True)
    return _rounded((moved.x, moved.y))


def _zoom_to_fit(bbox: tuple[float, float, float, float]) -> float:
    """The web-map zoom at which ``bbox`` fills a VIEW_WIDTH by VIEW_HEIGHT view."""
    west, south, east, north = bbox

    def mercator_y(latitude: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(latitude) / 2))

    width = max(math.radians(east - west), 1e-9)
    height = max(mercator_y(north) - mercator_y(south), 1e-9)
    zoom = min(
        math.log2(2 * math.pi * VIEW_WIDTH / (256 * width)),
        math.log2(2 * math.pi * VIEW_HEIGHT / (256 * height)),
    )
    return round(max(MIN_ZOOM, min(MAX_ZOOM, zoom)), 2)


@dataclass(frozen=True)
class MapChoice:
    """What was chosen on the map a search comes from: its layers (None: the map's defaults)
    and moment. The links of the results open the map with them."""

    layers: tuple[str, ...] | None = None
    moment: MapMoment = NOW

    @classmethod
    def from_query(cls, query: QueryDict) -> "MapChoice":
        """The choice a query string carries; a date the map could not use is left out (the
        map, and the names searched, as of now)."""
        layers = requested_layers(query)
        moment, _ = moment_or_error(query)
        return cls(layers=None if layers is None else tuple(layers), moment=moment)

    def query(self) -> dict[str, str]:
        """The URL parameters that keep the choice."""
        layers = {} if self.layers is None else {"layers": ",".join(self.layers)}
        return {**layers, **self.moment.query()}

    def map_url(
        self,
        point: tuple[float, float],
        bbox: tuple[float, float, float, float] | None,
        *,
        label: str,
        layer: str | None = None,
        feature_id: int | None = None,
    ) -> str:
        """A /map/ link centred on ``point`` and zoomed to ``bbox`` (or a street-level zoom),
        with the chosen layers, the layer of a feature switched on and its pop-up open, and
        ``point`` marked as ``label`` (the map without WebGL draws the mark on its picture)."""
        parameters = {
            "center": f"{point[0]:.5f},{point[1]:.5f}",
            "zoom": f"{_zoom_to_fit(bbox) if bbox else POINT_ZOOM:g}",
            **self.query(),
        }
        if layer:
            chosen = boundary_layers() if self.layers is None else self.layers
            parameters["layers"] = ",".join(dict.fromkeys([*chosen, layer]))
        if layer and feature_id is not None:
            parameters["feature"] = f"{layer}/{feature_id}"
        parameters.update(Marker.at(*point, label).query())
        return "/map/?" + urlencode(parameters)


def _point_result(
    kind: str, label: str, point: Point, choice: MapChoice, detail: str = ""
) -> SearchResult:
    lon_lat = _wgs84(point)
    return SearchResult(
        label=label, kind=kind, kind_label=KIND_LABELS[kind], point=lon_lat, bbox=None,
        map_url=choice.map_url(lon_lat, None, label=label), detail=detail,
    )  # fmt: skip


def _box_result(
    kind: str, label: str, box: tuple[float, ...], choice: MapChoice, detail: str = ""
) -> SearchResult:
    """A result for a box in EPSG:27700: centred on the box, zoomed to fit it."""
    polygon = Polygon.from_bbox(box)
    polygon.srid = 27700
    wgs84 = polygon.transform(4326, clone=True)
    bbox = _rounded(wgs84.extent)
    point = _wgs84(polygon.centroid)
    return SearchResult(
        label=label, kind=kind, kind_label=KIND_LABELS[kind], point=point, bbox=bbox,
        map_url=choice.map_url(point, bbox, label=label), detail=detail,
    )  # fmt: skip


def _postcode_start(query: str) -> re.Match[str] | None:
    return _POSTCODE_START.match(" ".join(query.upper().split()))


def _postcode_area_result(
    prefix: str, count: int, extent: tuple[float, ...], choice: MapChoice
) -> SearchResult:
    detail = f"{count:,} postcode{'' if count == 1 else 's'}"
    return _box_result("postcode-area", prefix.strip(), extent, choice, detail)


def _postcodes(query: str, limit: int, choice: MapChoice) -> list[SearchResult]:
    """The postcodes that start as ``query`` does past a sector (``CT1 2E``), in order, at most
    ``limit`` + 1 (the last telling that there are more); or the postcodes of an outward code
    (``CT1``) or sector (``CT1 2``), as one box."""
    part = _postcode_start(query)
    if not part:
        return []
    if part[3]:
        found = Postcode.objects.filter(postcode__startswith=f"{part[1]} {part[2]}{part[3]}")
        return [
            _point_result("postcode", postcode.postcode, postcode.point, choice)
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


def _full_postcode(
    query: str, postcode: str, limit: int, choice: MapChoice
) -> SearchOutcome | None:
    """The full postcode ``query`` is, ``postcode``: where it is; or, if it is not in the
    postcode directory, that it is not, with the postcodes it may have been meant for (its
    sector and outward code, those one character away) to choose from, the map left where it
    is. None when neither it nor any of those is in the directory (it is one of another
    area's, which the directory does not hold)."""
    found = Postcode.objects.filter(postcode=postcode).first()
    if found:
        return SearchOutcome(
            query=query, results=[_point_result("postcode", postcode, found.point, choice)]
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
        _point_result("postcode", near.postcode, near.point, choice, "one character away")
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
    return [_point_result(location.kind, label, swapped, choice, detail)]


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
        return _box_result(location.kind, location.label, location.box, choice, detail)
    return _point_result(location.kind, location.label, location.point, choice, outside)


def _searchable_datasets(
    user: Any, moment: MapMoment, *, only: str | None = None
) -> list[tuple[Dataset, str, int]]:
    """Each dataset ``user`` may view that has a label field and a version published by the
    moment's date (the current one for now), with the field and that version's number, so
    that names are searched as the map of that date shows them; or dataset ``only``, labelled
    or not. Only the generic store's features are searched here."""
    if moment.as_of is None:
        shown = DatasetVersion.objects.filter(dataset=OuterRef("pk"), is_current=True)
    else:
        shown = versions_current_at(moment.as_of).filter(dataset=OuterRef("pk"))
    datasets = (
        Dataset.objects.permitting(user, Action.VIEW)
        .filter(source_key="store")
        .exclude(geometry_type=GeometryType.NONE)
        .annotate(shown_number=Subquery(shown.values("number")[:1]))
        .filter(shown_number__isnull=False)
    )
    if only is not None:
        return [(dataset, "", dataset.shown_number) for dataset in datasets.filter(slug=only)]
    searchable = []
    for dataset in datasets:
        field = label_field_of(dataset)
        if field:
            searchable.append((dataset, field, dataset.shown_number))
    return searchable


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sql_literal(text: str) -> str:
    """``text`` as an SQL string literal, percent signs doubled (the SQL has parameters)."""
    connection.ensure_connection()
    return sql.Literal(text).as_string(connection.connection).replace("%", "%%")


# The names search, in three passes over the datasets searched, each a query of its own
# (``_NAMED``) naming the dataset's label field in the SQL text: the expression its
# partition's trigram index is built on (``name_index``), which a field given as a parameter
# would not match. ``exact``: names that hold every distinctive word of the query (``terms``),
# a word naming a district met by a feature in it too; ``fuzzy``: names whose words are like
# them (pg_trgm's word similarity, for misspellings); ``partial``, when neither finds anything:
# names that hold some of the words, those holding the words that name an area first ("Upton
# Castle" lists the parish of Upton before a ward "Town & Castle" elsewhere). Names that hold
# the query (or its distinctive words) as typed come before those that hold its words apart,
# and within each the kind of place asked for first. Then by closeness: a name that is the
# query (case, punctuation, "&" for "and", spacing and accents aside), names starting with its
# words, names holding them as whole words, names starting with it cut short ("Canterb"),
# names holding it inside a word ("Tonbridge" for "bridge"); areas before features among
# names as close. The rows searched are those of the version the map shows (the current one,
# or the one current on the date it is viewed as of), and features that have ended are left
# out as the map leaves them out (``{live}``), so that no result leads to a feature the map
# does not draw and whose pop-up is refused.
_NAMED = """
    SELECT f.id, f.dataset_id, {group} AS grp, {kind} AS kind, {name} AS label, f.geom,
           f.district, f.reference
    FROM {feature} f
    WHERE f.dataset_id = {dataset} AND f.valid_from <= {version}
      AND (f.valid_to IS NULL OR f.valid_to > {version}) AND f.geom IS NOT NULL AND {live}
      AND {match}
"""
# A name as the query's words are compared with it (``words_of``): lower case, accents taken
# off, "&" read as "and", each run of other characters than letters, digits and apostrophes
# one space.
_NORMAL = (
    f"trim(regexp_replace(replace(translate(lower(label), '{ACCENTED}\u2019', '{UNACCENTED}'''), "
    "'&', ' and '), '[^[:alnum:]'']+', ' ', 'g'))"
)
# The greatest closeness (in _NAMES_SQL) of the names that hold the query, or its distinctive
# words, as typed, in one piece: names of greater closeness hold its words apart, or are met
# by where they are.
AS_TYPED = 4
# ``flagged`` is MATERIALIZED so that each name's normal form is worked out once: inlined, it
# was worked out again for each comparison with it, which doubled the time of a search for a
# word that many names hold ("bridge").
_NAMES_SQL = """
WITH named AS ({named}
), flagged AS MATERIALIZED (
    SELECT *, {normal} AS normal, {flags} FROM named
), scored AS (
    SELECT *,
        CASE WHEN normal IN (%(text)s, %(rest)s) OR reference IN (%(reference)s, %(code)s) THEN 0
             WHEN normal || ' ' LIKE %(text_words_prefix)s
                  OR normal || ' ' LIKE %(rest_words_prefix)s THEN 1
             WHEN ' ' || normal || ' ' LIKE %(text_words)s
                  OR ' ' || normal || ' ' LIKE %(rest_words)s THEN 2
             WHEN normal LIKE %(text_prefix)s OR normal LIKE %(rest_prefix)s THEN 3
             WHEN normal LIKE %(text_contains)s OR normal LIKE %(rest_contains)s THEN 4
             WHEN {by_name} THEN 5
             ELSE 6 END AS closeness,
        word_similarity(%(rest)s, label) AS similarity,
        CASE WHEN kind = ANY(%(kinds)s::text[]) THEN 0 ELSE 1 END AS kind_rank,
        {score} AS score,
        ARRAY[{held}]::bigint[] AS held
    FROM flagged
), matched AS (
    SELECT * FROM scored
    ORDER BY score DESC, closeness > {as_typed}, kind_rank, least(closeness, {as_typed} + 1),
             grp, closeness, similarity DESC, label, id
    LIMIT %(limit)s
)
SELECT m.id, m.dataset_id, m.kind, m.label, m.district, m.reference,
       ST_X(g.point), ST_Y(g.point), ST_XMin(g.box), ST_YMin(g.box), ST_XMax(g.box), ST_YMax(g.box),
       m.closeness, m.held
FROM matched m
CROSS JOIN LATERAL (
    SELECT ST_Transform(ST_PointOnSurface(m.geom), 4326) AS point,
           ST_Transform(ST_Envelope(m.geom), 4326) AS box
) g
ORDER BY m.score DESC, m.closeness > {as_typed}, m.kind_rank, least(m.closeness, {as_typed} + 1),
         m.grp, m.closeness, m.similarity DESC, m.label, m.id
"""


def _wider_areas() -> dict[tuple[str, str], str]:
    """The profile's areas wider than a district (a county, a group of districts) by their
    boundary's (dataset, reference), with their kind: search offers them as areas, with the
    districts, not as features of an outline dataset."""
    return {
        (area.boundary.dataset, area.boundary.reference): area.kind
        for area in settings.AUTHORITY_PROFILE.areas
        if area.kind in ("county", "group") and area.boundary.dataset not in AREA_DATASETS
    }


def _districts_by_name() -> dict[tuple[str, ...], set[str]]:
    """The words of each district's name and former names -> the codes of the districts so
    named: a feature in the district meets them (``terms``)."""
    districts: dict[tuple[str, ...], set[str]] = {}
    for area in settings.AUTHORITY_PROFILE.areas:
        if area.kind in ("district", "unitary"):
            for name in (area.name, *area.former_names):
                districts.setdefault(tuple(words_of(name)), set()).add(area.code)
    return districts


def _word_sql(name: str, index: int, word: str, *, fuzzy: bool) -> str:
    """That the name ``name`` (SQL) holds distinctive word ``index``: anywhere in it, or
    for a short word at the start of one of its words; ``fuzzy``, a longer word may be like
    one of its words instead."""
    held = f"{name} ILIKE %(w{index}_like)s"
    if len(word) <= SHORT_WORD:
        return f"({held} AND {name} ~* %(w{index}_start)s)"
    return f"({held} OR %(w{index})s <%% {name})" if fuzzy else held


def _units_sql(terms: Terms, name: str, *, fuzzy: bool, located: bool) -> list[str]:
    """The condition of each unit of ``terms`` (``Terms.units``) on the name ``name``; where
    ``located``, a place's words are met by a feature in it (``district``) too."""
    places = {place.words: index for index, place in enumerate(terms.places)}
    conditions = []
    for unit in terms.units():
        held = " AND ".join(_word_sql(name, i, terms.words[i], fuzzy=fuzzy) for i in unit)
        if located and unit in places:
            held = f"({held} OR f.district = ANY(%(p{places[unit]})s::text[]))"
        conditions.append(held)
    return conditions


def _kind_sql(dataset: Dataset, wider: dict[tuple[str, str], str]) -> str:
    """The kind of result a feature of ``dataset`` is (``KIND_LABELS``), as SQL."""
    if dataset.slug in AREA_DATASETS:
        return _sql_literal(AREA_DATASETS[dataset.slug][0])
    areas = [(reference, kind) for (slug, reference), kind in wider.items() if slug == dataset.slug]
    if not areas:
        return "'feature'"
    cases = " ".join(f"WHEN {_sql_literal(ref)} THEN {_sql_literal(kind)}" for ref, kind in areas)
    return f"CASE f.reference {cases} ELSE 'feature' END"


def _partial_score_sql(index: int, placed: bool, units: int) -> str:
    """What holding unit ``index`` (of ``units``) adds to a name's score in the partial pass:
    1 for each unit held, so that the more held the better; then, among names holding as many,
    those holding the units that name an area (a district's name, ``placed``, or that of an area
    found) first; then those holding the rarer units (a place's name before a word of many
    names, "castle")."""
    names_area = (
        "1"
        if placed
        else f"(bool_or(grp < {FEATURE_GROUP} AND normal = %(u{index})s) OVER ())::int"
    )
    share = f"(count(*) FILTER (WHERE m{index}) OVER ())::float / count(*) OVER ()"
    # Each bonus is less than the smallest step of the one before, for any number of units.
    return (
        f"CASE WHEN m{index} THEN 1 + {names_area}::float / {units + 1} "
        f"+ (1 - {share}) / {(units + 1) ** 2} ELSE 0 END"
    )


def _names_sql(
    searchable: list[tuple[Dataset, str, int]], live: str, terms: Terms, *, by_code: bool,
    match: str,
) -> str:  # fmt: skip
    """The names search over ``searchable`` (dataset, label field, version searched) for
    ``terms``, in the pass ``match`` (exact, fuzzy or partial, see ``_NAMED``). The exact pass
    also finds a feature whose reference is the query as typed (a site's BR-004), and
    ``by_code`` matches the references in capitals (the query is an ONS code)."""
    groups = list(AREA_DATASETS)
    wider = _wider_areas()
    outlines = {slug for slug, _ in wider}
    parts = []
    for dataset, field, version in searchable:
        # Percent signs doubled: the SQL has parameters.
        name = name_expression(field, "f").replace("%", "%%")
        if match == "exact":
            units = _units_sql(terms, name, fuzzy=False, located=True)
            condition = " AND ".join(units) if units else "FALSE"
            condition = f"(({condition}) OR f.reference = %(reference)s)"
        elif match == "fuzzy":
            units = _units_sql(terms, name, fuzzy=True, located=False)
            alike = f"%(rest)s <%% {name} AND word_similarity(%(rest)s, {name}) >= %(likeness)s"
            condition = " AND ".join([alike, *units])
        else:
            condition = " OR ".join(_units_sql(terms, name, fuzzy=True, located=False)) or "FALSE"
        if by_code:  # an area's ONS code (a district's E07…, a ward's E05…) finds it
            condition = f"({condition} OR f.reference = %(code)s)"
        if dataset.slug in AREA_DATASETS:
            group = groups.index(dataset.slug)
        else:  # an outline of wider areas is listed with the districts
            group = 0 if dataset.slug in outlines else FEATURE_GROUP
        # One pass of format: a field's name, quoted in the SQL, is never read as a template.
        parts.append(
            _NAMED.format(
                group=int(group), kind=_kind_sql(dataset, wider), name=name,
                feature=Feature._meta.db_table, dataset=int(dataset.pk), version=int(version),
                live=live, match=f"({condition})",
            )
        )  # fmt: skip
    units = _units_sql(terms, "label", fuzzy=match != "exact", located=False)
    flags = ", ".join(f"{unit} AS m{index}" for index, unit in enumerate(units)) or "TRUE AS m0"
    by_name = " AND ".join(f"m{index}" for index in range(len(units))) or "FALSE"
    # How many of the names found hold each unit (before the limit).
    held = ", ".join(f"count(*) FILTER (WHERE m{index}) OVER ()" for index in range(len(units)))
    score = "0"
    if match == "partial":
        score = " + ".join(
            _partial_score_sql(index, unit in {place.words for place in terms.places}, len(units))
            for index, unit in enumerate(terms.units())
        )
    # The datasets' parts last: a field's name, quoted in them, is never read as a template.
    return (
        _NAMES_SQL.replace("{normal}", _NORMAL)
        .replace("{as_typed}", str(AS_TYPED))
        .replace("{flags}", flags)
        .replace("{by_name}", by_name)
        .replace("{score}", score)
        .replace("{held}", held)
        .replace("{named}", "    UNION ALL".join(parts))
    )


@dataclass(frozen=True)
class NamesQuery:
    """The names search for a user's query: the datasets searched, its terms, and the SQL of
    its passes (``_NAMED``) with their parameters."""

    searchable: list[tuple[Dataset, str, int]]
    terms: Terms
    exact: str
    fuzzy: str
    partial: str
    parameters: dict[str, Any]


def search_terms(query: str) -> Terms:
    """What the words of ``query`` ask for (``infraplan.places.terms``)."""
    return terms_read(query, _districts_by_name())


def names_query(
    user: Any, query: str, limit: int, choice: MapChoice, *, terms: Terms | None = None
) -> NamesQuery | None:
    """The names search ``user`` may make for ``query`` (for ``terms``, when they are not
    those of the query as typed); None when no dataset is searchable."""
    searchable = _searchable_datasets(user, choice.moment)
    if not searchable:
        return None
    terms = terms or search_terms(query)
    code = query.upper() if re.fullmatch(GSS_CODE, query.upper()) else None
    parameters = {
        "query": query,
        "code": code,
        "reference": query,
        "text": terms.text,
        "rest": terms.rest,
        "text_words_prefix": _like_escape(terms.text) + " %",
        "rest_words_prefix": _like_escape(terms.rest) + " %",
        "text_words": "% " + _like_escape(terms.text) + " %",
        "rest_words": "% " + _like_escape(terms.rest) + " %",
        "text_prefix": _like_escape(terms.text) + "%",
        "rest_prefix": _like_escape(terms.rest) + "%",
        "text_contains": "%" + _like_escape(terms.text) + "%",
        "rest_contains": "%" + _like_escape(terms.rest) + "%",
        "kinds": sorted(terms.kinds),
        "limit": limit,
        "likeness": 0,
    }
    for index, word in enumerate(terms.words):
        parameters[f"w{index}"] = word
        parameters[f"w{index}_like"] = "%" + _like_escape(word) + "%"
        # \m: the start of a word; the word's other characters are letters, digits and
        # apostrophes, which a regular expression reads as themselves.
        parameters[f"w{index}_start"] = "\\m" + word
    for index, unit in enumerate(terms.units()):
        parameters[f"u{index}"] = " ".join(terms.words[i] for i in unit)
    for index, place in enumerate(terms.places):
        parameters[f"p{index}"] = list(place.codes)
    live = "TRUE"
    if not choice.moment.show_ended:
        live, live_parameters = live_on_sql("f.properties", choice.moment.day)
        parameters.update(live_parameters)
    by_code = code is not None
    return NamesQuery(
        searchable=searchable,
        terms=terms,
        exact=_names_sql(searchable, live, terms, by_code=by_code, match="exact"),
        fuzzy=_names_sql(searchable, live, terms, by_code=by_code, match="fuzzy"),
        partial=_names_sql(searchable, live, terms, by_code=by_code, match="partial"),
        parameters=parameters,
    )


# How alike (pg_trgm's word similarity) a name must be to the query to follow names that hold
# it as typed: a ward "St Mary's-in-the-Marsh" is 1 to "St Mary's in the Marsh", while a ward
# "Sandgate & West Town" is 0.78 to "Westgate", a likeness that finds a misspelling when
# nothing else is found.
SPELT_OTHERWISE_LIKENESS = 0.8


@dataclass(frozen=True)
class NamesFound:
    results: list[SearchResult]
    left_out: tuple[str, ...] = ()  # the words no name holds, searched without
    # How many of the results, the first, hold the query as typed, in one piece: those after
    # them hold its words apart, are spelt otherwise, or hold only some of its words.
    as_typed: int = 0
    # The words no name held all of (the query, or what was left of it): the results hold some.
    partial_of: str = ""


def _names(
    user: Any, query: str, limit: int, choice: MapChoice, *, terms: Terms | None = None,
    some_words: bool = True,
) -> NamesFound:  # fmt: skip
    """The names ``query`` (or ``terms``) finds; with ``some_words``, failing names that hold
    all its words, those that hold some."""
    names = names_query(user, query, limit, choice, terms=terms)
    if names is None:
        return NamesFound([])
    units = names.terms.units()
    partial = False
    with connection.cursor() as cursor:
        cursor.execute(names.exact, names.parameters)
        rows = cursor.fetchall()
        # Those holding the query as typed (not its words apart) come first: see _NAMES_SQL.
        as_typed = sum(1 for *_, closeness, _ in rows if closeness <= AS_TYPED)
        # Names spelt otherwise (St Margaret's-at-Cliffe for St Margaret's at Cliffe, or
        # misspelt) follow the names that hold the query as typed, which would otherwise hide
        # them: a site whose address holds the phrase hid the ward and the village school.
        if len(rows) < limit and len(names.terms.rest) >= 3:
            likeness = SPELT_OTHERWISE_LIKENESS if rows else 0
            cursor.execute(names.fuzzy, {**names.parameters, "likeness": likeness})
            found = {row[0] for row in rows}
            rows += [row for row in cursor.fetchall() if row[0] not in found][: limit - len(rows)]
        if not rows and some_words and len(units) > 1:
            cursor.execute(names.partial, names.parameters)
            rows = cursor.fetchall()
            partial = bool(rows)
    if partial:
        # Words no name holds are left out, and the others searched for as a query of their own.
        held = rows[0][-1]
        unheld = [index for index, count in enumerate(held) if not count]
        if unheld:
            fewer = names.terms.without(i for index in unheld for i in units[index])
            found = _names(user, query, limit, choice, terms=search_terms(fewer))
            left_out = tuple(names.terms.words[i] for index in unheld for i in units[index])
            return replace(found, left_out=left_out + found.left_out)
    partial_of = (names.terms.text if terms else query) if partial else ""
    return NamesFound(_name_results(names, rows, choice), partial_of=partial_of, as_typed=as_typed)


def _name_results(names: NamesQuery, rows: list[tuple], choice: MapChoice) -> list[SearchResult]:
    """The results of the rows a names search found."""
    by_id = {dataset.pk: dataset for dataset, _, _ in names.searchable}
    results = []
    district_names = {area.code: area.name for area in settings.AUTHORITY_PROFILE.areas}
    # Features of one name in one dataset and district (a school closed and reopened under its
    # old name) are told apart by their references.
    named_alike = Counter(
        (dataset_id, label, district) for _, dataset_id, _, label, district, *_ in rows
    )
    for feature_id, dataset_id, kind, label, district, reference, lon, lat, *box, _, _ in rows:
        dataset = by_id[dataset_id]
        alike = named_alike[dataset_id, label, district] > 1
        point = _rounded((lon, lat))
        bbox = _rounded(tuple(box)) if box[0] != box[2] or box[1] != box[3] else None
        results.append(
            SearchResult(
                label=label,
                kind=kind,
                kind_label=KIND_LABELS[kind],
                point=point,
                bbox=bbox,
                map_url=choice.map_url(
                    point, bbox, label=label, layer=dataset.slug, feature_id=feature_id
                ),
                # Two wards of one name (Westgate) are told apart by their districts.
                detail=", ".join(
                    filter(
                        None,
                        [
                            dataset.title,
                            kind != "district" and district_names.get(district),
                            alike and f"reference {reference}",
                        ],
                    )
                ),
                dataset={"slug": dataset.slug, "title": dataset.title},
                feature_id=feature_id,
            )
        )
    return results


# The post towns of the addresses in one dataset's features (the version the map shows), and in
# each postcode district the town most of them name; the town asked for (its name as typed or
# before a comma, the county after it; failing that the most alike, "Whitstabel", each of whose
# words is in the town's name or like one of its words: "Upton Westgate" is not the town Upton),
# names compared in lower case with each run of other characters one space ("Westgate on Sea");
# then where the postcodes of its districts are: the middle of them, and the box from
# TOWN_SPREAD of them to 1 - TOWN_SPREAD each way.
_TOWN_SQL = """
WITH addresses AS (
    SELECT properties ->> %(town_field)s AS town,
           split_part(upper(trim(properties ->> %(postcode_field)s)), ' ', 1) AS outward
    FROM {feature}
    WHERE dataset_id = %(dataset)s AND valid_from <= %(version)s
      AND (valid_to IS NULL OR valid_to > %(version)s)
      AND trim(properties ->> %(postcode_field)s) LIKE '%% %%'
      AND coalesce(properties ->> %(town_field)s, '') <> ''
), ranked AS (
    SELECT outward, {normal} AS town, mode() WITHIN GROUP (ORDER BY town) AS spelt,
           rank() OVER (PARTITION BY outward ORDER BY count(*) DESC) AS place
    FROM addresses
    GROUP BY outward, {normal}
), chosen AS (
    SELECT town FROM ranked
    WHERE place = 1 AND (town = ANY(%(names)s) OR similarity(town, %(name)s) >= %(likeness)s)
      AND NOT EXISTS (
          SELECT FROM unnest(%(words)s::text[]) w
          WHERE strpos(town, w) = 0 AND word_similarity(w, town) < %(likeness)s
      )
    ORDER BY town = ANY(%(names)s) DESC, similarity(town, %(name)s) DESC, town
    LIMIT 1
), districts AS (
    SELECT outward, spelt FROM ranked WHERE place = 1 AND town = (SELECT town FROM chosen)
)
SELECT (SELECT mode() WITHIN GROUP (ORDER BY spelt) FROM districts),
       (SELECT array_agg(outward ORDER BY outward) FROM districts),
       count(*),
       percentile_cont(ARRAY[%(low)s, 0.5, %(high)s]) WITHIN GROUP (ORDER BY ST_X(p.point)),
       percentile_cont(ARRAY[%(low)s, 0.5, %(high)s]) WITHIN GROUP (ORDER BY ST_Y(p.point))
FROM {postcode} p
WHERE split_part(p.postcode, ' ', 1) IN (SELECT outward FROM districts)
"""


def _towns(
    user: Any, query: str, choice: MapChoice
) -> tuple[list[SearchResult], list[SearchResult]]:
    """The post town ``query`` names (``settings.AUTHORITY_PROFILE.search.post_towns``), shown
    where the postcodes of its districts are, if ``user`` may view the dataset it comes from:
    as the first list if its name is the query's, as the second if it is only like it."""
    towns = settings.AUTHORITY_PROFILE.search.post_towns
    if towns is None or len(query) < 3:
        return [], []
    found = _searchable_datasets(user, choice.moment, only=towns.dataset)
    if not found:
        return [], []
    [(dataset, _, version)] = found
    sql = _TOWN_SQL.format(
        feature=Feature._meta.db_table, postcode=Postcode._meta.db_table,
        normal="trim(regexp_replace(lower(town), '[^a-z0-9]+', ' ', 'g'))",
    )  # fmt: skip
    name = _town_name(query)
    before_comma = _town_name(query.split(",")[0])
    names = list(dict.fromkeys([name, before_comma]))
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "town_field": towns.town_field, "postcode_field": towns.postcode_field,
                "dataset": dataset.pk, "version": version, "names": names, "name": name,
                "words": before_comma.split(), "likeness": TOWN_LIKENESS, "low": TOWN_SPREAD,
                "high": 1 - TOWN_SPREAD,
            },
        )  # fmt: skip
        name, districts, count, xs, ys = cursor.fetchone()
    if not count:
        return [], []
    box = (xs[0], ys[0], xs[2], ys[2])
    detail = f"post town, postcode district{'s' if len(districts) > 1 else ''} " + ", ".join(
        districts
    )
    result = _box_result("town", name, box, choice, detail)
    middle = Point(xs[1], ys[1], srid=27700)
    point = _wgs84(middle)
    result = replace(result, point=point, map_url=choice.map_url(point, result.bbox, label=name))
    return ([result], []) if _town_name(name) in names else ([], [result])


def _former_names(user: Any, query: str, limit: int, choice: MapChoice) -> list[SearchResult]:
    """The profile's areas that went by a name starting with ``query`` before they were
    renamed, found by their current names and said to be formerly so called."""
    typed = query.casefold()
    results: list[SearchResult] = []
    if not typed:
        return results
    for area in settings.AUTHORITY_PROFILE.areas:
        former = next(
            (name for name in area.former_names if name.casefold().startswith(typed)), None
        )
        if former is None or len(results) >= limit:
            continue
        results += [
            replace(result, label=f"{result.label} (formerly {former})")
            for result in _names(user, area.name, limit, choice).results
            if result.kind == "district" and result.label == area.name
        ][:1]
    return results


def search(
    user: Any, query: str, *, limit: int = MAX_RESULTS, choice: MapChoice = MapChoice()
) -> SearchOutcome:
    """What ``query`` names, for ``user``: at most ``limit`` results, best kind first, each
    linking to the map with the layers and moment of ``choice``."""
    # Control characters (a NUL, say, which PostgreSQL refuses in text) count as spaces.
    query = "".join(character if character.isprintable() else " " for character in query)
    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    if not query:
        return SearchOutcome(query="", results=[])
    postcode = postcode_normalise(query)
    outcome = _full_postcode(query, postcode, limit, choice) if postcode else None
    if outcome:
        return outcome
    results = _postcodes(query, limit, choice)
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
            filter(None, [str(problem), digits, f"You can also search for {FORMATS_HINT}."])
        )
        # "AB12" is the start of a postcode as much as a grid reference: say both.
        outward = _postcode_start(query)
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
    named_towns, alike_towns = _towns(user, terms.rest if terms.kinds else query, choice)
    results += named_towns
    results += _former_names(user, terms.rest, limit - len(results), choice)
    # Text that is almost coordinates ("TR 150 57") is explained unless a name holds it all;
    # the start of a postcode is one thing, not words that other names may hold some of.
    names = _names(
        user, query, max(limit - len(results) - len(alike_towns), 0), choice,
        some_words=not error and not _postcode_start(query),
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
    example = f"{letters} 150 575" if len(letters) == 2 else "TR 150 575"
    return (
        f"“{letters}” is only the letters of a grid reference: add the figures of the easting "
        f"and northing after them, like {example}. You can also search for {FORMATS_HINT}."
    )
