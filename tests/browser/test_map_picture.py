"""Without WebGL, the picture that stands in for the map can be moved and zoomed by its links
(WCAG 2.5.7), each keeping what the map shows, and a feature's "Show … on the map" link shows
that feature on it, named above it (axe on each page, no rule left out)."""

import io
import re
from urllib.parse import parse_qs, urlsplit

import numpy
import pytest
from matplotlib.image import imread
from playwright.sync_api import Locator, Page, expect

from .conftest import PageWatch, assert_accessible

pytestmark = pytest.mark.browser

# A search result's link for CT1 2EH, as the search page gives it.
SEARCHED = (
    "/map/?layers=districts&center=1.08346,51.27881&zoom=16"
    "&marker=1.083457%2C51.278809&marker_label=CT1+2EH"
)
YELLOW = "#ffdd00"  # the shown feature's outline (render.SHOWN_HALO)


def query(page: Page) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(page.url).query).items()}


def picture_loaded(page: Page) -> None:
    """Wait until the picture the script shows (without WebGL) has loaded, and check it did."""
    page.wait_for_function(
        "() => { const image = document.getElementById('map-fallback-image');"
        " return image.complete && image.naturalWidth > 0; }"
    )
    assert page.locator("#map-fallback-image").evaluate("image => image.naturalWidth") == 960


def follow(page: Page, link: Locator) -> None:
    """Click ``link`` and wait for the page it opens, and its picture: a click does not wait
    for the navigation it starts, and the old page's picture has already loaded."""
    with page.expect_navigation():
        link.click()
    picture_loaded(page)


def yellow_pixels(png: bytes) -> int:
    image = (imread(io.BytesIO(png), format="png")[:, :, :3] * 255).astype(int)
    target = numpy.array([int(YELLOW[i : i + 2], 16) for i in (1, 3, 5)])
    return int((numpy.abs(image - target).sum(axis=2) <= 24).sum())


def test_without_webgl_the_picture_zooms_and_moves_and_shows_a_feature(
    browser_without_webgl, demo_server
):
    watch = PageWatch()
    page = watch.attach(browser_without_webgl.new_page(base_url=demo_server))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(SEARCHED)
    picture_loaded(page)

    moves = page.get_by_role("navigation", name="Move or zoom the picture")
    expect(moves.get_by_role("link")).to_have_text(
        ["Zoom in", "Zoom out", "Move north", "Move south", "Move east", "Move west"]
    )
    picture = page.get_by_role("img", name="Map of Local authority districts, with CT1 2EH marked")
    expect(picture).to_be_visible()
    expect(page.locator("#map-fallback figcaption")).to_have_text(
        "The picture shows an area about 720 m from west to east and 480 m from south to north, "
        "centred on grid reference TR 151 578."
    )
    assert_accessible(page)

    follow(page, moves.get_by_role("link", name="Zoom out"))
    assert query(page) == {
        "layers": "districts", "center": "1.08346,51.27881", "zoom": "15.00",
        "marker": "1.083457,51.278809", "marker_label": "CT1 2EH",
    }  # fmt: skip
    expect(page.locator("#map-fallback figcaption")).to_contain_text(
        "about 1.4 km from west to east"
    )

    follow(
        page,
        page.get_by_role("navigation", name="Move or zoom the picture").get_by_role(
            "link", name="Move east"
        ),
    )
    moved = query(page)
    lon, lat = (float(value) for value in moved["center"].split(","))
    assert lon == pytest.approx(1.08346 + 0.0103, abs=1e-4) and lat == pytest.approx(51.27881)
    assert (moved["zoom"], moved["marker"], moved["layers"]) == (
        "15.00",
        "1.083457,51.278809",
        "districts",
    )
    # What was the middle is now the west edge.
    expect(page.locator("#map-fallback figcaption")).to_contain_text("grid reference TR 158 578")
    expect(
        page.get_by_role("img", name=re.compile("^Map of Local authority districts"))
    ).to_be_visible()
    assert_accessible(page)

    # The feature link: from the table of what is in view, a feature's page, and back to the
    # map with it shown.
    page.get_by_role("link", name="features in this view").first.click()
    page.get_by_role("table").get_by_role("link", name="Canterbury").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Canterbury")
    follow(page, page.get_by_role("link", name="Show Canterbury on the map"))

    shown = page.locator("#map-shown")
    expect(shown).to_contain_text(
        "Showing: Canterbury (Local authority districts) — details of Canterbury. It is highlighted "
        "in black and yellow on the picture."
    )
    feature = query(page)["feature"]
    assert re.fullmatch(r"districts/\d+", feature)
    expect(shown.get_by_role("link", name="details of Canterbury")).to_have_attribute(
        "href", f"/datasets/{feature.replace('/', '/features/')}/"
    )
    highlighted = (
        "Map of Local authority districts, with Canterbury (Local authority districts) highlighted"
    )
    expect(page.get_by_role("img", name=highlighted)).to_be_visible()
    for link in (
        page.get_by_role("navigation", name="Move or zoom the picture").get_by_role("link").all()
    ):
        assert parse_qs(urlsplit(link.get_attribute("href")).query)["feature"] == [feature]
    # Zoomed out, the district's outline comes into the picture, drawn in yellow and black.
    follow(
        page,
        page.get_by_role("navigation", name="Move or zoom the picture").get_by_role(
            "link", name="Zoom out"
        ),
    )
    png = page.request.get(page.locator("#map-fallback-image").get_attribute("src")).body()
    assert yellow_pixels(png) > 500
    assert_accessible(page)

    follow(page, shown.get_by_role("link", name="Stop showing Canterbury"))
    assert "feature" not in query(page)
    expect(page.locator("#map-shown")).to_have_count(0)
    watch.assert_clean()
