"""The map page's server side: which layers are offered and on, and the hooks for other scripts."""

import html
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points

pytestmark = pytest.mark.django_db


def map_config(response) -> dict:
    match = re.search(r'<script id="map-config" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)  # fmt: skip
    return json.loads(match.group(1))


def test_the_authoritys_boundaries_are_on_at_first_and_other_layers_off(
    districts, restricted, client_as, personas
):
    config = map_config(client_as(personas.viewer_a).get("/map/"))

    visible = {layer["slug"]: layer["visible"] for layer in config["layers"]}
    assert visible == {"districts": True, "a-only-sites": False}
    districts_layer = next(layer for layer in config["layers"] if layer["slug"] == "districts")
    assert districts_layer["colour"] == "#00857c"  # no style: the accent colour
    assert districts_layer["legend"] == [{"colour": "#00857c", "label": ""}]
    assert districts_layer["labels"] == "/map/labels/districts.json"
    assert districts_layer["label_min_zoom"] == 0  # 13 names fit at every zoom
    assert re.fullmatch(
        r"/tiles/districts/\{z\}/\{x\}/\{y\}\.mvt\?v=1-\w+", districts_layer["tiles"]
    )


def test_layers_in_the_url_are_the_ones_on(districts, restricted, client_as, personas):
    response = client_as(personas.viewer_a).get(
        "/map/?layers=a-only-sites&center=0.9,51.1&zoom=11&feature=a-only-sites/1"
    )
    config = map_config(response)
    assert {layer["slug"]: layer["visible"] for layer in config["layers"]} == {
        "districts": False, "a-only-sites": True,
    }  # fmt: skip
    assert config["view"] == {"center": [0.9, 51.1], "zoom": 11.0}
    assert config["feature"] == "a-only-sites/1"
    content = response.content.decode()
    assert 'value="a-only-sites" checked' in content
    # The picture for people without the map shows the same layers around the same place.
    assert (
        "/map.png?bbox=0.73521%2C51.03096%2C1.06479%2C51.16894&amp;layers=a-only-sites&amp;width=960"
        in content
    )


def opacity_sliders(response) -> dict[str, tuple[str, str]]:
    """slug: (value, aria-valuetext) of each layer's opacity slider."""
    return {
        slug: (value, text)
        for value, text, slug in re.findall(
            r'type="range" id="opacity-[^"]+" min="0" max="100" step="10" value="([^"]*)" '
            r'aria-valuetext="([^"]*)" data-layer-opacity="([^"]+)"',
            response.content.decode(),
        )
    }


@pytest.mark.parametrize(
    ("opacity", "expected"),
    [
        ("districts:40", {"districts": 40}),
        ("districts:0,a-only-sites:70", {"districts": 0, "a-only-sites": 70}),
        # What cannot be an opacity is ignored: the layer opens at full opacity.
        ("districts:101,a-only-sites:-5", {}),
        ("districts:forty,a-only-sites:", {}),
        ("districts,:50,dis tricts:50", {}),
        ("districts:4e1,a-only-sites:0x10", {}),
        ("districts:45,a-only-sites:070", {"a-only-sites": 70}),  # 45: no step of the slider
        ("districts:\u0664\u0660", {}),  # digits, but not ours
        ("districts:40,districts:60", {"districts": 60}),
        ("nope:50,districts:30", {"districts": 30}),
    ],
)
def test_the_layers_opacity_in_the_url_sets_its_slider(
    districts, restricted, client_as, personas, opacity, expected
):
    """The map's URL keeps each layer turned down from full opacity; a link or a reload gives
    the sliders (and so the map) those opacities, and nothing else."""
    response = client_as(personas.viewer_a).get("/map/", {"opacity": opacity})

    assert response.status_code == 200
    sliders = opacity_sliders(response)
    assert set(sliders) == {"districts", "a-only-sites"}
    for slug, (value, text) in sliders.items():
        percent = expected.get(slug, 100)
        assert (value, text) == (str(percent), f"{percent}%")
    layers = {layer["slug"]: layer["opacity"] for layer in map_config(response)["layers"]}
    assert layers == {slug: expected.get(slug, 100) for slug in layers}


def test_a_restricted_layer_in_the_url_is_ignored_for_outsiders(
    districts, restricted, client_as, personas
):
    response = client_as(personas.member_b).get("/map/?layers=a-only-sites")
    assert [layer["slug"] for layer in map_config(response)["layers"]] == ["districts"]
    assert "a-only-sites" not in response.content.decode().replace("layers=a-only-sites", "")


def test_an_unusable_view_in_the_url_opens_the_whole_area(districts, client):
    assert map_config(client.get("/map/?center=north&zoom=99"))["view"] is None


def test_the_search_box_and_its_script_are_on_the_page(districts, client):
    content = client.get("/map/").content.decode()
    assert (
        '<form id="map-search" class="app-map-search" action="/search/" method="get" '
        'role="search">' in content
    )
    assert re.search(r'<input class="govuk-input" id="map-search-q" name="q"', content)
    assert '<label class="govuk-label govuk-label--s" for="map-search-q">' in content
    assert re.search(r'<script type="module" src="/static/js/search\.\w+\.mjs"', content)


def search_form(response) -> str:
    return re.search(r'<form id="map-search".*?</form>', response.content.decode(), re.S)[0]


def test_the_search_box_sends_the_layers_and_date_shown(districts, client):
    """Without the map's script (no JavaScript), the search page gets the map's layers and
    date, so the links of its results open the map as it was."""
    chosen = search_form(client.get("/map/?layers=districts&as_of=2001-01-01&ended=show"))
    none = search_form(client.get("/map/?layers="))
    defaults = search_form(client.get("/map/"))

    assert '<input type="hidden" name="layers" value="districts">' in chosen
    assert '<input type="hidden" name="as_of" value="2001-01-01">' in chosen
    assert '<input type="hidden" name="ended" value="show">' in chosen
    assert '<input type="hidden" name="layers" value="">' in none
    assert 'name="as_of"' not in none and 'name="ended"' not in none
    assert '<input type="hidden" name="layers" value="districts">' in defaults


@pytest.mark.parametrize(
    ("center", "zoom"),
    [("0,85", "22"), ("0,-85", "22"), ("180,85", "22"), ("-180,-85", "21.5"), ("0.87,51.15", "22"),
     ("0,0", "0")],
)  # fmt: skip
def test_the_links_for_people_without_the_map_always_name_an_area(districts, client, center, zoom):
    """However far in or out, and however near the edge of the world, the view in the URL gives
    a table and a picture (a view at zoom 22 at latitude 85 would round to no height)."""
    content = client.get("/map/", {"center": center, "zoom": zoom, "layers": "districts"})
    links = {
        name: html.unescape(re.search(rf'id="{name}" href="([^"]+)"', content.content.decode())[1])
        for name in ("map-features-link", "map-png-link")
    }

    table = client.get(links["map-features-link"])
    png = client.get(links["map-png-link"])

    assert table.status_code == 200, table.content.decode()
    assert png.status_code == 200, png.content.decode()
    assert png["Content-Type"] == "image/png"


@pytest.mark.parametrize("path", ["/map/", "/map/features/"])
def test_the_map_and_its_table_make_the_same_queries_for_any_number_of_layers(
    path, personas, client_as
):
    # Each layer's current version was read in a query of its own, after every version of
    # every layer (with its report of up to 10,000 problems) had been read for its count.
    client = client_as(personas.viewer_a)

    def queries() -> list[str]:
        slugs = ",".join(f"layer-{n}" for n in range(6))
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"{path}?layers={slugs}").status_code == 200
        return [query["sql"] for query in captured.captured_queries]

    def layer_make(number: int) -> None:
        dataset = dataset_make(slug=f"layer-{number}", owner=personas.organisation_a)
        for _ in range(2):  # two versions each: only the current one is counted
            version_publish_points(dataset=dataset, points=ASHFORD_POINTS)

    layer_make(0)
    queries()  # a session's first request does one-off work (stamping the session)
    few = queries()
    for number in range(1, 6):
        layer_make(number)
    many = queries()
    per_layer = 2 if path == "/map/features/" else 0  # the table counts and pages each layer
    assert len(many) == len(few) + 5 * per_layer
    assert not [sql for sql in many if '"catalogue_datasetversion"."report"' in sql]


def test_a_polygon_layer_of_classes_is_filled_more_strongly_than_one_of_one_colour(
    districts, client
):
    """The map draws a categorised or graduated polygon layer's fills at the opacity its
    classes can be told apart by; a layer of one colour as a faint tint."""
    assert map_config(client.get("/map/"))["layers"][0]["fill_opacity"] == 0.15
    districts.style = {
        "kind": "categorised", "field": "LAD13NM", "other_colour": "#505a5f",
        "categories": [{"value": "Dover", "colour": "#00703c", "label": "Dover"}],
    }  # fmt: skip
    districts.save(update_fields=["style"])
    assert map_config(client.get("/map/"))["layers"][0]["fill_opacity"] == 0.6


def test_a_layer_with_end_dates_says_its_ended_features_are_not_drawn(personas, client_as):
    """Its legend may list a class (Closed) that only ended features hold."""
    schools = dataset_make(
        slug="schools", owner=personas.organisation_a,
        field_schema=[{"name": "close_date", "type": "date", "title": "Closed on"}],
    )  # fmt: skip
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    for dataset in (schools, sites):
        version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    client = client_as(personas.viewer_a)
    said = "(closed, say) are not drawn: tick “Show ended features” to draw them."

    def panel(query: str) -> dict[str, str]:
        content = client.get(f"/map/{query}").content.decode()
        return {
            slug: content.split(f'data-layer="{slug}"')[1].split('class="app-layer"')[0]
            for slug in ("schools", "sites")
        }

    shown = panel("?as_of=2025-06-30")
    assert f"Features that had ended by 30 June 2025 {said}" in shown["schools"]
    assert said not in shown["sites"]
    assert said not in panel("?ended=show")["schools"]


def test_a_graduated_layers_legend_names_the_grey_of_features_without_a_number(personas, client_as):
    sites = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "homes", "type": "integer", "title": "Homes"}],
        style={"kind": "graduated", "field": "homes", "classes": [
            {"minimum": 0, "colour": "#5694ca", "label": "Fewer than 50"},
            {"minimum": 50, "colour": "#003078", "label": "50 or more"},
        ]},
    )  # fmt: skip
    version_publish_points(dataset=sites, points=ASHFORD_POINTS)
    config = map_config(client_as(personas.viewer_a).get("/map/?layers=sites"))
    assert next(layer for layer in config["layers"] if layer["slug"] == "sites")["legend"] == [
        {"colour": "#5694ca", "label": "Fewer than 50"},
        {"colour": "#003078", "label": "50 or more"},
        {"colour": "#6f777b", "label": "No value"},
    ]


def test_the_picture_for_people_without_the_map_keeps_the_layers_opacity(districts, client):
    content = client.get("/map/?layers=districts&opacity=districts:30").content.decode()
    link = re.search(r'id="map-png-link" href="([^"]+)"', content)[1]
    assert "opacity=districts%3A30" in html.unescape(link)


def test_the_links_that_say_download_save_the_picture_and_the_page_shows_it_inline(
    districts, client
):
    """ "Download this view as an image (PNG)" saves a file named by the date the picture
    shows (the link's ``download`` attribute, and ``download=1`` for a browser that ignores
    it); the no-script map's own image of the same view is shown in the page."""
    today = timezone.localdate().isoformat()
    for query, day in (({}, today), ({"as_of": "2020-06-01"}, "2020-06-01")):
        content = client.get("/map/", {"layers": "districts", **query}).content.decode()
        anchor = re.search(r'<a [^>]*id="map-png-link"[^>]*>', content)[0]
        assert f'download="map-{day}.png"' in anchor
        saved = html.unescape(re.search(r'href="([^"]+)"', anchor)[1])
        assert "download=1" in saved
        response = client.get(saved)
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert response["Content-Disposition"] == f'attachment; filename="map-{day}.png"'
        assert client.head(saved)["Content-Disposition"] == response["Content-Disposition"]
        shown = html.unescape(
            re.search(r'<img class="app-map-fallback__image" src="([^"]+)"', content)[1]
        )
        assert "download" not in shown
        inline = client.get(shown)
        assert inline.status_code == 200 and "Content-Disposition" not in inline

    table = client.get("/map/features/", {"bbox": "1.07,51.27,1.09,51.285", "layers": "districts"})
    anchor = re.search(r"<a [^>]*>download a picture of this view \(PNG\)", table.content.decode())[
        0
    ]
    assert f'download="map-{today}.png"' in anchor
    response = client.get(html.unescape(re.search(r'href="([^"]+)"', anchor)[1]))
    assert response["Content-Disposition"] == f'attachment; filename="map-{today}.png"'


def test_a_picture_asked_for_with_a_download_value_other_than_1_is_refused_saying_so(client):
    response = client.get("/map.png", {"bbox": "1.07,51.27,1.09,51.285", "download": "yes"})
    assert response.status_code == 400
    assert response.content.decode() == (
        "Cannot draw this map: download: 'yes' is not 1; give download=1 to save the picture "
        "as a file, or leave it out to show it."
    )
