"""The map as of a date (each layer as published then) and ended features, on tiles, pop-ups,
labels, the features table, the PNG and the map page."""

import html
import json
import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django.utils.html import escape

from infraplan.catalogue.models import Feature
from infraplan.core.testing.data import (
    dataset_make,
    days_ago,
    published_days_ago,
    version_publish_points,
)
from infraplan.maps.ended import ended_on, live_on_sql
from infraplan.maps.selectors import MapMoment, is_ended

from .test_render import pixels_like
from .test_tiles import decode, tile_for

pytestmark = pytest.mark.django_db

ASHFORD_BBOX = "0.86,51.14,0.89,51.16"
RED = "#d4351c"
FIRST = {"civic-centre": (601300, 142700), "station": (601650, 142180)}
SECOND = {"civic-centre": (601300, 142700), "library": (601500, 142400)}
TILE = tile_for(0.8727, 51.1465, 10)
TILE_URL = "/tiles/sites/{}/{}/{}.mvt".format(*TILE)


@pytest.fixture
def sites(personas):
    """Public sites: version 1 ten days ago (civic centre, station), version 2 two days ago
    (civic centre, library: the station gone)."""
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a, label_field="name",
        field_schema=[{"name": "name", "type": "string", "title": "Name"}],
        style={"kind": "simple", "colour": RED},
    )  # fmt: skip
    published_days_ago(version_publish_points(dataset=dataset, points=FIRST), 10)
    published_days_ago(version_publish_points(dataset=dataset, points=SECOND), 2)
    return dataset


def references(response) -> set[str]:
    if response.status_code == 204:
        return set()
    return {feature["properties"]["reference"] for feature in decode(response.content)["sites"]["features"]}  # fmt: skip


def feature_id(reference: str, version: int) -> int:
    return Feature.objects.get(
        reference=reference, valid_from__lte=version, dataset__slug="sites"
    ).pk


def test_tiles_at_two_dates_show_the_versions_current_then(sites, client_as):
    client = client_as(None)
    then = client.get(TILE_URL, {"as_of": days_ago(5)})
    now = client.get(TILE_URL)
    future = client.get(TILE_URL, {"as_of": days_ago(-30)})  # a date to come is today

    assert references(then) == {"civic-centre", "station"}
    assert references(now) == references(future) == {"civic-centre", "library"}
    assert then["ETag"].startswith('"sites-1-') and now["ETag"].startswith('"sites-2-')
    assert future["ETag"] == now["ETag"]
    assert then["Cache-Control"] == "public, max-age=300"
    # The ETag of the date's version answers 304; that of the current version does not.
    assert client.get(TILE_URL, {"as_of": days_ago(5)}, HTTP_IF_NONE_MATCH=then["ETag"]).status_code == 304  # fmt: skip
    assert client.get(TILE_URL, {"as_of": days_ago(5)}, HTTP_IF_NONE_MATCH=now["ETag"]).status_code == 200  # fmt: skip


def test_a_date_before_the_first_publish_shows_nothing_and_says_so(sites, client_as):
    client = client_as(None)
    tile = client.get(TILE_URL, {"as_of": days_ago(20)})
    page = client.get("/map/", {"layers": "sites", "as_of": days_ago(20)}).content.decode()
    table = client.get("/map/features/", {"bbox": ASHFORD_BBOX, "layers": "sites", "as_of": days_ago(20)})  # fmt: skip

    assert tile.status_code == 204 and tile["ETag"].startswith('"sites-none-')
    assert re.search(r'data-layer="sites">.*?Not yet published on \d+ \w+ \d{4}: nothing to show', page, re.S)  # fmt: skip
    assert "No features of the chosen layers in this area." in table.content.decode()
    assert "Not yet published on" in table.content.decode()


def test_the_map_page_keeps_the_date_in_every_url_it_gives(sites, client_as):
    when = days_ago(5)
    response = client_as(None).get("/map/", {"layers": "sites", "as_of": when, "ended": "show"})
    content = response.content.decode()

    assert response.status_code == 200
    assert f'id="as_of" name="as_of" type="text" inputmode="numeric" value="{when}"' in content
    assert 'id="ended" name="ended" type="checkbox" value="show" aria-describedby="ended-hint" checked' in content  # fmt: skip
    config = json.loads(re.search(r'id="map-config"[^>]*>(.*?)</script>', content).group(1))
    (layer,) = config["layers"]
    assert re.fullmatch(rf"/tiles/sites/{{z}}/{{x}}/{{y}}.mvt\?v=1-\w+&as_of={when}&ended=show", layer["tiles"])  # fmt: skip
    assert layer["labels"] == f"/map/labels/sites.json?as_of={when}&ended=show"
    assert config["moment"] == {"as_of": when, "ended": "show"}
    assert "/map/features/?bbox=" in content and f"&amp;as_of={when}&amp;ended=show" in content
    assert "Not yet published" not in content


def test_popup_refuses_a_feature_not_live_on_the_date(sites, client_as):
    client = client_as(None)
    station, library = feature_id("station", 1), feature_id("library", 2)

    assert client.get(f"/datasets/sites/features/{station}.json").status_code == 404
    then = client.get(f"/datasets/sites/features/{station}.json", {"as_of": days_ago(5)})
    assert then.status_code == 200 and then.json()["reference"] == "station"
    assert client.get(f"/datasets/sites/features/{library}.json", {"as_of": days_ago(5)}).status_code == 404  # fmt: skip
    assert client.get(f"/datasets/sites/features/{library}.json").json()["ended"] is None


def test_labels_and_features_table_as_of_a_date(sites, client_as):
    client = client_as(None)
    labels = client.get("/map/labels/sites.json", {"bbox": ASHFORD_BBOX, "as_of": days_ago(5)})
    table = client.get("/map/features/", {"bbox": ASHFORD_BBOX, "layers": "sites", "as_of": days_ago(5)})  # fmt: skip
    now = client.get("/map/features/", {"bbox": ASHFORD_BBOX, "layers": "sites"})

    assert sorted(label["text"] for label in labels.json()["labels"]) == ["civic-centre", "station"]
    content = table.content.decode()
    assert "2 features in this view" in content and ">station</td>" in content
    assert ">library</td>" not in content and "as published on" in content
    assert ">library</td>" in now.content.decode() and ">station</td>" not in now.content.decode()
    # The table's links keep the date.
    assert re.search(
        rf'href="/map/\?layers=sites&amp;center=[^"]+&amp;as_of={days_ago(5)}">Back to the map<',
        content,
    )
    assert f"/map.png?bbox={ASHFORD_BBOX.replace(',', '%2C')}&amp;layers=sites&amp;as_of={days_ago(5)}" in content  # fmt: skip


NOT_A_DATE = "Enter the date as year-month-day with numbers, for example 2026-03-27"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        *[(value, NOT_A_DATE) for value in ("yesterday", "20260101", "2026-W01-1", "2026-1-1")],
        # Digits of another script look like a date to \d but are none to the calendar.
        ("\u0662\u0660\u0662\u0666-\u0660\u0663-\u0660\u0661", NOT_A_DATE),
        ("2026-02-30", "'2026-02-30' is not a real date: February 2026 has 28 days"),
        ("2024-02-30", "'2024-02-30' is not a real date: February 2024 has 29 days"),
        ("2026-13-01", "'2026-13-01' is not a real date: there is no month 13"),
    ],
)
def test_malformed_dates_are_refused_with_a_clear_message(sites, client_as, value, message):
    client = client_as(None)
    station = feature_id("station", 1)

    tile = client.get(TILE_URL, {"as_of": value})
    assert tile.status_code == 400
    clause = message[0].lower() + message[1:]  # "enter the date ..." after the colon
    assert tile.content.decode() == f"Cannot make this tile: {clause}."
    popup = client.get(f"/datasets/sites/features/{station}.json", {"as_of": value})
    assert popup.status_code == 400 and popup.json()["error"] == message
    labels = client.get("/map/labels/sites.json", {"as_of": value})
    assert labels.status_code == 400 and labels.json()["error"] == message
    png = client.get("/map.png", {"layers": "sites", "as_of": value})
    assert png.status_code == 400 and png.content.decode() == f"Cannot draw this map: {clause}."
    for url in ("/map/", "/map/features/"):
        page = client.get(url, {"layers": "sites", "as_of": value})
        content = page.content.decode()
        assert page.status_code == 400
        assert '<div class="govuk-error-summary"' in content
        assert f'<a href="#as_of">{escape(message)}</a>' in content
        assert f"</span> {escape(message)}</p>" in content  # beside the date's input
        assert 'id="as_of-error"' in content and "<title>Error: " in content


def test_a_date_to_come_is_explained_on_the_pages_and_shown_as_today_elsewhere(sites, client_as):
    """The map's date field emptied itself and showed today when given a date to come: the
    pages say why they show today instead; tiles, pop-ups and labels, asked by the map, show
    the data as now (nothing has been published since), as the API does."""
    client = client_as(None)
    tomorrow, next_year = days_ago(-1), days_ago(-365)
    message = "The date must be today or in the past"

    for when in (tomorrow, next_year):
        for url, heading in [("/map/", "Map"), ("/map/features/", "Features in this view")]:
            page = client.get(url, {"layers": "sites", "as_of": when})
            content = page.content.decode()
            assert page.status_code == 400, url
            assert f'<a href="#as_of">{message}</a>' in content  # the error summary
            assert f"</span> {message}</p>" in content  # beside the field
            assert f'name="as_of" type="text" inputmode="numeric" value="{when}"' in content
            assert "<title>Error: " in content
            assert f'<h1 class="govuk-heading-l">{heading}</h1>' in content  # today's
    # The map under the error is today's: its layers' tiles and links name no date.
    page = client.get("/map/", {"as_of": tomorrow}).content.decode()
    config = json.loads(re.search(r'id="map-config"[^>]*>(.*?)</script>', page).group(1))
    assert config["moment"] == {} and "as_of" not in config["layers"][0]["tiles"]
    # Today is today, not an error.
    assert client.get("/map/", {"as_of": days_ago(0)}).status_code == 200
    assert client.get(TILE_URL, {"as_of": tomorrow}).status_code == 200
    labels = client.get("/map/labels/sites.json", {"bbox": ASHFORD_BBOX, "as_of": tomorrow})
    assert sorted(label["text"] for label in labels.json()["labels"]) == ["civic-centre", "library"]


def test_a_date_is_still_behind_the_gate(personas, client_as):
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a, access_level="organisations"
    )
    published_days_ago(version_publish_points(dataset=dataset, points=FIRST), 10)
    outsider = client_as(personas.member_b)
    assert outsider.get(TILE_URL, {"as_of": days_ago(5)}).status_code == 404
    assert outsider.get(TILE_URL, {"as_of": "garbage"}).status_code == 404  # no leak by 400
    station = feature_id("station", 1)
    assert outsider.get(f"/datasets/sites/features/{station}.json", {"as_of": days_ago(5)}).status_code == 404  # fmt: skip
    assert client_as(personas.viewer_a).get(TILE_URL, {"as_of": days_ago(5)}).status_code == 200


# --- ended features ------------------------------------------------------------------------


@pytest.fixture
def ended(personas):
    """A register where the depot ended last year, the yard ends next year and the mill ended
    (as ``end_date``) three days ago; the civic centre has an empty end date."""
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a, label_field="name",
        field_schema=[{"name": "name", "type": "string", "title": "Name"}],
        style={"kind": "simple", "colour": RED},
    )  # fmt: skip
    version = version_publish_points(
        dataset=dataset,
        points={"civic-centre": (601300, 142700), "depot": (601650, 142180),
                "yard": (601500, 142400), "mill": (601400, 142500)},
        properties={"civic-centre": {"end-date": ""},
                    "depot": {"end-date": days_ago(365)},
                    "yard": {"EndDate": days_ago(-365)},
                    "mill": {"end_date": f"{days_ago(3)}T00:00:00"}},
    )  # fmt: skip
    published_days_ago(version, 30)
    return dataset


def test_ended_features_are_hidden_from_tiles_unless_asked_for(ended, client_as):
    client = client_as(None)
    hidden, shown = client.get(TILE_URL), client.get(TILE_URL, {"ended": "show"})
    before_mill_ended = client.get(TILE_URL, {"as_of": days_ago(5)})

    assert references(hidden) == {"civic-centre", "yard"}
    assert references(shown) == {"civic-centre", "yard", "depot", "mill"}
    assert references(before_mill_ended) == {"civic-centre", "yard", "mill"}
    assert len({hidden["ETag"], shown["ETag"], before_mill_ended["ETag"]}) == 3


def test_ended_features_in_the_popup_are_labelled_and_only_when_asked_for(ended, client_as):
    client = client_as(None)
    depot = feature_id("depot", 1)
    url = f"/datasets/sites/features/{depot}.json"

    hidden = client.get(url)
    assert hidden.status_code == 404
    # What a link made before it ended is told: when it ended, and how to show it.
    ended_day = date.fromisoformat(days_ago(365))
    assert hidden.json() == {
        "error": f"depot ended on {ended_day:%-d %B %Y}. Features that have ended are hidden "
        "unless ended features are shown.",
        "ended": ended_day.isoformat(),
    }
    assert client.get(url, {"ended": "show"}).json()["ended"] == days_ago(365)
    yard = client.get(f"/datasets/sites/features/{feature_id('yard', 1)}.json").json()
    assert yard["ended"] is None  # ends next year: not yet
    # Before the mill ended, it is not hidden as ended; a feature that is gone is not "ended".
    mill = f"/datasets/sites/features/{feature_id('mill', 1)}.json"
    assert client.get(mill, {"as_of": days_ago(5)}).status_code == 200
    gone = client.get("/datasets/sites/features/0.json")
    assert gone.status_code == 404 and "ended" not in gone.json()
    assert gone.json()["error"].startswith("This feature is not available")


def test_an_ended_features_page_says_when_it_ended_and_links_to_it_shown(ended, client_as):
    client = client_as(None)
    depot = feature_id("depot", 1)

    page = client.get(f"/datasets/sites/features/{depot}/", {"as_of": days_ago(1)})

    assert page.status_code == 404
    content = html.unescape(page.content.decode())
    ended_day = date.fromisoformat(days_ago(365))
    assert '<h1 class="govuk-heading-l govuk-!-text-break-word">depot has ended</h1>' in content
    assert f"depot ended on {ended_day:%-d %B %Y}." in content
    link = re.search(r'href="([^"]+)">Show depot, with the features that have ended<', content)[1]
    assert link == f"/datasets/sites/features/{depot}/?as_of={days_ago(1)}&ended=show"
    shown = client.get(link)
    assert shown.status_code == 200 and "depot" in shown.content.decode()


def test_ended_features_in_the_table_and_png(ended, client_as):
    client = client_as(None)
    query = {"bbox": ASHFORD_BBOX, "layers": "sites"}
    hidden = client.get("/map/features/", query).content.decode()
    shown = client.get("/map/features/", {**query, "ended": "show"}).content.decode()

    assert "2 features in this view" in hidden and ">depot</td>" not in hidden
    assert "Ended</th>" not in hidden
    assert "4 features in this view" in shown and "Ended</th>" in shown
    assert re.search(r">depot</td>.*?<strong class=\"govuk-tag govuk-tag--grey\">Ended</strong>", shown, re.S)  # fmt: skip
    # The depot and mill stand apart from the others: hiding them leaves less red.
    png = {"bbox": ASHFORD_BBOX, "layers": "sites", "width": 400, "height": 300}
    red_hidden = pixels_like(client.get("/map.png", png).content, RED)
    red_shown = pixels_like(client.get("/map.png", {**png, "ended": "show"}).content, RED)
    assert 0 < red_hidden < red_shown


def test_end_dates_are_read_from_the_documented_names_only():
    moment = MapMoment()
    today = timezone.localdate()
    assert ended_on({"end-date": "2020-02-03"}).isoformat() == "2020-02-03"
    assert ended_on({"end_date": "2020-02-03T10:00:00Z"}).isoformat() == "2020-02-03"
    assert ended_on({"EndDate": "2020-02-03"}).isoformat() == "2020-02-03"
    assert ended_on({"ended": "2020-02-03", "end-date": "", "end_date": "soon"}) is None
    assert ended_on({"end-date": "2020-W01-1", "EndDate": "2021-02-30"}) is None
    assert is_ended({"end-date": today.isoformat()}, moment)  # on the day: ended
    assert not is_ended({"end-date": (today + timedelta(days=1)).isoformat()}, moment)


END_DATES = [
    # (properties, ended on), the first value that is a real date deciding
    ({"end-date": "2020-02-29"}, "2020-02-29"),  # a leap day
    ({"end-date": "2000-02-29"}, "2000-02-29"),  # 2000 is a leap year
    ({"end-date": "2020-02-30"}, None),
    ({"end-date": "2021-02-29"}, None),
    ({"end-date": "1900-02-29"}, None),  # 1900 is not
    ({"end-date": "2020-04-31"}, None),
    ({"end-date": "2020-13-01"}, None),
    ({"end-date": "2020-00-10"}, None),
    ({"end-date": "2020-01-00"}, None),
    ({"end-date": "0000-01-01"}, None),  # there is no year 0
    ({"end-date": "\u0662\u0660\u0662\u0660-01-01"}, None),  # digits, but not ASCII ones
    ({"end-date": 20200101}, None),
    ({"end-date": "2020-12-31T23:59:59+01:00"}, "2020-12-31"),
    ({"end-date": "2020-02-30", "end_date": "", "EndDate": "2019-06-01"}, "2019-06-01"),
    ({"end_date": "2019-06-01", "EndDate": "2018-01-01"}, "2019-06-01"),
]


@pytest.mark.parametrize(("properties", "ended"), END_DATES)
def test_sql_and_python_read_end_dates_alike(properties, ended):
    """The SQL of tiles, search and the table (``live_on_sql``) and the Python of the pop-up,
    labels and PNG (``ended_on``) agree on every end date, real or not."""
    day = timezone.localdate()
    assert ended_on(properties) == (ended and date.fromisoformat(ended))
    for judged_on in (day, date(2019, 6, 1), date(2019, 5, 31)):
        live, parameters = live_on_sql("%(properties)s::jsonb", judged_on)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {live}", {**parameters, "properties": json.dumps(properties)})
            (live_in_sql,) = cursor.fetchone()
        assert live_in_sql is (not is_ended(properties, MapMoment(as_of=judged_on)))


@pytest.fixture
def misdated(personas):
    """A register whose depot's end date is not a real date (30 February) and whose yard's first
    end date is not one but whose second is, last year."""
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a, label_field="name",
        field_schema=[{"name": "name", "type": "string", "title": "Name"}],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset,
        points={"depot": (601650, 142180), "yard": (601500, 142400)},
        properties={"depot": {"end-date": "2020-02-30"},
                    "yard": {"end-date": "2021-02-29", "EndDate": days_ago(365)}},
    )  # fmt: skip
    return dataset


def test_an_end_date_that_is_not_a_date_hides_nothing_anywhere(misdated, client_as):
    client = client_as(None)
    depot, yard = feature_id("depot", 1), feature_id("yard", 1)
    table = {"bbox": ASHFORD_BBOX, "layers": "sites"}

    assert references(client.get(TILE_URL)) == {"depot"}
    assert references(client.get(TILE_URL, {"ended": "show"})) == {"depot", "yard"}
    hidden = client.get("/map/features/", table).content.decode()
    assert "1 feature in this view" in hidden and ">depot</td>" in hidden
    shown = client.get("/map/features/", {**table, "ended": "show"}).content.decode()
    assert re.search(r">depot</td>\s*<td[^>]*>[^<]*</td>\s*<td class=\"govuk-table__cell\"></td>", shown)  # fmt: skip
    assert re.search(r">yard</td>.*?>Ended</strong> " + escape(f"{timezone.localdate() - timedelta(days=365):%-d %B %Y}"), shown, re.S)  # fmt: skip
    popup = client.get(f"/datasets/sites/features/{depot}.json")
    assert popup.status_code == 200 and popup.json()["ended"] is None
    assert {"name": "end-date", "title": "end-date", "value": "2020-02-30"} in popup.json()["properties"]  # fmt: skip
    assert client.get(f"/datasets/sites/features/{yard}.json").status_code == 404
