"""The catalogue list's search: forgiving of word forms and misspellings, best matches first.

Each word of a search is looked for in a dataset's title, keywords, theme and abstract with
PostgreSQL's full-text search in its english configuration, which compares stems: "woodlands"
finds woodland, "surgery" a keyword "surgeries". A word whose stem no dataset searched holds
("scool", "woodlnd", "railway") is looked for as the words of those datasets most like it
(pg_trgm similarity, against the words they hold and their stems): school, woodland, rail.
Words that join others ("and", "the") are not looked for.

The datasets listed are those holding every word, when any does; otherwise those holding as
many of the words as any does ("primary schools": the schools, and the practices giving primary
care). They come in order of relevance: the words in a title weigh most, then in keywords and
the theme, then in the abstract.
"""

import re
from collections.abc import Iterable

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import (
    Case,
    F,
    Func,
    IntegerField,
    Max,
    QuerySet,
    TextField,
    Value,
    When,
    Window,
)
from django.db.models.functions import Concat

from .models import Dataset, Theme

CONFIG = "english"
# How alike (pg_trgm similarity) a word of the datasets must be to a word searched for whose
# stem none holds: "scool" is 0.44 to "school", "railway" 0.44 to "rail".
LIKENESS = 0.4
ALIKE_WORDS = 3  # the most alike words looked for in place of one
MAX_WORDS = 20  # the words of a search looked for; a search holds at most 200 characters
_WORD = re.compile(r"[^\W_]+")


class KeywordsText(Func):
    """The keywords as plain text, one after another. The JSON text of the list would also
    match a search for its brackets, quotes and commas, in every dataset."""

    template = (
        "(SELECT string_agg(k #>> '{}', ' ') FROM jsonb_path_query(%(expressions)s, '$[*]') k)"
    )
    output_field = TextField()


def _theme_label() -> Case:
    return Case(
        *[When(theme=value, then=Value(label)) for value, label in Theme.choices],
        default=Value(""),
        output_field=TextField(),
    )


def _document() -> SearchVector:
    """What a dataset's search looks in, each part weighed by where it comes from."""
    return (
        SearchVector("title", weight="A", config=CONFIG)
        + SearchVector(KeywordsText("keywords"), weight="B", config=CONFIG)
        + SearchVector(_theme_label(), weight="B", config=CONFIG)
        + SearchVector("abstract", weight="C", config=CONFIG)
    )


# For each word searched for: whether it is a word searched at all (not "and"), whether a
# dataset holds its stem, and the words and stems of the datasets most like it.
_WORDS_SQL = """
WITH texts AS (
    SELECT text, to_tsvector(%(config)s::regconfig, text) AS document
    FROM unnest(%(texts)s::text[]) AS text
), vocabulary AS (
    SELECT word FROM texts, regexp_split_to_table(lower(text), '[^[:alnum:]]+') AS word
    UNION
    SELECT word FROM texts, unnest(tsvector_to_array(document)) AS word
)
SELECT asked,
       numnode(plainto_tsquery(%(config)s::regconfig, asked)) > 0,
       EXISTS (
           SELECT FROM texts WHERE document @@ plainto_tsquery(%(config)s::regconfig, asked)
       ),
       ARRAY(
           SELECT word FROM vocabulary
           WHERE length(word) > 2 AND similarity(asked, word) >= %(likeness)s
           ORDER BY similarity(asked, word) DESC, word
           LIMIT %(alike)s
       )
FROM unnest(%(words)s::text[]) WITH ORDINALITY AS words(asked, position)
ORDER BY position
"""


def _looked_for(datasets: QuerySet[Dataset], words: list[str]) -> list[list[str]]:
    """For each word searched that is looked for, the words to look for in its place: itself,
    or where no dataset of ``datasets`` holds its stem, itself and the most alike of theirs."""
    parts = ["title", KeywordsText("keywords"), _theme_label(), "abstract"]
    spaced = [part for each in parts for part in (each, Value(" "))][:-1]
    texts = list(
        Dataset.objects.filter(pk__in=datasets.values("pk"))
        .annotate(text=Concat(*spaced, output_field=TextField()))
        .values_list("text", flat=True)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _WORDS_SQL,
            {
                "config": CONFIG, "texts": texts, "words": words, "likeness": LIKENESS,
                "alike": ALIKE_WORDS,
            },
        )  # fmt: skip
        return [
            [word] if held else [word, *alike]
            for word, searched, held, alike in cursor.fetchall()
            if searched
        ]


def _any_of(words: Iterable[str]) -> SearchQuery:
    queries = [SearchQuery(word, config=CONFIG) for word in words]
    combined = queries[0]
    for query in queries[1:]:
        combined |= query
    return combined


def datasets_search(datasets: QuerySet[Dataset], query: str) -> QuerySet[Dataset]:
    """The datasets of ``datasets`` that ``query`` finds (none if it has no word to look
    for), most relevant first."""
    words = list(dict.fromkeys(_WORD.findall(query.lower())))[:MAX_WORDS]
    looked_for = _looked_for(datasets, words) if words else []
    if not looked_for:
        return datasets.none()
    each = [_any_of(alternatives) for alternatives in looked_for]
    held = sum(
        (Case(When(document=word, then=1), default=0) for word in each),
        start=Value(0, output_field=IntegerField()),
    )
    everything = _any_of(word for alternatives in looked_for for word in alternatives)
    return (
        datasets.annotate(document=_document())
        .annotate(held=held, relevance=SearchRank(F("document"), everything))
        .filter(held__gt=0)
        .annotate(most_held=Window(Max("held")))
        .filter(held=F("most_held"))
        .order_by("-relevance", "title")
    )
