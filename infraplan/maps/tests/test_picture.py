"""The picture that stands in for the map without WebGL or JavaScript: links that move and zoom
it (WCAG 2.5.7's alternative to dragging), each keeping all else the map shows, in both copies
the page holds (the one the script shows without WebGL, and the one in ``<noscript>``); what
it shows in words; the feature a link names, outlined on it and named above it, through the
one gate; and the map's title with its date."""

import html
import io
import re
from urllib.parse import parse_qs, urlsplit

import numpy
import pytest
from matplotlib.image import imread

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.models import Feature
from infraplan.core.profile import load_profile
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points
from infraplan.maps.render import SHOWN_COLOUR, SHOWN_HALO
from infraplan.maps.viewport import Extent, mercator

from .test_basemap import profile_with_basemap
from .test_render import ASHFORD_BBOX, pixels_like, png_text

pytestmark = pytest.mark.django_db

CT1_2EH = "1.083457,51.278809"
MOVES = ["Zoom in", "Zoom out", "Move north", "Move south", "Move east", "Move west"]


def copies(content: str) -> dict[str, str]:
    """The two copies of the picture and what goes with it: ``script`` (shown by the map's
    script without WebGL) and ``noscript``."""
    script = re.search(r'<div id="map-fallback".*?(?=<noscript>)', content, re.S)[0]
    noscript = re.search(r"<noscript>.*?</noscript>", content, re.S)[0]
    return {"script": script, "noscript": noscript}


def moves(part: str) -> dict[str, dict[str, str]]:
    """Each link of the picture's "Move or zoom" navigation: its text -> its parameters, in
    the page's order."""
    nav = re.search(r'<nav [^>]*aria-label="Move or zoom the picture"[^>]*>(.*?)</nav>', part, re.S)
    links = re.findall(r'<a class="govuk-link" href="([^"]+)">([^<]+)</a>', nav[1])
    return {
        text: {
            name: values[0]
            for name, values in parse_qs(urlsplit(html.unescape(href)).query).items()
        }
        for href, text in links
    }


def link_named(part: str, text: str) -> str:
    return html.unescape(
        re.search(rf'<a class="govuk-link" href="([^"]+)"[^>]*>{re.escape(text)}', part)[1]
    )


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def feature_id(slug: str, reference: str) -> int:
    return Feature.objects.get(dataset__slug=slug, reference=reference, valid_to__isnull=True).pk


# --- moving and zooming the picture ----------------------------------------------------------


def test_the_picture_has_links_to_zoom_and_move_that_keep_everything_else(
    districts, restricted, client_as, personas
):
    civic = feature_id("a-only-sites", "civic-centre")
    query = {
        "layers": "districts,a-only-sites", "center": "0.87673,51.14815", "zoom": "16",
        "as_of": "2020-01-01", "ended": "show", "opacity": "districts:40",
        "marker": CT1_2EH, "marker_label": "CT1 2EH", "feature": f"a-only-sites/{civic}",
    }  # fmt: skip
    response = client_as(personas.viewer_a).get("/map/", {**query, "as_of": ""})
    content = response.content.decode()

    kept = {key: value for key, value in query.items() if key not in ("center", "zoom", "as_of")}
    for name, part in copies(content).items():
        links = moves(part)
        assert list(links) == MOVES, name  # in this order, each a real link
        for text, parameters in links.items():
            assert {key: parameters.get(key) for key in kept} == {
                **kept, "marker": "1.083457,51.278809",
            }, (name, text)  # fmt: skip
        assert (links["Zoom in"]["center"], links["Zoom in"]["zoom"]) == (
            "0.87673,51.14815",
            "17.00",
        )
        assert (links["Zoom out"]["center"], links["Zoom out"]["zoom"]) == (
            "0.87673,51.14815",
            "15.00",
        )
        # Half the view (960 by 640 pixels at zoom 16) each way: 0.00515° east and west,
        # 0.00215° north and south there.
        assert links["Move north"]["center"] == "0.87673,51.15030"
        assert links["Move south"]["center"] == "0.87673,51.14600"
        assert links["Move east"]["center"] == "0.88188,51.14815"
        assert links["Move west"]["center"] == "0.87158,51.14815"
        assert {parameters["zoom"] for text, parameters in links.items() if "Move" in text} == {
            "16.00"
        }


def test_a_link_that_moves_the_picture_opens_the_map_there_with_the_date_kept(districts, client):
    query = {"layers": "districts", "center": "1.08346,51.27881", "zoom": "16",
             "as_of": "2020-01-01", "ended": "show"}  # fmt: skip
    content = client.get("/map/", query).content.decode()
    east = moves(copies(content)["noscript"])["Move east"]
    assert (east["as_of"], east["ended"], east["layers"]) == ("2020-01-01", "show", "districts")

    moved = client.get("/map/", east).content.decode()

    # The picture shows the view moved: its box starts where the last one's middle was.
    picture = html.unescape(
        re.search(r'<img class="app-map-fallback__image" src="([^"]+)"', moved)[1]
    )
    west = float(query_of(picture)["bbox"].split(",")[0])
    assert west == pytest.approx(1.08346, abs=2e-5)
    assert query_of(picture)["as_of"] == "2020-01-01"


@pytest.mark.parametrize(
    ("center", "zoom", "absent", "said"),
    [
        ("1.08,51.28", "22", "Zoom in", "it cannot zoom in further"),
        ("1.08,51.28", "4", "Zoom out", "it cannot zoom out further"),
        ("1.08,51.28", "2", "Zoom out", "it cannot zoom out further"),
        ("0,85", "12", "Move north", None),
        ("180,0", "12", "Move east", None),
    ],
)
def test_the_picture_goes_no_further_than_the_map_can(
    districts, client, center, zoom, absent, said
):
    content = client.get("/map/", {"layers": "districts", "center": center, "zoom": zoom})
    for name, part in copies(content.content.decode()).items():
        links = moves(part)
        assert absent not in links, name
        assert len(links) == len(MOVES) - 1, name
        if said:
            assert said in part, name
    # Each link it offers opens a map, a picture and a table.
    for parameters in moves(copies(content.content.decode())["noscript"]).values():
        page = client.get("/map/", parameters)
        assert page.status_code == 200
        picture = re.search(
            r'<img class="app-map-fallback__image" src="([^"]+)"', page.content.decode()
        )
        assert client.get(html.unescape(picture[1])).status_code == 200


def test_without_a_view_the_links_start_from_the_whole_area(districts, client):
    links = moves(copies(client.get("/map/").content.decode())["noscript"])
    assert list(links) == MOVES
    zoom_in = links["Zoom in"]
    assert zoom_in["layers"] == "districts" and "center" in zoom_in
    assert float(zoom_in["zoom"]) == pytest.approx(float(links["Zoom out"]["zoom"]) + 2)


def test_the_picture_says_what_it_shows(districts, personas, client):
    close = dataset_make(slug="close-sites", owner=personas.organisation_a, min_zoom=18)
    version_publish_points(dataset=close, points=ASHFORD_POINTS)
    query = {"layers": "districts", "center": "1.08346,51.27881", "zoom": "16",
             "marker": CT1_2EH, "marker_label": "CT1 2EH"}  # fmt: skip
    content = client.get("/map/", query).content.decode()

    for name, part in copies(content).items():
        assert 'alt="Map of Local authority districts, with CT1 2EH marked"' in part, name
        assert (
            '<figcaption class="govuk-body-s govuk-!-margin-top-2">The picture shows an area about '
            "720 m from west to east and 480 m from south to north, centred on grid reference "
            "TR 151 578.</figcaption>"
        ) in part, name
    # A layer the picture leaves out this far out is said to be, so the reader can zoom in.
    far = client.get("/map/", {**query, "layers": "districts,close-sites"}).content.decode()
    assert "Not drawn this far out: Close sites (from zoom 18). Zoom in to see them." in far
    assert 'alt="Map of Local authority districts, with CT1 2EH marked"' in far
    nothing = client.get("/map/", {**query, "layers": ""}).content.decode()
    assert 'alt="Map with no layers drawn, with CT1 2EH marked"' in nothing


def test_the_maps_title_says_its_date(districts, client):
    dated = client.get("/map/", {"as_of": "2020-01-01"}).content.decode()
    assert "<title>Map as published on 1 January 2020 \N{EN DASH} " in dated
    assert '<h1 class="govuk-heading-l">Map as published on 1 January 2020</h1>' in dated
    assert "<title>Map \N{EN DASH} " in client.get("/map/").content.decode()


# --- the feature a link shows ------------------------------------------------------------------


def test_a_feature_named_by_the_link_is_shown_above_the_picture(
    districts, restricted, client_as, personas
):
    civic = feature_id("a-only-sites", "civic-centre")
    query = {"layers": "a-only-sites", "center": "0.87673,51.14815", "zoom": "16",
             "feature": f"a-only-sites/{civic}", "marker": CT1_2EH}  # fmt: skip
    response = client_as(personas.viewer_a).get("/map/", query)
    content = response.content.decode()

    assert response.status_code == 200
    for name, part in copies(content).items():
        panel = re.search(
            r'<div class="govuk-inset-text[^"]*"[^>]*>\s*<p[^>]*>Showing: (.*?)</div>', part, re.S
        )
        assert panel, name
        assert panel[1].startswith(
            f'civic-centre (A only sites) — <a class="govuk-link" href="/datasets/a-only-sites/'
            f'features/{civic}/">details<span class="govuk-visually-hidden"> of civic-centre'
            "</span></a>. It is highlighted in black and yellow on the picture."
        ), name
        stop = query_of(link_named(panel[0], "Stop showing civic-centre"))
        assert stop == {key: value for key, value in {**query, "zoom": "16.00"}.items()
                        if key != "feature"}, name  # fmt: skip
        assert "highlighted" in re.search(r'alt="([^"]*)"', part)[1]
        picture = html.unescape(re.search(r'src="(/map\.png[^"]+)"|data-src="([^"]+)"', part)[0]
                                .split('"')[1])  # fmt: skip
        assert query_of(picture)["feature"] == f"a-only-sites/{civic}", name
    table = query_of(html.unescape(re.search(r'id="map-features-link" href="([^"]+)"', content)[1]))
    assert table["feature"] == f"a-only-sites/{civic}"
    # The layers and date form keeps it, as it keeps the marker.
    form = re.search(r'<form id="map-layers".*?</form>', content, re.S)[0]
    assert f'<input type="hidden" name="feature" value="a-only-sites/{civic}">' in form


def test_a_feature_outside_the_picture_is_said_to_be_with_a_link_to_it(
    districts, restricted, client_as, personas
):
    civic = feature_id("a-only-sites", "civic-centre")
    query = {"layers": "a-only-sites", "center": "1.08,51.28", "zoom": "16",
             "feature": f"a-only-sites/{civic}"}  # fmt: skip
    content = client_as(personas.viewer_a).get("/map/", query).content.decode()
    part = copies(content)["noscript"]
    assert "It is outside the picture:" in part
    assert "highlighted" not in re.search(r'alt="([^"]*)"', part)[1]
    there = query_of(link_named(part, "move the picture to civic-centre"))
    assert there["zoom"] == "16.00" and there["feature"] == f"a-only-sites/{civic}"
    lon, lat = (float(value) for value in there["center"].split(","))
    assert (lon, lat) == pytest.approx((0.8767, 51.1482), abs=1e-3)


@pytest.mark.parametrize("who", ["outsider", "anonymous", "unknown"])
def test_a_feature_the_user_may_not_see_is_explained_as_one_that_does_not_exist(
    districts, restricted, client_as, personas, who
):
    civic = feature_id("a-only-sites", "civic-centre")
    named = "districts/999999999" if who == "unknown" else f"a-only-sites/{civic}"
    user = {"outsider": personas.member_b, "anonymous": None, "unknown": personas.viewer_a}[who]
    query = {"layers": "districts", "center": "0.87673,51.14815", "zoom": "16", "feature": named}
    client = client_as(user)

    content = client.get("/map/", query).content.decode()

    for name, part in copies(content).items():
        assert (
            f"The feature this link points to ({named}) cannot be shown: it may have been removed "
            "or have ended, it may not be published on the date shown, or you may not have "
            "access to it. The picture shows the rest of the view."
        ) in part, name
        assert "Showing:" not in part and "civic-centre" not in part
        assert all("feature" not in parameters for parameters in moves(part).values())
    if who != "unknown":
        assert "civic-centre" not in content and "A only sites" not in content
    # The picture and the table alike: the same words for what is not there and what may not
    # be seen.
    png = client.get("/map.png", {"bbox": ASHFORD_BBOX, "feature": named})
    assert png.status_code == 400
    assert png.content.decode() == (
        f"Cannot draw this map: feature: there is no feature {named} to show: it may have been "
        "removed or have ended, it may not be published on the date shown, or you may not have "
        "access to it."
    )
    table = client.get("/map/features/", {"bbox": ASHFORD_BBOX, "feature": named}).content.decode()
    assert f"The feature this link points to ({named}) cannot be shown" in table
    assert "feature=" not in table


@pytest.mark.parametrize(
    "named", ["a-only-sites", "a-only-sites/0", "a only sites/1", "/12", "x/1e3"]
)
def test_a_feature_that_cannot_be_named_so_is_explained(districts, restricted, client, named):
    content = client.get("/map/", {"layers": "districts", "feature": named}).content.decode()
    for part in copies(content).values():
        assert (
            f"This link names the feature to show as “{named}”, which is not the name of a "
            "feature (a dataset and a feature's number, like schools/123). The picture shows the "
            "rest of the view."
        ) in html.unescape(part)
    png = client.get("/map.png", {"bbox": ASHFORD_BBOX, "feature": named})
    assert png.status_code == 400
    assert png.content.decode() == (
        "Cannot draw this map: feature: expected a dataset and a feature's number, like "
        "schools/123."
    )


def pixel_of(lon: float, lat: float, bbox: str, width: int, height: int) -> tuple[int, int]:
    extent = Extent.fitting(tuple(float(value) for value in bbox.split(",")), width, height)
    x, y = mercator(lon, lat)
    return (
        int((x - extent.min_x) / (extent.max_x - extent.min_x) * width),
        int((extent.max_y - y) / (extent.max_y - extent.min_y) * height),
    )


def test_the_picture_outlines_the_feature_shown_and_names_it_in_its_legend(
    districts, restricted, client_as, personas
):
    civic = feature_id("a-only-sites", "civic-centre")
    viewer = client_as(personas.viewer_a)
    query = {"bbox": ASHFORD_BBOX, "width": 400, "height": 300, "layers": "a-only-sites"}
    plain = viewer.get("/map.png", query).content
    response = viewer.get("/map.png", {**query, "feature": f"a-only-sites/{civic}"})
    shown = response.content

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, max-age=300"
    assert pixels_like(plain, SHOWN_HALO) == 0
    assert pixels_like(shown, SHOWN_HALO) > 60  # the yellow ring
    # Around the point: a near-black ring within the yellow, over the layer's dot.
    detail = viewer.get(f"/datasets/a-only-sites/features/{civic}.json").json()["point"]
    column, row = pixel_of(detail["lon"], detail["lat"], ASHFORD_BBOX, 400, 300)
    image = (imread(io.BytesIO(shown), format="png")[:, :, :3] * 255).astype(int)
    around = image[row - 14 : row + 15, column - 14 : column + 15]
    black = numpy.array([int(SHOWN_COLOUR[i : i + 2], 16) for i in (1, 3, 5)])
    assert (numpy.abs(around - black).sum(axis=2) <= 24).sum() > 20
    assert png_text(shown)["Comment"] == "Legend: A only sites; Shown: civic-centre (A only sites)"
    assert "Shown" not in png_text(plain)["Comment"]


def test_the_picture_outlines_an_area_even_when_its_layer_is_off(districts, client):
    ashford = feature_id("districts", "E07000105")
    query = {"bbox": "0.6,50.9,1.3,51.4", "width": 400, "height": 300, "layers": ""}
    png = client.get("/map.png", {**query, "feature": f"districts/{ashford}"}).content
    assert pixels_like(png, SHOWN_HALO) > 300  # the district's whole boundary, in yellow
    assert pixels_like(png, SHOWN_COLOUR) > 300
    assert png_text(png)["Comment"] == "Legend: Shown: Ashford (Local authority districts)"
    # Seen from inside, where none of its outline is, it is tinted yellow: the background
    # (#f3f2f1) under a fifth of the yellow.
    inside = {**query, "bbox": "0.87,51.145,0.875,51.148", "feature": f"districts/{ashford}"}
    tinted = client.get("/map.png", inside).content
    assert pixels_like(tinted, "#f5eec1") > 400 * 300 / 2
    assert pixels_like(client.get("/map.png", {**inside, "feature": ""}).content, "#f5eec1") == 0
    # Out of the picture, it is not named in its legend.
    away = client.get(
        "/map.png", {**query, "bbox": "1.3,51.3,1.4,51.4", "feature": f"districts/{ashford}"}
    )
    assert "Comment" not in png_text(away.content)


def test_showing_a_restricted_feature_is_recorded_as_a_read(restricted, client_as, personas):
    civic = feature_id("a-only-sites", "civic-centre")
    viewer = client_as(personas.viewer_a)
    viewer.get("/map/", {"layers": "", "feature": f"a-only-sites/{civic}"})
    assert AuditEntry.objects.filter(action="dataset.read.feature").count() == 1
    viewer.get("/map.png", {"bbox": ASHFORD_BBOX, "layers": "", "feature": f"a-only-sites/{civic}"})
    assert AuditEntry.objects.filter(action="dataset.read.png").count() == 1


def test_the_table_keeps_the_feature_shown_in_its_links(districts, restricted, client_as, personas):
    civic = feature_id("a-only-sites", "civic-centre")
    query = {"layers": "districts,a-only-sites", "bbox": ASHFORD_BBOX,
             "feature": f"a-only-sites/{civic}", "marker": CT1_2EH}  # fmt: skip
    content = client_as(personas.viewer_a).get("/map/features/", query).content.decode()

    shown = re.search(r'<div class="[^"]*" id="map-shown">(.*?)</div>', content, re.S)[1]
    assert "Shown on the map: civic-centre (A only sites) — " in shown
    assert f'href="/datasets/a-only-sites/features/{civic}/">details' in shown
    assert query_of(link_named(shown, "Stop showing civic-centre")) == {
        "bbox": ASHFORD_BBOX, "layers": "districts,a-only-sites", "marker": CT1_2EH,
    }  # fmt: skip
    for text in ("Back to the map", "download a picture of this view (PNG)", "Remove the marker"):
        assert query_of(link_named(content, text))["feature"] == f"a-only-sites/{civic}", text
    form = re.search(r'<form method="get" action="/map/features/".*?</form>', content, re.S)[0]
    assert f'<input type="hidden" name="feature" value="a-only-sites/{civic}">' in form


# --- attribution -------------------------------------------------------------------------------


def attributions(response) -> list[str]:
    """The page's attribution list, item by item, as text."""
    section = re.search(
        r'<ul class="[^"]*" id="map-attribution">(.*?)</ul>', response.content.decode(), re.S
    )
    if section is None:
        return []
    items = re.findall(r"<li>(.*?)</li>", section[1], re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", item)) for item in items]


def test_the_page_credits_the_layers_the_view_shows_each_source_once(
    districts, personas, client, settings, tmp_path
):
    """Not every layer the person may see: those drawn, with the feature shown (drawn even with
    its layer off) and the basemap's; layers owing the same words are named together."""
    for slug in ("sites", "depots", "elsewhere"):
        dataset = dataset_make(
            slug=slug, owner=personas.organisation_a,
            attribution="Sites and depots survey." if slug != "elsewhere" else "Elsewhere survey.",
        )  # fmt: skip
        version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    view = {"center": "0.8767,51.1482", "zoom": "14"}

    response = client.get("/map/", {"layers": "districts,sites,depots", **view})
    assert attributions(response) == [
        f"Local authority districts: {' '.join(districts.attribution.split())}",
        "Depots and Sites: Sites and depots survey.",
    ]
    shown = f"elsewhere/{feature_id('elsewhere', 'civic-centre')}"
    response = client.get("/map/", {"layers": "sites", "feature": shown, **view})
    assert attributions(response) == [
        "Sites: Sites and depots survey.",
        "Elsewhere: Elsewhere survey.",
    ]
    assert attributions(client.get("/map/", {"layers": "", **view})) == []

    settings.AUTHORITY_PROFILE = load_profile(
        profile_with_basemap(
            tmp_path,
            '{ raster_tiles = "https://t.example.org/{z}/{x}/{y}.png", attribution = "© Example maps" }',
        )
    )
    response = client.get("/map/", {"layers": "", **view})
    assert attributions(response) == ["Basemap: © Example maps"]
