"""Search: postcodes, coordinates and names, and only names the user may see.

Reference points: CT1 2EH is at 51.278809 N, 1.083457 E in ONSPD (Nov 2025; its lat/lon were
converted with OSTN15, ours with the 2 m Helmert: see docs/coordinates.md, so they agree to
about 1e-4 degrees). Canterbury Cathedral: 51.2798 N, 1.0830 E (Wikipedia).
"""

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from pyproj import Transformer

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.models import DatasetVersion, Feature
from infraplan.core.testing.data import (
    ASHFORD_POINTS,
    POSTCODE_DIRECTORY,
    dataset_make,
    demo_dataset_load,
    postcodes_write,
    version_publish_points,
)
from infraplan.places.services import postcodes_load

CT1_2EH = (1.083457, 51.278809)
CATHEDRAL = (1.0830, 51.2798)


def _search(client, query: str, **extra) -> dict:
    response = client.get("/search/", {"q": query, "format": "json", **extra})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def _view(result: dict) -> dict[str, str]:
    """The map view a result's link opens."""
    parts = urlsplit(result["map_url"])
    assert parts.path == "/map/"
    return {name: values[0] for name, values in parse_qs(parts.query).items()}


def _inside(point: tuple[float, float], bbox: list[float]) -> bool:
    return bbox[0] <= point[0] <= bbox[2] and bbox[1] <= point[1] <= bbox[3]


@pytest.mark.parametrize("query", ["CT1 2EH", "ct1 2eh", "ct12eh", " CT1  2EH "])
def test_a_postcode_is_found_where_it_is(client, sample_postcodes, query):
    body = _search(client, query)

    (result,) = body["results"]
    assert (result["label"], result["kind"]) == ("CT1 2EH", "postcode")
    assert (result["point"]["lon"], result["point"]["lat"]) == pytest.approx(CT1_2EH, abs=1e-4)
    view = _view(result)
    lon, lat = (float(value) for value in view["center"].split(","))
    assert (lon, lat) == pytest.approx(CT1_2EH, abs=1e-4)
    assert float(view["zoom"]) >= 15
    assert body["error"] is None and body["message"] is None


def test_an_outward_code_is_the_box_of_its_postcodes(client, sample_postcodes):
    (result,) = _search(client, "ct1")["results"]

    assert (result["label"], result["kind"]) == ("CT1", "postcode-area")
    assert result["detail"] == "3 postcodes"  # CT1 1AA, 2EH, 2EJ of the sample; not ME10 1AA
    assert _inside(CT1_2EH, result["bbox"])


def test_a_postcode_that_is_not_loaded_is_nothing_found(client, sample_postcodes):
    body = _search(client, "SW1A 1AA")
    assert body["results"] == [] and "Nothing found for “SW1A 1AA”" in body["message"]


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("ab12", "“AB 12” is not a grid reference: AB is not a square of the National Grid"),
        ("TN23", "“TN 23” is outside Great Britain: the National Grid square TN holds no land"),
    ],
)
def test_the_start_of_a_postcode_not_loaded_says_so_beside_the_grid_reference(
    client, sample_postcodes, query, why
):
    body = _search(client, query)
    assert body["results"] == []
    assert body["error"].startswith(
        f"No postcode starting {query.upper()} is in the platform's postcode directory. {why}"
    )


@pytest.mark.parametrize("query", ["TR 150 578", "TR150578"])
def test_a_grid_reference_flies_to_its_square(client, db, query):
    (result,) = _search(client, query)["results"]

    assert (result["label"], result["kind"]) == ("TR 150 578", "grid-reference")
    west, south, east, north = result["bbox"]
    # A 100 m square a stone's throw south-west of the cathedral (within 200 m).
    assert 0 < east - west < 0.002 and 0 < north - south < 0.001
    assert (result["point"]["lon"], result["point"]["lat"]) == pytest.approx(CATHEDRAL, abs=0.002)


@pytest.mark.parametrize(
    ("query", "detail", "centre"),
    [
        ("TR 1 5", "the 10 km square; the point shown is its centre", (615000, 155000)),
        ("TR 15 57", "the 1 km square; the point shown is its centre", (615500, 157500)),
        ("TR 150 578", "the 100 m square; the point shown is its centre", (615050, 157850)),
        ("TR 15000 57800", "the 1 m square; the point shown is its centre", (615000.5, 157800.5)),
    ],
)
def test_a_grid_reference_says_its_square_and_that_the_point_is_its_centre(
    client, db, query, detail, centre
):
    """An Ordnance Survey grid reference names the square whose south-west corner it gives; the
    result shows the square's centre (checked here with pyproj), and says so."""
    (result,) = _search(client, query)["results"]

    assert result["detail"] == detail
    to_grid = Transformer.from_crs(4326, 27700, always_xy=True)
    point = to_grid.transform(result["point"]["lon"], result["point"]["lat"])
    assert point == pytest.approx(centre, abs=0.1)  # the point is rounded to 6 decimal places
    page = client.get("/search/", {"q": query}).content.decode()
    assert f"Grid reference: {detail}" in page


@pytest.mark.parametrize("query", ["615146,157812", "615146 157812", "E 615146 N 157812"])
def test_eastings_and_northings_fly_to_their_point(client, db, query):
    (result,) = _search(client, query)["results"]

    assert result["kind"] == "eastings-northings"
    assert (result["point"]["lon"], result["point"]["lat"]) == pytest.approx(CT1_2EH, abs=1e-4)


def test_eastings_and_northings_the_wrong_way_round_offer_the_place_in_the_area_too(client, db):
    """Northing first, CT1 2EH's numbers name a point off Kintyre (as typed, first, saying how
    far outside the map's area it is); the other way round, in the area the map covers, comes
    second and says why."""
    as_typed, swapped = _search(client, "157812, 615146")["results"]

    assert as_typed["label"] == "157812, 615146"
    assert re.fullmatch(r"\d+ km north-west of the area the map covers", as_typed["detail"])
    assert (as_typed["point"]["lon"], as_typed["point"]["lat"]) == pytest.approx(
        Transformer.from_crs(27700, 4326, always_xy=True).transform(157812, 615146), abs=1e-6
    )
    assert swapped["label"] == "615146, 157812"
    assert swapped["detail"] == "the two numbers the other way round: the easting comes first"
    assert (swapped["point"]["lon"], swapped["point"]["lat"]) == pytest.approx(CT1_2EH, abs=1e-4)
    # Typed the right way round, or naming a place outside the area either way: one result.
    assert len(_search(client, "615146, 157812")["results"]) == 1
    assert len(_search(client, "325000, 673000")["results"]) == 1  # Edinburgh


def test_latitude_and_longitude_either_way_round(client, db):
    for query in ("51.2798, 1.0830", "1.0830, 51.2798", "51°16'47.28\"N 1°04'58.8\"E"):
        (result,) = _search(client, query)["results"]
        assert result["kind"] == "latitude-longitude"
        assert (result["point"]["lon"], result["point"]["lat"]) == pytest.approx(
            CATHEDRAL, abs=1e-6
        )


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("TR 150 57", "the easting and northing must have the same number of digits"),
        ("TR15057", "odd number of digits (5)"),
        ("ZZ 150 575", "ZZ is not a square of the National Grid"),
        ("TN 150 575", "outside Great Britain"),
        ("51 16 75 N 1 4 59 E", "has 75 seconds: seconds run from 0 to 59"),
    ],
)
def test_a_malformed_grid_reference_is_explained(client, districts, query, why):
    body = _search(client, query)
    assert body["results"] == [] and why in body["error"]

    page = client.get("/search/", {"q": query}).content.decode()
    assert "There is a problem" in page and why in page


@pytest.fixture
def wards(districts):
    return demo_dataset_load("wards")


def test_a_ward_by_name_before_other_names_that_start_so(client, wards):
    results = _search(client, "westgate")["results"]

    # Westgate (Canterbury) first, exactly; Westgate-on-Sea (Thanet) after it.
    assert [(r["label"], r["kind"]) for r in results] == [
        ("Westgate", "ward"),
        ("Westgate-on-Sea", "ward"),
    ]
    westgate = results[0]
    assert westgate["dataset"] == {"slug": "wards", "title": wards.title}
    assert _inside(CATHEDRAL, westgate["bbox"])
    view = _view(westgate)
    assert "wards" in view["layers"].split(",")
    assert view["feature"] == f"wards/{westgate['feature_id']}"


def test_a_district_comes_before_wards_and_a_misspelling_still_finds_it(client, wards):
    results = _search(client, "Canterbury")["results"]
    assert (results[0]["label"], results[0]["kind"]) == ("Canterbury", "district")
    assert _inside(CATHEDRAL, results[0]["bbox"])

    misspelt = _search(client, "Canterbery")["results"]
    assert ("Canterbury", "district") in [(r["label"], r["kind"]) for r in misspelt]


@pytest.mark.parametrize("query", ["Shepway", "shep"])
def test_a_district_is_found_by_its_former_name(client, wards, query):
    """Folkestone and Hythe was Shepway until 2018, and officers still call it so."""
    (result, *_) = _search(client, query)["results"]
    assert (result["label"], result["kind"]) == (
        "Folkestone and Hythe (formerly Shepway)",
        "district",
    )
    assert _view(result)["feature"] and result["dataset"]["slug"] == "districts"
    assert _search(client, "Hythe")["results"][0]["label"] != result["label"]


def test_a_ward_found_names_its_district(client, wards):
    """Wards of like names in two districts are told apart by the district each is in."""
    details = {
        result["label"]: result["detail"] for result in _search(client, "Westgate")["results"]
    }
    assert details == {
        "Westgate": "Electoral wards (December 2023), Canterbury",
        "Westgate-on-Sea": "Electoral wards (December 2023), Thanet",
    }
    (district, *_) = _search(client, "Canterbury")["results"]
    assert district["detail"] == "Local authority districts"


def test_control_characters_in_a_search_count_as_spaces(client, wards):
    """A NUL, which PostgreSQL refuses in text, or a tab pasted into the box reads as a space."""
    found = _search(client, "\x00Westgate\t")
    assert found["query"] == "Westgate"
    assert (found["results"][0]["label"], found["results"][0]["kind"]) == ("Westgate", "ward")
    page = client.get("/search/", {"q": "West\x00gate"})
    assert page.status_code == 200 and _search(client, "West\x00gate")["query"] == "West gate"


def test_an_area_is_found_by_its_ons_code(client, wards):
    (district, *_) = _search(client, "e07000106")["results"]
    assert (district["label"], district["kind"]) == ("Canterbury", "district")
    westgate = Feature.objects.get(
        dataset=wards, valid_to__isnull=True, properties__WD23NM="Westgate", district="E07000106"
    )
    (ward, *_) = _search(client, westgate.reference)["results"]
    assert (ward["label"], ward["kind"]) == ("Westgate", "ward")


def test_a_name_holding_the_words_as_typed_does_not_hide_one_spelt_otherwise(
    client, wards, personas
):
    """A brownfield site at "Hope Inn, High Street, St Margaret's at Cliffe" hid the ward of
    St Margaret's-at-Cliffe: names spelt otherwise were looked for only when none held the
    words as typed. The ward, named exactly so but for its hyphens, comes first."""
    dataset = dataset_make(slug="named-sites", owner=personas.organisation_a, label_field="name")
    version_publish_points(
        dataset=dataset, points={"inn": (615000, 157500)},
        properties={"inn": {"name": "Hope Inn, High Street, Westgate on Sea"}},
    )  # fmt: skip
    found = [(r["label"], r["kind"]) for r in _search(client, "Westgate on Sea")["results"]]
    assert found == [
        ("Westgate-on-Sea", "ward"),
        ("Hope Inn, High Street, Westgate on Sea", "feature"),
    ]


def test_results_are_limited_saying_that_others_are_not_listed(client, wards):
    found = _search(client, "e")
    assert len(found["results"]) == 10
    assert found["more"] == (
        "Only the first 10 are listed: add a word, such as a town or a kind of place, to find "
        "others."
    )
    assert "Only the first 10 are listed" in client.get("/search/", {"q": "e"}).content.decode()
    assert _search(client, "Westgate")["more"] is None


@pytest.fixture
def named_restricted(personas):
    """Organisation A's points, with a label field so search looks at their names."""
    dataset = dataset_make(
        slug="a-only-named", owner=personas.organisation_a, access_level="organisations",
        label_field="name",
    )  # fmt: skip
    version_publish_points(
        dataset=dataset,
        points=ASHFORD_POINTS,
        properties={"station": {"name": "Secret interchange site"}},
    )
    return dataset


def test_restricted_features_are_found_only_by_those_who_may_see_them(
    personas, client_as, named_restricted
):
    for persona, user in personas.all().items():
        client = client_as(user)
        labels = [result["label"] for result in _search(client, "secret interchange")["results"]]
        page = client.get("/search/", {"q": "secret interchange"}).content.decode()
        if persona in {"viewer_a", "contributor_a", "data_manager_a", "admin_a", "platform_admin"}:
            assert labels == ["Secret interchange site"], persona
            assert "Secret interchange site" in page
        else:
            assert labels == [], persona
            assert "Secret interchange" not in page.replace("“secret interchange”", "")
            assert "a-only-named" not in page


@pytest.fixture
def depots(personas):
    """Two named depots, one of which its source says closed in 2020."""
    dataset = dataset_make(slug="depots", owner=personas.organisation_a, label_field="name")
    version_publish_points(
        dataset=dataset,
        points=ASHFORD_POINTS,
        properties={
            "civic-centre": {"name": "Town depot"},
            "station": {"name": "Station depot", "end-date": "2020-03-31"},
        },
    )
    return dataset


def test_features_that_have_ended_are_found_only_when_the_map_shows_them(client, depots):
    """The map draws no ended feature and refuses its pop-up: a search must not lead there."""
    assert [result["label"] for result in _search(client, "depot")["results"]] == ["Town depot"]
    page = client.get("/search/", {"q": "station"}).content.decode()
    assert "Nothing found for “station”" in page
    # Nothing the map shows holds "station": the search is for the depot it shows.
    found = _search(client, "station depot")
    assert [result["label"] for result in found["results"]] == ["Town depot"]
    assert found["note"] == "Nothing found has “station”: these results are for the other words."

    shown = _search(client, "depot", ended="show")["results"]
    assert [result["label"] for result in shown] == ["Station depot", "Town depot"]
    assert _view(shown[0])["ended"] == "show"


def test_a_search_from_the_map_of_a_date_finds_the_features_published_then(client, personas):
    """Searching from the map as of a date finds the names that map shows, and opens the
    pop-up of the feature as it was then: not today's features, which it cannot show."""
    dataset = dataset_make(slug="depots", owner=personas.organisation_a, label_field="name")
    first = version_publish_points(
        dataset=dataset, points=ASHFORD_POINTS,
        properties={"civic-centre": {"name": "Town depot"}, "station": {"name": "Old depot"}},
    )  # fmt: skip
    second = version_publish_points(
        dataset=dataset, points={**ASHFORD_POINTS, "yard": (601500, 142400)},
        properties={"civic-centre": {"name": "Town depot (renamed)"},
                    "station": {"name": "Old depot"}, "yard": {"name": "New depot"}},
    )  # fmt: skip
    # Published at 23:30 UTC on 14 July: 00:30 on 15 July in London, where the map's days are.
    DatasetVersion.objects.filter(pk=first.pk).update(
        published_at=datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
    )
    DatasetVersion.objects.filter(pk=second.pk).update(
        published_at=datetime(2025, 7, 14, 23, 30, tzinfo=UTC)
    )

    def found(**moment) -> dict[str, int]:
        results = _search(client, "depot", layers="depots", **moment)["results"]
        return {result["label"]: result["feature_id"] for result in results}

    town_then = Feature.objects.get(dataset=dataset, reference="civic-centre", valid_from=1).pk
    then = found(as_of="2025-07-14")
    assert then == {"Old depot": then["Old depot"], "Town depot": town_then}
    assert set(found(as_of="2025-07-15")) == {"New depot", "Old depot", "Town depot (renamed)"}
    assert set(found()) == set(found(as_of="2025-07-15"))
    assert found(as_of="2024-12-31") == {}  # nothing published yet
    assert set(found(as_of="2025-02-30")) == set(found())  # a date the map cannot use: now
    popup = client.get(f"/datasets/depots/features/{town_then}.json", {"as_of": "2025-07-14"})
    assert popup.status_code == 200 and popup.json()["label"] == "Town depot"


def test_a_search_that_shows_restricted_features_is_audited(personas, client_as, named_restricted):
    _search(client_as(personas.viewer_a), "secret")
    entry = AuditEntry.objects.get(action="dataset.read.search")
    assert entry.actor_id == personas.viewer_a.pk and entry.target_label == named_restricted.title
    _search(client_as(personas.member_b), "secret")
    assert AuditEntry.objects.filter(action="dataset.read.search").count() == 1


# The profile's map bounds, whose centre the examples name: near Charing, in the square TQ.
AREA = settings.AUTHORITY_PROFILE.map.bounds


def test_nothing_found_says_so_and_suggests_the_formats(
    client, districts, sample_postcodes, examples_expected
):
    """Each format's example is a place in the area: the postcode nearest its centre (of
    those loaded, ME10 1AA: 15 km away, CT1 2EH 25 km), and the centre written as coordinates."""
    expected = examples_expected(AREA, "TQ")
    body = _search(client, "Atlantis")
    assert body["results"] == [] and body["error"] is None
    formats = [
        "a postcode, like ME10 1AA, or the start of one, like ME10",
        f"a grid reference, like {expected['grid_reference']}",
        f"eastings and northings, like {expected['eastings_northings']}",
        f"latitude and longitude, like {expected['latitude_longitude']}",
    ]
    assert body["formats"][:4] == formats
    for format_ in formats:
        assert format_ in body["message"]

    page = client.get("/search/", {"q": "Atlantis"}).content.decode()
    assert "Nothing found for “Atlantis”" in page
    for format_ in body["formats"]:
        assert f"<li>{format_}</li>" in page


def test_an_empty_search_is_the_form_with_a_hint(client, db, examples_expected):
    expected = examples_expected(AREA, "TQ")
    response = client.get("/search/")
    page = response.content.decode()
    assert response.status_code == 200
    # No postcodes loaded: no postcode example.
    hint = f"For example {expected['grid_reference']}, {expected['eastings_northings']} or a"
    assert 'name="q"' in page and hint in page
    assert "Nothing found" not in page and "There is a problem" not in page
    assert _search(client, "")["results"] == []


def test_json_by_accept_header_and_html_results_link_to_the_map(client, sample_postcodes):
    response = client.get("/search/", {"q": "CT1 2EH"}, HTTP_ACCEPT="application/json")
    assert response.json()["results"][0]["label"] == "CT1 2EH"
    assert "Cookie" in response["Vary"] and "private" in response["Cache-Control"]

    page = client.get("/search/", {"q": "CT1 2EH"}, HTTP_ACCEPT="text/html").content.decode()
    assert "1 result for “CT1 2EH”" in page
    assert (
        'href="/map/?center=1.08346%2C51.27881&amp;zoom=16'
        '&amp;marker=1.083457%2C51.278809&amp;marker_label=CT1+2EH"' in page
    )


MAP_CHOICE = {"layers": "wards", "as_of": "2001-01-01", "ended": "show"}
# What a result's link marks: the place found, and its name.
MARKED = "marker=1.083457%2C51.278809&marker_label=CT1+2EH"


def test_results_open_the_map_with_the_layers_and_date_searched_from(client, sample_postcodes):
    (postcode,) = _search(client, "CT1 2EH", **MAP_CHOICE)["results"]
    assert postcode["map_url"] == (
        f"/map/?center=1.08346%2C51.27881&zoom=16&layers=wards&as_of=2001-01-01&ended=show&{MARKED}"
    )
    (no_layer,) = _search(client, "CT1 2EH", layers="")["results"]
    assert no_layer["map_url"] == f"/map/?center=1.08346%2C51.27881&zoom=16&layers=&{MARKED}"
    # A date the map cannot use is left out (the map as now); the rest is kept.
    (bad_date,) = _search(client, "CT1 2EH", layers="wards", as_of="2026-02-30")["results"]
    assert bad_date["map_url"] == f"/map/?center=1.08346%2C51.27881&zoom=16&layers=wards&{MARKED}"

    page = client.get("/search/", {"q": "CT1 2EH", **MAP_CHOICE}).content.decode()
    assert (
        'href="/map/?center=1.08346%2C51.27881&amp;zoom=16&amp;layers=wards'
        f'&amp;as_of=2001-01-01&amp;ended=show&amp;{MARKED.replace("&", "&amp;")}"' in page
    )
    # Searching again from the results keeps them too.
    form = page[page.index('<form method="get" action="/search/"') :].split("</form>")[0]
    for name, value in MAP_CHOICE.items():
        assert f'<input type="hidden" name="{name}" value="{value}">' in form


@pytest.mark.parametrize(
    ("query", "label"),
    [("CT1 2EH", "CT1 2EH"), ("ct1", "CT1"), ("TR 150 578", "TR 150 578"),
     ("51.28, 1.08", "51.28, 1.08"), ("Westgate", "Westgate")],
)  # fmt: skip
def test_a_results_link_marks_the_place_found_with_its_name(client, sample_postcodes, wards,
                                                            query, label):  # fmt: skip
    """Without the map's script the link is all there is: it marks the point the map shows
    the result at, as the script's pin does, so that the picture of the view draws it."""
    result = _search(client, query)["results"][0]
    view = _view(result)
    assert result["label"] == label
    assert view["marker"] == "{lon:.6f},{lat:.6f}".format(**result["point"])
    assert view["marker_label"] == label


def test_a_feature_found_adds_its_layer_to_those_chosen(client, wards):
    (district,) = [
        result
        for result in _search(client, "Canterbury", layers="districts", ended="show")["results"]
        if result["kind"] == "district"
    ]
    view = _view(district)
    assert view["layers"] == "districts" and view["ended"] == "show"
    westgate = _search(client, "Westgate", layers="districts", ended="show")["results"][0]
    view = _view(westgate)
    assert view["layers"] == "districts,wards" and view["ended"] == "show"
    assert view["feature"] == f"wards/{westgate['feature_id']}"


def test_a_long_search_is_echoed_so_that_it_wraps(client, db):
    query = "x" * 200
    page = client.get("/search/", {"q": query}).content.decode()
    assert (
        f'<h2 class="govuk-heading-m govuk-!-text-break-word">Nothing found for “{query}”' in page
    )


@pytest.fixture
def post_towns(personas, tmp_path):
    """The profile's post towns: schools with addresses in Whitstable (CT5) and Herne Bay (CT6),
    and the real postcodes of those two districts."""
    with POSTCODE_DIRECTORY.open(encoding="utf-8") as source:
        rows = [line.rstrip("\n") for line in source if line.startswith(("CT5 ", "CT6 "))]
    postcodes_load(path=postcodes_write(tmp_path / "postcodes.csv", rows))
    schools = dataset_make(slug="schools", owner=personas.organisation_a, label_field="name")
    addresses = {
        "w1": ("Whitstable", "CT5 1AB", (611000, 166000)),
        "w2": ("WHITSTABLE", "CT5 3HE", (612000, 166000)),
        "w3": ("Whitstable", "ct5 4ad", (613000, 166000)),
        "c1": ("Canterbury", "CT5 3QZ", (611500, 164000)),  # fewer than Whitstable's in CT5
        "h1": ("Herne Bay", "CT6 5HH", (617000, 167500)),
        "x1": ("Whitstable", "", (611000, 166000)),  # no postcode: not counted
    }
    version_publish_points(
        dataset=schools,
        points={ref: point for ref, (_, _, point) in addresses.items()},
        properties={
            ref: {"name": f"School {ref}", "town": town, "postcode": postcode}
            for ref, (town, postcode, _) in addresses.items()
        },
    )
    return schools


def test_a_post_town_is_found_where_its_postcodes_are(client, post_towns):
    """Whitstable is no ward, parish or district: search finds it as the post town of postcode
    district CT5, which most of the schools there name, and opens the map on CT5's postcodes."""
    ct5 = [
        line.split(",")
        for line in POSTCODE_DIRECTORY.read_text(encoding="utf-8").splitlines()
        if line.startswith("CT5 ")
    ]
    lons, lats = [float(row[5]) for row in ct5], [float(row[4]) for row in ct5]
    for query in ("Whitstable", "whitstable", " WHITSTABLE "):
        [town] = [
            result for result in _search(client, query)["results"] if result["kind"] == "town"
        ]
        assert (town["label"], town["kind_label"]) == ("Whitstable", "Town")
        assert town["detail"] == "post town, postcode district CT5"
        point = (town["point"]["lon"], town["point"]["lat"])
        west, south, east, north = town["bbox"]
        # Within CT5's postcodes, and the middle of them: not the schools' own points.
        assert min(lons) < west < point[0] < east < max(lons)
        assert min(lats) < south < point[1] < north < max(lats)
        assert abs(point[0] - sorted(lons)[len(lons) // 2]) < 0.003
        view = _view(town)
        assert view["center"] == f"{point[0]:.5f},{point[1]:.5f}" and 12 < float(view["zoom"]) < 16
    # Written another way, followed by the county, or misspelt.
    for query in ("herne bay", "Herne-Bay", "herne bay, Kent", "Hern Bay"):
        herne_bay = _search(client, query)["results"][0]
        assert (herne_bay["label"], herne_bay["detail"]) == (
            "Herne Bay", "post town, postcode district CT6",
        ), query  # fmt: skip
    # Canterbury is named by fewer of CT5's addresses than Whitstable: no town of that name here.
    assert "town" not in [result["kind"] for result in _search(client, "Canterbury")["results"]]


def test_post_towns_come_only_from_a_dataset_the_user_may_see(personas, client_as, post_towns):
    post_towns.access_level = "organisations"
    post_towns.save()
    assert _search(client_as(personas.viewer_a), "Whitstable")["results"][0]["kind"] == "town"
    assert _search(client_as(personas.member_b), "Whitstable")["results"] == []


def test_features_of_one_name_are_told_apart_by_their_references(client, personas):
    """A school closed and reopened under its old name is two features at one place: each
    result names its reference; a name no other feature has does not."""
    schools = dataset_make(slug="schools", owner=personas.organisation_a, label_field="name")
    version_publish_points(
        dataset=schools,
        points={"118547": (633000, 158000), "148502": (633000, 158000), "9": (601300, 142700)},
        properties={
            "118547": {"name": "Sandwich Infant School"},
            "148502": {"name": "Sandwich Infant School"},
            "9": {"name": "Sandwich Road School"},
        },
    )
    details = {
        (result["label"], result["detail"]) for result in _search(client, "sandwich")["results"]
    }
    assert details == {
        ("Sandwich Infant School", "Schools, reference 118547"),
        ("Sandwich Infant School", "Schools, reference 148502"),
        ("Sandwich Road School", "Schools"),
    }


def test_the_county_is_found_as_an_area_not_a_feature(client, db):
    """The profile's county is the one feature of an outline dataset: search offers it as the
    county, with the districts, not among the features."""
    demo_dataset_load("kent-county-outline")
    first = _search(client, "kent")["results"][0]
    assert (first["label"], first["kind"], first["kind_label"]) == ("Kent", "county", "County")
    assert _view(first)["layers"].split(",")[-1] == "kent-county-outline"


def test_a_feature_is_found_by_its_reference_as_typed(client, personas):
    """Officers know their sites by reference (BR-004) as much as by name."""
    sites = dataset_make(slug="sites", owner=personas.organisation_a, label_field="name")
    version_publish_points(
        dataset=sites,
        points={"BR-004": (615000, 157500), "BR-040": (615100, 157600)},
        properties={"BR-004": {"name": "Kingsmead Depot"}, "BR-040": {"name": "Mill Lane"}},
    )

    results = _search(client, "BR-004")["results"]

    assert [(result["label"], result["detail"]) for result in results] == [
        ("Kingsmead Depot", "Sites")
    ]
