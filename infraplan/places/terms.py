"""What the words of a search ask for: the words a name must hold, the kinds of place asked for,
and the districts the words name.

"Riverside District Council" asks for the district named Riverside, not for names holding
"district" or "council": the words that name a kind of place (``KIND_WORDS``) are read as a
preference for results of that kind, and the other words, the distinctive ones, are those a
name must hold. Words that join a name's parts ("and", "the", "of") are not required either:
a ward "Hill, Dale & Vale" is found by "Hill and Dale".

A district's name among other words ("Riverside castle") may be met by where a feature is as
well as by its name: a castle in the district Riverside, or a ward "Town & Castle" there.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Words that name a kind of place rather than a place, with the kinds of result (the search's
# KIND_LABELS) each may mean: a council is a county's, a district's or a parish's; a town's
# council is a parish's. A plural means the same as its singular.
KIND_WORDS: dict[str, frozenset[str]] = {
    "district": frozenset({"district"}),
    "borough": frozenset({"district"}),
    "unitary": frozenset({"district"}),
    "city": frozenset({"district", "town"}),
    "council": frozenset({"county", "district", "parish"}),
    "county": frozenset({"county"}),
    "ward": frozenset({"ward"}),
    "electoral": frozenset({"ward"}),
    "parish": frozenset({"parish"}),
    "civil": frozenset({"parish"}),
    "village": frozenset({"parish"}),
    "town": frozenset({"town", "parish"}),
}
_PLURALS = {
    "districts": "district", "boroughs": "borough", "cities": "city", "councils": "council",
    "counties": "county", "wards": "ward", "parishes": "parish", "villages": "village",
    "towns": "town",
}  # fmt: skip
# Words that join the parts of a name, written as "&" or left out as often as not.
JOINING_WORDS = frozenset({"and", "the", "of"})
# A word of at most this many letters matches only the start of a word of a name: "tr" or
# "ash" inside longer names ("Central", "Washford") is not what was asked for.
SHORT_WORD = 3
# A word of a name: letters and digits, with apostrophes within (St Mary's).
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def unaccented(text: str) -> str:
    """``text`` without accents: é read as e."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# The lower-case Latin letters with accents and the letters they are without them, for SQL's
# translate(): names are compared with the query's words without accents on either side.
_ACCENTED_LETTERS = [
    letter
    for letter in map(chr, range(0xC0, 0x250))
    if letter.islower() and len(unaccented(letter)) == 1 and unaccented(letter) != letter
]
ACCENTED = "".join(_ACCENTED_LETTERS)
UNACCENTED = "".join(unaccented(letter) for letter in _ACCENTED_LETTERS)


def words_of(text: str) -> list[str]:
    """The words of ``text`` in lower case without accents, "&" read as "and" and curly
    apostrophes as straight ones."""
    text = unaccented(text.lower().replace("&", " and ").replace("\u2019", "'"))
    return _WORD.findall(text)


def kinds_of_word(word: str) -> frozenset[str] | None:
    """The kinds of place ``word`` (lower case) names, or None if it names none."""
    return KIND_WORDS.get(_PLURALS.get(word, word))


@dataclass(frozen=True)
class Place:
    """A district named by some of the words: ``words`` are their positions in
    ``Terms.words``, ``codes`` the GSS codes of the districts of that name."""

    words: tuple[int, ...]
    codes: tuple[str, ...]


@dataclass(frozen=True)
class Terms:
    text: str  # the words of the query, lower case, one space between each
    words: tuple[str, ...]  # the distinctive words: a name must hold each (or be like them)
    kinds: frozenset[str]  # the kinds of place asked for; empty when none is
    positions: tuple[int, ...]  # the position of each distinctive word among those of ``text``
    places: tuple[Place, ...] = ()  # districts named by words, beside at least one other word

    @property
    def rest(self) -> str:
        """The distinctive words, one space between each: what names are compared with."""
        return " ".join(self.words)

    def units(self) -> list[tuple[int, ...]]:
        """The positions in ``words`` that must be met together: each place's words, then
        each word of no place on its own."""
        placed = {position for place in self.places for position in place.words}
        return [place.words for place in self.places] + [
            (position,) for position in range(len(self.words)) if position not in placed
        ]

    def without(self, unwanted: Iterable[int]) -> str:
        """The words of the query but the distinctive ones at ``unwanted`` (in ``words``)."""
        dropped = {self.positions[index] for index in unwanted}
        words = self.text.split()
        return " ".join(word for position, word in enumerate(words) if position not in dropped)


def terms_read(
    query: str, districts: Mapping[tuple[str, ...], Iterable[str]] | None = None
) -> Terms:
    """The terms of ``query``; ``districts`` maps the words of each district's name (and of
    its former names) to the codes of the districts of that name."""
    words = words_of(query)
    kinds = [kinds_of_word(word) for word in words]
    distinctive = [
        position
        for position, word in enumerate(words)
        if kinds[position] is None and word not in JOINING_WORDS
    ]
    asked = [kind for kind in kinds if kind is not None]
    if not distinctive:  # "Town", "the wards": the words are all there is to look for
        distinctive, asked = list(range(len(words))), []
    preferred = frozenset.intersection(*asked) if asked else frozenset()
    if asked and not preferred:  # "ward district": either
        preferred = frozenset.union(*asked)
    places = _places_named(words, distinctive, districts or {})
    return Terms(
        text=" ".join(words),
        words=tuple(words[position] for position in distinctive),
        kinds=preferred,
        positions=tuple(distinctive),
        places=places,
    )


def _places_named(
    words: list[str], distinctive: list[int], districts: Mapping[tuple[str, ...], Iterable[str]]
) -> tuple[Place, ...]:
    """The districts whose names are runs of ``words`` that leave some distinctive word out
    (a district's name alone is looked for by name, not as every feature in it)."""
    places = []
    taken: set[int] = set()
    # Longest names first: "Upper Vale" before "Vale".
    for name in sorted(districts, key=len, reverse=True):
        for start in range(len(words) - len(name) + 1):
            span = set(range(start, start + len(name)))
            if tuple(words[start : start + len(name)]) != name or span & taken:
                continue
            covered = tuple(index for index, position in enumerate(distinctive) if position in span)
            if covered and len(covered) < len(distinctive):
                places.append(Place(words=covered, codes=tuple(sorted(districts[name]))))
                taken |= span
    return tuple(places)
