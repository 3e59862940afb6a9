"""The search result's marker in a real browser: a search puts it in the map's URL, a link with
it shows the pin and says where it is, it can be taken off, and without JavaScript the search
page's results mark the picture of the map and the table of its features (axe on each page)."""

import io
import re
from urllib.parse import parse_qs, urlsplit

import numpy
import pytest
from matplotlib.image import imread
from playwright.sync_api import Page, expect

from .conftest import PageWatch, assert_accessible, assert_page_sound

pytestmark = pytest.mark.browser

# CT1 2EH in ONSPD (Nov 2025), in the demo database's sample postcodes.
CT1_2EH = (1.083457, 51.278809)
MARKED = re.compile(r"[?&]marker=1\.083457%2C51\.278809&marker_label=CT1\+2EH(&|$)")
MARKED_URL = (
    "/map/?layers=districts&center=1.08300,51.27850&zoom=16"
    "&marker=1.083457%2C51.278809&marker_label=CT1+2EH"
)
WORDS = "Marked on the map: CT1 2EH (grid reference TR 151 578)"
RED = "#d4351c"


@pytest.fixture
def context(served_context):
    """Every test here only reads: all run against the demo server (``page`` opens in this
    context too)."""
    return served_context


def open_map(page: Page, url: str = "/map/") -> None:
    page.goto(url)
    page.locator('#map[data-map-idle="true"]').wait_for()


def search_map(page: Page, query: str) -> None:
    page.locator("#map-search-q").fill(query)
    page.locator("#map-search-q").press("Enter")


def pin_tip(page: Page) -> tuple[float, float]:
    """Where on the map (lon, lat) the tip of the search result's pin is."""
    return tuple(
        page.evaluate(
            """() => {
                const box = document.querySelector("[data-search-marker]").getBoundingClientRect();
                const map = window.infraplanMap;
                const frame = map.getContainer().getBoundingClientRect();
                const at = map.unproject([box.x + box.width / 2 - frame.x, box.bottom - frame.y]);
                return [at.lng, at.lat];
            }"""
        )
    )


def test_a_search_puts_its_marker_in_the_url_and_a_new_one_takes_it_out(page):
    open_map(page)
    search_map(page, "CT1 2EH")

    expect(page).to_have_url(MARKED)
    pin = page.locator("[data-search-marker]")
    expect(pin).to_be_visible()
    expect(pin).to_have_attribute("aria-label", "Search result: CT1 2EH")
    panel = page.locator("#map-marker")
    expect(panel).to_contain_text("Marked on the map: CT1 2EH")
    # The picture and table of the view mark it too.
    for link in ("#map-features-link", "#map-png-link"):
        query = parse_qs(urlsplit(page.locator(link).get_attribute("href")).query)
        assert query["marker"] == ["1.083457,51.278809"], link
        assert query["marker_label"] == ["CT1 2EH"], link
    assert_accessible(page)

    search_map(page, "Atlantis")  # nothing found: the marker goes, from the URL too
    expect(page.locator("#map-search-results")).to_contain_text("Nothing found")
    expect(pin).to_have_count(0)
    expect(page).not_to_have_url(re.compile("marker"))
    expect(panel).to_be_hidden()
    assert "marker" not in page.locator("#map-png-link").get_attribute("href")


def test_a_link_with_a_marker_shows_the_pin_where_it_says(page):
    open_map(page, MARKED_URL)

    pin = page.locator("[data-search-marker]")
    expect(pin).to_be_visible()
    expect(pin).to_have_attribute("aria-label", "Search result: CT1 2EH")
    assert pin_tip(page) == pytest.approx(CT1_2EH, abs=2e-4)
    expect(page.locator("#map-marker")).to_contain_text(WORDS)
    # Moving the map keeps it in the URL.
    page.evaluate("() => window.infraplanMap.jumpTo({center: [1.07, 51.27]})")
    expect(page).to_have_url(re.compile(r"center=1\.07000%2C51\.27000"))
    expect(page).to_have_url(MARKED)
    assert_accessible(page)


def test_the_marker_is_taken_off_by_its_link_and_a_new_date_keeps_what_is_marked(page):
    open_map(page, MARKED_URL)
    page.get_by_role("button", name="Show this date").click()  # reloads the page
    page.locator('#map[data-map-idle="true"]').wait_for()
    expect(page).to_have_url(MARKED)
    expect(page.locator("[data-search-marker]")).to_be_visible()

    page.get_by_role("link", name="Remove the marker").click()

    expect(page.locator("[data-search-marker]")).to_have_count(0)
    expect(page).not_to_have_url(re.compile("marker"))
    expect(page.locator("#map-marker")).to_be_hidden()
    expect(page.locator("#map-search-q")).to_be_focused()
    page.get_by_role("button", name="Show this date").click()
    page.locator('#map[data-map-idle="true"]').wait_for()
    expect(page).not_to_have_url(re.compile("marker"))
    expect(page.locator("[data-search-marker]")).to_have_count(0)


def red_pixels(png: bytes) -> int:
    image = (imread(io.BytesIO(png), format="png")[:, :, :3] * 255).astype(int)
    target = numpy.array([int(RED[i : i + 2], 16) for i in (1, 3, 5)])
    return int((numpy.abs(image - target).sum(axis=2) <= 24).sum())


def test_without_javascript_a_search_result_marks_the_picture_and_the_table(
    served_context_without_script,
):
    watch = PageWatch()
    page = watch.attach(served_context_without_script.new_page())
    page.goto("/map/?layers=districts")
    page.locator("#map-search-q").fill("CT1 2EH")
    page.locator("#map-search-q").press("Enter")
    page.wait_for_url("**/search/?q=CT1+2EH&layers=districts")

    result = page.get_by_role("link", name="CT1 2EH")
    expect(result).to_have_attribute("href", MARKED)
    result.click()

    expect(page).to_have_url(MARKED)
    expect(page.locator("#map-marker")).to_contain_text(WORDS)
    picture = page.get_by_role("img", name="Map of Local authority districts, with CT1 2EH marked")
    expect(picture).to_be_visible()
    png = page.request.get(picture.get_attribute("src")).body()
    assert red_pixels(png) > 100  # the cross, drawn in the pin's red
    assert_page_sound(page, watch)

    page.get_by_role("link", name="features in this view").first.click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Features in this view")
    expect(page.locator("#map-marker")).to_contain_text(f"{WORDS}.")
    expect(page.get_by_role("link", name="Back to the map")).to_have_attribute("href", MARKED)
    assert_page_sound(page, watch)

    page.get_by_role("link", name="Remove the marker").click()
    expect(page.locator("#map-marker")).to_have_count(0)
    expect(page).not_to_have_url(re.compile("marker"))
    expect(page.get_by_role("link", name="Back to the map")).not_to_have_attribute(
        "href", re.compile("marker")
    )
    watch.assert_clean()
