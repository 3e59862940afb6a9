"""Search by the words of a name: a kind of place named among them ("Dover District Council"),
a district's name beside other words ("Dover Castle"), words that nothing holds, short words,
and the letters of a grid reference alone. On the real demo boundaries and features."""

import pytest
from django.conf import settings

from infraplan.core.testing.data import demo_dataset_load


def _search(client, query: str) -> dict:
    response = client.get("/search/", {"q": query}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _found(client, query: str) -> list[tuple[str, str]]:
    return [(result["label"], result["kind"]) for result in _search(client, query)["results"]]


@pytest.fixture
def areas_and_features(districts):
    """The districts, wards, parishes and county, and a few datasets of named features: the
    stroke hospitals (Maidstone District General Hospital) and the rail stations."""
    for slug in ("wards", "parishes", "kent-county-outline", "stroke-hospitals", "rail-stations"):
        demo_dataset_load(slug)


def test_a_kind_of_place_named_is_the_kind_of_what_the_other_words_name(client, areas_and_features):
    """ "District", "council", "parish" and the like name no place: they ask for the district,
    parish... named by the other words, which every result holds."""
    for query in ("Dover District", "Dover District Council", "dover district council"):
        found = _found(client, query)
        assert found[0] == ("Dover", "district"), query
        # Never a name holding "district" alone (it sent the map to another district).
        assert all("dover" in label.lower() for label, _ in found), (query, found)
    assert _found(client, "Ashford district")[0] == ("Ashford", "district")
    assert _found(client, "Ashford Borough Council")[0] == ("Ashford", "district")
    assert _found(client, "Canterbury City Council")[0] == ("Canterbury", "district")
    assert _found(client, "Kent County Council")[0] == ("Kent", "county")
    # The parish of the name first, then the ward whose name starts with it, then the station;
    # asking for a ward puts the ward first.
    aylesham = _found(client, "Aylesham")
    assert aylesham[:2] == [("Aylesham", "parish"), ("Aylesham, Eythorne & Shepherdswell", "ward")]
    assert ("Aylesham Rail Station", "feature") in aylesham
    parish = _found(client, "Aylesham parish")
    assert parish[0] == ("Aylesham", "parish")
    assert sorted(parish) == sorted(aylesham)
    assert _found(client, "aylesham ward")[0] == ("Aylesham, Eythorne & Shepherdswell", "ward")
    # A kind alone is looked for as a word of names.
    assert _found(client, "Town")[0][0].startswith("Town")


def test_words_that_name_a_kind_still_find_a_name_holding_them(client, areas_and_features):
    """A ward called "Town & Castle" is found by its name, first."""
    assert _found(client, "Town & Castle")[0] == ("Town & Castle", "ward")
    assert _found(client, "town and castle")[0] == ("Town & Castle", "ward")


@pytest.fixture
def castles(districts):
    """The wards, and the brownfield land registers: a site at Castle Dene, Maidstone."""
    demo_dataset_load("wards")
    demo_dataset_load("brownfield-land")


def test_a_district_named_beside_other_words_is_where_they_are(client, castles):
    """Nothing is named "Dover Castle": the ward of Town & Castle in Dover district is, not a
    site at Castle Dene in Maidstone, which holds only the generic word."""
    found = _search(client, "Dover Castle")
    first = found["results"][0]
    assert (first["label"], first["kind"]) == ("Town & Castle", "ward")
    for result in found["results"]:
        assert "Maidstone" not in result["label"] + result["detail"], result
        assert "Dover" in result["detail"] or "dover" in result["label"].lower(), result
    # A ward's name that two districts have is told apart by the district's name.
    wards = [("Westgate", "ward"), ("Westgate-on-Sea", "ward")]
    assert [found for found in _found(client, "Westgate") if found[1] == "ward"] == wards
    assert _found(client, "Canterbury Westgate") == [("Westgate", "ward")]
    assert _found(client, "Westgate Canterbury") == [("Westgate", "ward")]


def test_too_many_results_are_narrowed_by_a_town_or_a_kind_of_place(client, castles):
    """The advice given with too many results works: adding a district's name keeps those in
    it; adding a kind of place puts that kind first."""
    assert _search(client, "North")["more"]
    found = _search(client, "North Ashford")
    assert found["more"] is None
    assert sorted((r["label"], r["detail"]) for r in found["results"] if r["kind"] == "ward") == [
        ("Downs North", "Electoral wards (December 2023), Ashford"),
        ("Kingsnorth Village & Bridgefield", "Electoral wards (December 2023), Ashford"),
        ("Park Farm North", "Electoral wards (December 2023), Ashford"),
        ("Tenterden North", "Electoral wards (December 2023), Ashford"),
        ("Weald North", "Electoral wards (December 2023), Ashford"),
    ]
    assert all("Ashford" in result["detail"] for result in found["results"])
    assert _found(client, "Dover ward")[0] == ("Dover Downs & River", "ward")


def test_when_no_name_has_every_word_those_with_a_place_name_come_first(client, castles):
    """No name holds both words: names holding the one that names an area come before names
    holding only the other, and the results say they hold some of the words only."""
    found = _search(client, "Aylesham Castle")
    labels = [result["label"] for result in found["results"]]
    with_place = [index for index, label in enumerate(labels) if "Aylesham" in label]
    others = [index for index, label in enumerate(labels) if "Aylesham" not in label]
    assert with_place and max(with_place) < min(others, default=len(labels))
    assert found["note"] == (
        "Nothing found has all the words of “Aylesham Castle”: these results have some of "
        "them, those naming a place first."
    )
    # A word nothing holds is left out.
    found = _search(client, "Westgate xyzzy")
    assert found["results"] == _search(client, "Westgate")["results"]
    assert found["note"] == "Nothing found has “xyzzy”: these results are for the other words."
    page = client.get("/search/", {"q": "Westgate xyzzy plugh"}).content.decode()
    assert "Nothing found has “xyzzy” or “plugh”: these results are for the other" in page
    # A name that holds every word needs no note.
    assert _search(client, "Westgate")["note"] is None


@pytest.fixture
def wards(districts):
    return demo_dataset_load("wards")


@pytest.mark.parametrize("query", ["TR", "tr", " TQ ", "T"])
def test_the_letters_of_a_grid_square_alone_are_explained(client, wards, examples_expected, query):
    """ "TR" listed wards holding the letters (Trench, Central Harbour ...): it is the start of
    a grid reference, and the search says what to add: the figures of the example in the
    area (the centre of the map's bounds, in TQ) after the letters typed, or for a single
    letter the whole example."""
    area_example = examples_expected(settings.AUTHORITY_PROFILE.map.bounds, "TQ")
    found = _search(client, query)
    assert found["results"] == []
    letters = query.strip().upper()
    figures = area_example["grid_reference"].removeprefix("TQ ")
    example = f"{letters} {figures}" if len(letters) == 2 else area_example["grid_reference"]
    assert found["error"].startswith(
        f"“{letters}” is only the letters of a grid reference: add the figures of the easting "
        f"and northing after them, like {example}."
    )
    page = client.get("/search/", {"q": query}).content.decode()
    assert "There is a problem" in page and "only the letters of a grid reference" in page


def test_a_malformed_grid_reference_is_explained_not_matched_in_part(client, wards):
    """No name holds all of "TR 150 57": the error is shown, not the wards starting "Tr"."""
    found = _search(client, "TR 150 57")
    assert found["results"] == [] and found["note"] is None
    assert "the easting and northing must have the same number of digits" in found["error"]


def test_short_words_match_the_start_of_words_only(client, wards):
    """ "ash" finds Painters Ash, Ashstone and the district of Ashford, not Washford."""
    assert sorted(label for label, _ in _found(client, "ash")) == [
        "Ash and New Ash Green",
        "Ashford",
        "Little Stour & Ashstone",
        "Painters Ash",
    ]
    # Nothing but punctuation holds no word to look for.
    assert _search(client, "- /")["results"] == []
    # Longer words are found inside names, as before: a district's "ford".
    assert ("Washford", "ward") in _found(client, "ashf")
    assert "Westgate-on-Sea" in [label for label, _ in _found(client, "westgate on sea")]


def test_words_nothing_holds_are_named_once(client, castles):
    found = _search(client, "xyzzy Westgate xyzzy")
    assert found["results"] == _search(client, "Westgate")["results"]
    assert found["note"] == "Nothing found has “xyzzy”: these results are for the other words."


@pytest.mark.parametrize("query", ["<script>alert(1)</script>", "xyzzy 1", "xyzzy plugh a 1 &"])
def test_one_character_words_left_alone_are_not_searched_for(client, castles, query):
    """Once the words nothing holds are left out, one-character words alone ("1" of
    "alert(1)") are in a great many names: nothing is found, as for a word nothing holds."""
    assert _search(client, "1")["results"], "the test needs names holding a word starting 1"
    found = _search(client, query)
    assert (found["results"], found["note"]) == ([], None)
    page = client.get("/search/", {"q": query}).content.decode()
    assert "Nothing found for “" in page and "Check the spelling, or search for:" in page
    assert "these results are for the other words" not in page
