"""Post towns in a search: the town a query names, shown where the postcodes of its districts are.

The towns come from the addresses of one dataset's features
(``settings.AUTHORITY_PROFILE.search.post_towns``), searched only if the user may view it.
"""

import re
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection

from infraplan.catalogue.models import Feature

from .models import Postcode
from .name_search import searchable_datasets
from .search_results import MapChoice, SearchResult, box_result, lon_lat_of
from .terms import unaccented

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


def post_towns(
    user: Any, query: str, choice: MapChoice
) -> tuple[list[SearchResult], list[SearchResult]]:
    """The post town ``query`` names (``settings.AUTHORITY_PROFILE.search.post_towns``), shown
    where the postcodes of its districts are, if ``user`` may view the dataset it comes from:
    as the first list if its name is the query's, as the second if it is only like it."""
    towns = settings.AUTHORITY_PROFILE.search.post_towns
    if towns is None or len(query) < 3:
        return [], []
    found = searchable_datasets(user, choice.moment, only=towns.dataset)
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
    result = box_result("town", name, box, choice, detail)
    middle = Point(xs[1], ys[1], srid=27700)
    point = lon_lat_of(middle)
    result = replace(result, point=point, map_url=choice.map_url(point, result.bbox, label=name))
    return ([result], []) if _town_name(name) in names else ([], [result])
