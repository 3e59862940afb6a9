"""Names in a search: areas and features whose names hold what was typed, and former names.

The names search's SQL is built here, a part for each dataset the one gate,
``Dataset.objects.permitting(user, "view")``, lets the user see, in three passes (``_NAMED``),
and run.
"""

import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import OuterRef, Subquery
from psycopg import sql

from infraplan.catalogue.access import Action
from infraplan.catalogue.history import versions_current_at
from infraplan.catalogue.models import Dataset, DatasetVersion, Feature, GeometryType
from infraplan.catalogue.placement import GSS_CODE
from infraplan.maps.ended import live_on_sql
from infraplan.maps.selectors import MapMoment
from infraplan.maps.styling import label_field_of

from .name_index import name_expression
from .search_results import AREA_DATASETS, KIND_LABELS, MapChoice, SearchResult, rounded
from .terms import ACCENTED, SHORT_WORD, UNACCENTED, Terms, terms_read, words_of

# The group of features of every dataset but the AREA_DATASETS, listed after the areas.
FEATURE_GROUP = len(AREA_DATASETS)


def searchable_datasets(
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
    searchable = searchable_datasets(user, choice.moment)
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


def names_found(
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
            fewer = search_terms(names.terms.without(i for index in unheld for i in units[index]))
            if not _can_name_something(fewer):
                return NamesFound([])
            found = names_found(user, query, limit, choice, terms=fewer)
            left_out = tuple(names.terms.words[i] for index in unheld for i in units[index])
            return replace(found, left_out=left_out + found.left_out)
    partial_of = (names.terms.text if terms else query) if partial else ""
    return NamesFound(_name_results(names, rows, choice), partial_of=partial_of, as_typed=as_typed)


def _can_name_something(terms: Terms) -> bool:
    """Whether ``terms`` can be searched for on their own: not when every word a name must hold
    is one character ("alert(1)" without "alert"), which a great many names have a word
    starting with."""
    return any(len(word) > 1 for word in terms.words)


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
        point = rounded((lon, lat))
        bbox = rounded(tuple(box)) if box[0] != box[2] or box[1] != box[3] else None
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


def former_names(user: Any, query: str, limit: int, choice: MapChoice) -> list[SearchResult]:
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
            for result in names_found(user, area.name, limit, choice).results
            if result.kind == "district" and result.label == area.name
        ][:1]
    return results
