"""The map flies to the first result of a search: the first must be the place typed. On the real
demo boundaries, features and postcodes, the searches an officer made that sent the map to the
wrong place (Chatham for Chartham, Tonbridge for Bridge, a street in Tunbridge Wells for
CT1 2E, the Channel for an easting and northing with a digit left out).

Reference values: the ONS Postcode Directory (data/kent_postcodes_onspd, Nov 2025) holds CT1 2EH
but no CT12 2EH, and no sector CT12 2; CT12's postcodes are in Thanet. 615000 E, 15750 N is in
the National Grid's 100 km square TW (600-700 km E, 0-100 km N), which holds no land of Great
Britain (Ordnance Survey's index of squares; the coast of Kent and Sussex is in TR, TQ and TV).
"""

import re

import pytest

from infraplan.core.testing.data import POSTCODE_DIRECTORY, demo_dataset_load, postcodes_write
from infraplan.places.services import postcodes_load


def _search(client, query: str) -> dict:
    response = client.get("/search/", {"q": query}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _found(client, query: str) -> list[tuple[str, str]]:
    return [(result["label"], result["kind"]) for result in _search(client, query)["results"]]


def _postcodes_load(tmp_path, *starts: str) -> None:
    """The real postcodes starting so, as the directory writes them (CT12's as "CT122EH")."""
    with POSTCODE_DIRECTORY.open(encoding="utf-8") as source:
        rows = [line.rstrip("\n") for line in source if line.startswith(starts)]
    postcodes_load(path=postcodes_write(tmp_path / "postcodes.csv", rows))


@pytest.fixture
def places(districts, tmp_path):
    """The districts, parishes and wards; the schools, whose addresses give the post towns
    (Chatham: ME4, ME5), with those districts' postcodes; the rail stations."""
    for slug in ("parishes", "wards", "schools", "rail-stations"):
        demo_dataset_load(slug)
    _postcodes_load(tmp_path, "ME4 ", "ME5 ", "CT1 ", "CT2 ", "CT4 ")


@pytest.mark.parametrize("query", ["Chartham", "chartham", "CHARTHAM", "Chârtham"])
def test_a_name_as_typed_comes_before_a_town_whose_name_is_only_like_it(client, places, query):
    """ "Chartham" sent the map to Chatham, a post town 30 km away whose name is like it: the
    parish of Chartham comes first, then the names starting with it, and Chatham after every
    name that holds "Chartham"."""
    found = _found(client, query)
    assert found[0] == ("Chartham", "parish")
    assert found[1] == ("Chartham & Stone Street", "ward")
    assert ("Chatham", "town") in found
    chatham = found.index(("Chatham", "town"))
    assert all("Chartham" in label for label, _ in found[:chatham])
    assert ("Chartham Rail Station", "feature") in found[:chatham]
    # A town named as typed still comes first.
    assert _found(client, "Chatham")[0] == ("Chatham", "town")


@pytest.fixture
def bridges(districts):
    for slug in ("parishes", "wards", "listed-buildings"):
        demo_dataset_load(slug)


def test_a_name_that_is_the_word_comes_before_names_holding_it_inside_a_word(client, bridges):
    """ "Bridge" listed the districts of Tonbridge and Malling and Tunbridge Wells first: the
    names that are "Bridge" come first (the village's parish before the wards of that name in
    Maidstone and Dartford), then names starting with the word, then holding it as a word,
    and names holding it inside a word (Tonbridge, Edenbridge) last."""
    found = _search(client, "Bridge")
    results = [(r["label"], r["kind"], r["detail"]) for r in found["results"]]
    assert results[0] == ("Bridge", "parish", "Civil parishes (partial, OpenStreetMap), Canterbury")
    assert [(label, kind) for label, kind, _ in results[:3]] == [
        ("Bridge", "parish"),
        ("Bridge", "ward"),
        ("Bridge", "ward"),
    ]
    assert results[3][0].lower().startswith("bridge ")  # BRIDGE HOUSE, a listed building

    def closeness(label: str) -> int:
        words = re.sub(r"[^a-z]+", " ", label.lower()).split()
        if words == ["bridge"]:
            return 0
        if words[0] == "bridge":
            return 1
        return 2 if "bridge" in words else 3

    ranks = [closeness(label) for label, _, _ in results]
    assert ranks == sorted(ranks)
    assert ("Tonbridge and Malling", "district") not in [
        (label, kind) for label, kind, _ in results
    ]


@pytest.fixture
def postcodes_and_addresses(districts, tmp_path):
    """The postcodes of CT1, CT10, CT12 and CT16 and of TN1, and the brownfield sites, whose
    names hold addresses with postcodes (10 Upper Bridge Street, Canterbury, CT1 2NA; Land at
    Medway Road Royal Tunbridge Wells TN1 2EZ)."""
    _postcodes_load(tmp_path, "CT1 ", "CT10", "CT12", "CT16", "TN1 ")
    demo_dataset_load("brownfield-land")


def test_a_well_formed_postcode_that_does_not_exist_is_said_not_to(client, postcodes_and_addresses):
    """CT12 2EH looks like a postcode but is none: the search says so and moves the map nowhere
    (no result), and offers what it may have been meant to be, all postcodes: its outward code
    CT12 (there is no sector CT12 2) and the real postcodes one character away. Before, it
    listed sites whose addresses held the other words ("10 Upper Bridge Street ... CT1 2NA")."""
    found = _search(client, "CT12 2EH")
    assert found["results"] == []
    assert found["error"] == "There is no postcode CT12 2EH."
    suggested = [(s["label"], s["kind"]) for s in found["suggestions"]]
    assert suggested[0] == ("CT12", "postcode-area")
    assert ("CT1 2EH", "postcode") in suggested
    assert {kind for _, kind in suggested} == {"postcode-area", "postcode"}
    for label, kind in suggested[1:]:
        assert kind == "postcode" and _one_character_apart(label, "CT12 2EH"), label

    # Without JavaScript: the error, and the postcodes to choose from, each a link to the map.
    page = client.get("/search/", {"q": "CT12 2EH"}).content.decode()
    assert "There is a problem" in page and "There is no postcode CT12 2EH." in page
    assert "Postcodes like “CT12 2EH”" in page
    assert re.search(r'<a class="govuk-link[^"]*" href="/map/\?[^"]*">CT1 2EH</a>', page)
    assert "Upper Bridge Street" not in page


def _one_character_apart(a: str, b: str) -> bool:
    a, b = a.replace(" ", ""), b.replace(" ", "")
    if len(a) == len(b):
        differ = [index for index in range(len(a)) if a[index] != b[index]]
        swapped = len(differ) == 2 and differ[1] == differ[0] + 1
        return len(differ) == 1 or (swapped and a[differ[0]] == b[differ[1]])
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return len(longer) == len(shorter) + 1 and any(
        longer[:index] + longer[index + 1 :] == shorter for index in range(len(longer))
    )


def test_the_start_of_a_postcode_finds_the_postcodes_starting_so(client, postcodes_and_addresses):
    """ "CT1 2E" showed a site at TN1 2EZ, in Tunbridge Wells, first: the postcodes starting
    CT1 2E are the results, in order, and nothing of another postcode area."""
    found = _search(client, "CT1 2E")
    labels = [result["label"] for result in found["results"]]
    assert labels[:2] == ["CT1 2EA", "CT1 2EB"]
    assert all(label.startswith("CT1 2E") for label in labels)
    assert labels == sorted(labels) and len(labels) == 10
    assert {result["kind"] for result in found["results"]} == {"postcode"}
    # CT1 2E has more postcodes than are listed.
    assert (
        found["more"] == "Only the first 10 are listed: type more of the postcode to find others."
    )
    assert _search(client, "ct1 2eh")["results"][0]["label"] == "CT1 2EH"


def test_eastings_and_northings_off_the_island_say_a_digit_may_be_missing(client, db):
    """615000,15750 (157500 with a digit left out) was marked in the Channel off France with no
    word: it is refused, as grid references in squares without land are, and the easting and
    northing of unlike lengths are pointed out."""
    found = _search(client, "615000,15750")
    assert found["results"] == []
    assert found["error"].startswith(
        "615000, 15750 is outside Great Britain: it is in the National Grid square TW, which "
        "holds no land of Great Britain. 615000,15750: the northing has 5 digits and the "
        "easting 6; in this area both have 6."
    )
    page = client.get("/search/", {"q": "615000,15750"}).content.decode()
    assert "There is a problem" in page and "the northing has 5 digits and the easting 6" in page
    # The same place by latitude and longitude is refused too.
    assert "outside Great Britain" in _search(client, "50.003, 0.999")["error"]


def test_a_place_in_great_britain_outside_the_map_says_how_far_outside(client, db):
    """515000,95000 (a northing short of a digit) is in the sea off Sussex, in Great Britain's
    waters: shown, saying how far outside the map's area it is and which way, and that the
    northing is short of a digit."""
    found = _search(client, "515000,95000")
    (result,) = found["results"]
    assert re.fullmatch(r"\d+ km south-west of the area the map covers", result["detail"])
    assert 25 < int(result["detail"].split()[0]) < 45  # 50.74 N, 0.37 W; the area: 50.91 N, 0.03 E
    assert found["note"] == (
        "515000,95000: the northing has 5 digits and the easting 6; in this area both have 6."
    )
    page = client.get("/search/", {"q": "515000,95000"}).content.decode()
    assert "south-west of the area the map covers" in page and "in this area both have 6" in page
    # Inside the area, nothing is said.
    (inside,) = _search(client, "615146,157812")["results"]
    assert inside["detail"] == ""
    assert _search(client, "615146,157812")["note"] is None


def test_a_result_and_its_kind_are_apart_for_screen_readers_and_copying(client, places):
    """A result's link and its kind ran together ("CT1 2EHPostcode") when read aloud or copied:
    a comma, unseen, is between them."""
    page = client.get("/search/", {"q": "CT1 2EH"}).content.decode()
    assert '>CT1 2EH</a><span class="govuk-visually-hidden">, </span>' in page
    page = client.get("/search/", {"q": "Chatham"}).content.decode()
    assert '>Chatham</a><span class="govuk-visually-hidden">, </span>' in page
