"""The search result's marker: ``marker=lon,lat`` (and ``marker_label``) read strictly for the
picture and leniently for the pages, kept by every link of the map and its table, said in words
there and drawn on the PNG as a cross with a white halo."""

import html
import io
import re
from urllib.parse import parse_qs, urlsplit

import numpy
import pytest
from matplotlib.image import imread
from pyproj import Transformer

from infraplan.catalogue.models import Feature
from infraplan.core.coordinates import grid_reference_parse
from infraplan.core.testing.data import postcodes_load_sample
from infraplan.maps.marker import (
    MARKER_COLOUR,
    MARKER_LABEL_LENGTH,
    Marker,
    grid_reference_text,
    marker_from_query,
    parse_marker,
)
from infraplan.maps.selectors import BadRequest
from infraplan.maps.viewport import Extent, mercator

from .test_map_page import map_config
from .test_render import ASHFORD_BBOX, pixels_like, png_text

pytestmark = pytest.mark.django_db

# CT1 2EH in ONSPD (Nov 2025), as the search's result gives it.
CT1_2EH = "1.083457,51.278809"
TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (CT1_2EH, (1.083457, 51.278809)),
        (" 1.083457 , 51.278809 ", (1.083457, 51.278809)),
        ("-0.1,51", (-0.1, 51.0)),
        ("+1.5,-12", (1.5, -12.0)),
        ("1.08345749,51.27880951", (1.083457, 51.27881)),  # to six places
        ("180,85", (180.0, 85.0)),
        ("-180,-85", (-180.0, -85.0)),
    ],
)
def test_a_marker_is_read_to_six_decimal_places(value, expected):
    marker = parse_marker({"marker": value})
    assert (marker.lon, marker.lat) == expected
    assert marker.query()["marker"] == "{:.6f},{:.6f}".format(*expected)


@pytest.mark.parametrize(
    "value",
    [
        "", "1.08", "1.08,51.27,3", "a,b", "1.08,", ",51.2", "1.08;51.27", "nan,nan", "inf,51",
        "1e1,51", "0x1,51", "1.,51", ".5,51", "\u0661,51", "1.08, 51 .2", "1234,51",
        "1." + "0" * 16 + ",51",
    ],
)  # fmt: skip
def test_what_is_not_a_point_is_explained_for_the_picture_and_ignored_by_the_pages(value):
    with pytest.raises(BadRequest) as problem:
        parse_marker({"marker": value})
    assert str(problem.value) == (
        "marker: expected a longitude and a latitude in degrees, longitude first, separated by a comma"
    )
    assert marker_from_query({"marker": value}) is None


@pytest.mark.parametrize("value", ["180.1,51", "-181,51", "1,85.000001", "1,-86", "999,0"])
def test_a_point_off_the_map_is_explained_and_ignored(value):
    with pytest.raises(BadRequest) as problem:
        parse_marker({"marker": value})
    assert str(problem.value) == (
        "marker: the longitude must be between -180 and 180 and the latitude between -85 and "
        "85 degrees"
    )
    assert marker_from_query({"marker": value}) is None


def test_no_marker_is_none_and_a_label_alone_marks_nothing():
    assert parse_marker({}) is None
    assert parse_marker({"marker_label": "CT1 2EH"}) is None


@pytest.mark.parametrize(
    ("label", "kept"),
    [
        ("CT1 2EH", "CT1 2EH"),
        ("  St Mary's\n\tin the  Marsh ", "St Mary's in the Marsh"),
        ("a\x00b\u200bc", "a b c"),  # control and format characters count as spaces
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),  # escaped where shown
        ("x" * 200, "x" * (MARKER_LABEL_LENGTH - 1) + "…"),
        ("", ""),
    ],
)
def test_a_label_is_kept_short_and_on_one_line(label, kept):
    marker = parse_marker({"marker": CT1_2EH, "marker_label": label})
    assert marker.label == kept
    assert len(marker.label) <= MARKER_LABEL_LENGTH
    assert ("marker_label" in marker.query()) == bool(kept)


@pytest.mark.parametrize(
    "reference",
    ["TR 150 575", "SV 900 100", "HP 612 165", "NT 254 739", "SU 999 001", "TQ 300 800",
     "NN 166 712", "SJ 000 999", "OV 500 500"],
)  # fmt: skip
def test_a_grid_reference_is_written_as_it_is_read(reference):
    square = grid_reference_parse(reference)
    min_e, min_n, _, _ = square.box
    assert grid_reference_text(min_e, min_n) == reference
    assert grid_reference_text(square.point.x, square.point.y) == reference
    # Through six decimal places of a degree: a point on a square's edge stays in its square.
    lon, lat = TO_WGS84.transform(min_e, min_n)
    assert Marker.at(lon, lat).grid_reference() == reference


def test_a_marker_is_described_by_its_label_and_grid_reference():
    assert parse_marker({"marker": CT1_2EH, "marker_label": "CT1 2EH"}).description() == (
        "CT1 2EH (grid reference TR 151 578)"
    )
    assert parse_marker({"marker": CT1_2EH}).description() == "grid reference TR 151 578"
    # Off the National Grid: by its latitude and longitude.
    assert parse_marker({"marker": "2.35,48.85", "marker_label": "Paris"}).description() == (
        "Paris (latitude 48.85000, longitude 2.35000)"
    )


# --- the map page and its table ------------------------------------------------------------


def link(content: str, element_id: str) -> dict[str, str]:
    """The parameters of the link with ``element_id``."""
    href = html.unescape(re.search(rf'id="{element_id}" href="([^"]+)"', content)[1])
    return {name: values[0] for name, values in parse_qs(urlsplit(href).query).items()}


MARKED = {"marker": CT1_2EH, "marker_label": "CT1 2EH"}


def test_the_map_page_marks_the_place_and_its_links_keep_it(districts, client):
    response = client.get("/map/", {"layers": "districts", "center": "1.08,51.28", "zoom": 15,
                                    **MARKED})  # fmt: skip
    content = response.content.decode()

    assert response.status_code == 200
    assert map_config(response)["marker"] == {"lon": 1.083457, "lat": 51.278809, "label": "CT1 2EH"}
    for name in ("map-features-link", "map-png-link"):
        assert {key: link(content, name)[key] for key in MARKED} == MARKED, name
    # Said in words, with a link to the same map without it.
    assert re.search(
        r'<div class="[^"]*" id="map-marker">\s*<p class="[^"]*">Marked on the map: '
        r'<span id="map-marker-text">CT1 2EH \(grid reference TR 151 578\)</span>',
        content,
    )
    assert link(content, "map-marker-remove") == {
        "layers": "districts", "center": "1.08000,51.28000", "zoom": "15.00",
    }  # fmt: skip
    assert 'alt="Map of Local authority districts, with CT1 2EH marked"' in content
    # The layers and date form keeps it (without the script, it reloads the page); a new search
    # does not: it marks its own result.
    layers_form = re.search(r'<form id="map-layers".*?</form>', content, re.S)[0]
    assert '<input type="hidden" name="marker" value="1.083457,51.278809">' in layers_form
    assert '<input type="hidden" name="marker_label" value="CT1 2EH">' in layers_form
    search_form = re.search(r'<form id="map-search".*?</form>', content, re.S)[0]
    assert "marker" not in search_form


def test_the_link_that_removes_the_marker_names_only_what_the_map_shows(
    districts, restricted, client_as, personas
):
    """Made of what the page read, not the URL as given: an outsider's link names no layer
    they may not see."""
    feature = f"a-only-sites/{restricted_feature()}"
    query = {"layers": "districts,a-only-sites", "opacity": "a-only-sites:50,districts:40",
             "feature": feature, "ended": "show", **MARKED}  # fmt: skip
    outsider = client_as(personas.member_b)
    unfeatured = {key: value for key, value in query.items() if key != "feature"}
    assert "a-only-sites" not in outsider.get("/map/", unfeatured).content.decode()
    assert link(outsider.get("/map/", query).content.decode(), "map-marker-remove") == {
        "layers": "districts", "ended": "show", "opacity": "districts:40",
    }  # fmt: skip
    viewer = client_as(personas.viewer_a).get("/map/", query).content.decode()
    assert link(viewer, "map-marker-remove") == {
        "layers": "districts,a-only-sites", "ended": "show",
        "opacity": "districts:40,a-only-sites:50", "feature": feature,
    }  # fmt: skip


def restricted_feature() -> int:
    """The id of a feature of ``a-only-sites`` (the ``restricted`` fixture)."""
    return Feature.objects.filter(dataset__slug="a-only-sites", valid_to__isnull=True).first().pk


@pytest.mark.parametrize("marker", [None, "north,south", "1.08,99"])
def test_without_a_usable_marker_the_map_page_marks_nothing(districts, client, marker):
    query = {"layers": "districts"} | ({"marker": marker, "marker_label": "X"} if marker else {})
    response = client.get("/map/", query)
    content = response.content.decode()

    assert response.status_code == 200
    assert map_config(response)["marker"] is None
    assert 'id="map-marker" hidden' in content
    assert "marker" not in link(content, "map-png-link")
    assert "marker" not in link(content, "map-features-link")


def test_the_table_says_where_the_marker_is_and_every_link_keeps_it(districts, client):
    area = "1.07,51.27,1.09,51.285"
    response = client.get("/map/features/", {"bbox": area, "layers": "districts", **MARKED})
    content = response.content.decode()

    assert response.status_code == 200
    marked = re.search(r'<div class="[^"]*" id="map-marker">(.*?)</div>', content, re.S)[1]
    assert "Marked on the map: CT1 2EH (grid reference TR 151 578)." in marked
    assert "outside this area" not in marked
    remove = html.unescape(re.search(r'href="([^"]+)">Remove the marker', marked)[1])
    assert parse_qs(urlsplit(remove).query) == {"bbox": [area], "layers": ["districts"]}
    for name in ("Back to the map", "download a picture of this view (PNG)"):
        href = html.unescape(re.search(rf'href="([^"]+)"[^>]*>{re.escape(name)}</a>', content)[1])
        assert {key: parse_qs(urlsplit(href).query)[key] for key in MARKED} == {
            key: [value] for key, value in MARKED.items()
        }, name
    form = re.search(r'<form method="get" action="/map/features/".*?</form>', content, re.S)[0]
    assert '<input type="hidden" name="marker" value="1.083457,51.278809">' in form
    assert '<input type="hidden" name="marker_label" value="CT1 2EH">' in form

    elsewhere = client.get("/map/features/", {"bbox": "0.86,51.14,0.89,51.16", **MARKED})
    assert "It is outside this area." in elsewhere.content.decode()
    unmarked = client.get("/map/features/", {"bbox": area, "marker": "1.08"})
    assert 'id="map-marker"' not in unmarked.content.decode()


def test_a_label_is_escaped_where_the_pages_say_it(districts, client):
    label = '<b>"Depot"</b> & yard'
    query = {"layers": "districts", "marker": CT1_2EH, "marker_label": label}
    for path in ("/map/", "/map/features/"):
        content = client.get(path, query).content.decode()
        assert "<b>" not in content, path
        assert "&lt;b&gt;&quot;Depot&quot;&lt;/b&gt; &amp; yard (grid reference" in content, path


def test_a_search_results_link_carries_the_marker_to_the_table(client, districts):
    """Without JavaScript: the search page's result opens the map marked, and the table of the
    features in that view says where the mark is."""
    postcodes_load_sample()
    search = client.get("/search/", {"q": "CT1 2EH", "layers": "districts"}).content.decode()
    result = html.unescape(re.search(r'<a class="govuk-link[^"]*" href="([^"]+)">CT1 2EH</a>',
                                     search)[1])  # fmt: skip
    assert parse_qs(urlsplit(result).query)["marker"] == [CT1_2EH]
    assert parse_qs(urlsplit(result).query)["marker_label"] == ["CT1 2EH"]

    map_page = client.get(result).content.decode()
    table = client.get(html.unescape(re.search(r'id="map-features-link" href="([^"]+)"',
                                               map_page)[1]))  # fmt: skip

    assert "Marked on the map: CT1 2EH (grid reference TR 151 578)." in table.content.decode()


# --- the picture ---------------------------------------------------------------------------

MARKER_AT = (0.8700, 51.1450)  # in ASHFORD_BBOX, away from the legend at its top right


def pixel_of(lon: float, lat: float, bbox: str, width: int, height: int) -> tuple[int, int]:
    """The (column, row) at which a ``width`` x ``height`` picture of ``bbox`` shows a point."""
    extent = Extent.fitting(tuple(float(value) for value in bbox.split(",")), width, height)
    x, y = mercator(lon, lat)
    column = (x - extent.min_x) / (extent.max_x - extent.min_x) * width
    row = (extent.max_y - y) / (extent.max_y - extent.min_y) * height
    return int(column), int(row)


def test_the_picture_draws_the_marker_where_it_is_and_names_it_in_its_legend(client):
    query = {"bbox": ASHFORD_BBOX, "width": 400, "height": 300, "layers": ""}
    plain = client.get("/map.png", query).content
    response = client.get(
        "/map.png", {**query, "marker": "{},{}".format(*MARKER_AT), "marker_label": "TR 000 000"}
    )
    marked = response.content

    assert response.status_code == 200
    assert marked != plain
    image = (imread(io.BytesIO(marked), format="png")[:, :, :3] * 255).astype(int)
    column, row = pixel_of(*MARKER_AT, ASHFORD_BBOX, 400, 300)
    colour = [int(MARKER_COLOUR[i : i + 2], 16) for i in (1, 3, 5)]
    assert numpy.abs(image[row, column] - colour).sum() <= 24, image[row, column]
    # Its white halo, around it, over the background.
    assert (image[row - 12 : row + 13, column - 12 : column + 13] == 255).all(axis=2).sum() > 20
    assert pixels_like(plain, MARKER_COLOUR) == 0
    assert png_text(marked)["Comment"] == "Legend: Search result: TR 000 000"
    assert "Comment" not in png_text(plain)


def test_the_legend_names_the_marker_after_the_layers_and_only_if_it_is_in_view(districts, client):
    query = {"bbox": "1.07,51.27,1.09,51.285", "width": 400, "height": 300, "layers": "districts"}
    shown = client.get("/map.png", {**query, **MARKED}).content
    assert png_text(shown)["Comment"] == (
        "Legend: Local authority districts; Search result: CT1 2EH"
    )
    unlabelled = client.get("/map.png", {**query, "marker": CT1_2EH}).content
    assert png_text(unlabelled)["Comment"] == "Legend: Local authority districts; Search result"
    elsewhere = client.get("/map.png", {**query, "marker": "0.87,51.145"}).content
    assert png_text(elsewhere)["Comment"] == "Legend: Local authority districts"


def test_a_label_with_dollar_signs_is_drawn_as_written(client):
    """Matplotlib would read "$...$" as mathematics (and fail on some of it)."""
    query = {"bbox": ASHFORD_BBOX, "width": 400, "height": 300, "layers": "",
             "marker": "{},{}".format(*MARKER_AT), "marker_label": r"$\frac{$"}  # fmt: skip
    response = client.get("/map.png", query)
    assert response.status_code == 200
    assert png_text(response.content)["Comment"] == r"Legend: Search result: $\frac{$"


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("1.08", "marker: expected a longitude and a latitude in degrees, longitude first, separated by a comma"),
        ("1.08,91", "marker: the longitude must be between -180 and 180 and the latitude "
                    "between -85 and 85 degrees"),
    ],
)  # fmt: skip
def test_a_picture_asked_for_with_a_bad_marker_is_400_saying_why(client, marker, message):
    query = {"bbox": ASHFORD_BBOX, "marker": marker}
    response = client.get("/map.png", query)
    assert response.status_code == 400
    assert response.content.decode() == f"Cannot draw this map: {message}."
    assert client.head("/map.png", query).status_code == 400
