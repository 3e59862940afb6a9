"""The map page for people who do not use a mouse, a wide screen or their eyes: where focus is
on the map, what the keyboard does there, pop-ups in a narrow window, search results and errors
told to screen readers, and a link naming a feature that is gone."""

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import assert_accessible
from .test_map import map_screenshot, open_map, pixels_like

pytestmark = pytest.mark.browser

FOCUS_YELLOW = "#ffdd00"
CANTERBURY_WARDS = "?layers=districts,wards&center=1.08,51.28&zoom=11"


@pytest.fixture
def context(served_context):
    """Every test here only reads: all run against the demo server."""
    return served_context


def focus_the_map(page: Page) -> None:
    """Tab to the map, as a keyboard user would (from the link just before it)."""
    page.locator("#map-png-link").focus()
    page.keyboard.press("Tab")
    expect(page.locator(".maplibregl-canvas")).to_be_focused()


def map_and_its_edge(page: Page) -> bytes:
    """A picture of the map and 4 pixels around it, where a focus outline would be drawn."""
    box = page.locator("#map").bounding_box()
    return page.screenshot(
        clip={
            "x": box["x"] - 4,
            "y": box["y"] - 4,
            "width": box["width"] + 8,
            "height": box["height"] + 8,
        }
    )


def test_the_map_shows_when_it_has_focus(page, tmp_path):
    open_map(page, "?layers=districts&center=1.08,51.28&zoom=9")
    assert pixels_like(page, map_and_its_edge(page), FOCUS_YELLOW) == 0

    focus_the_map(page)

    # The GOV.UK focus colour all round the map (which would otherwise clip the outline).
    box = page.locator("#map").bounding_box()
    ring = pixels_like(page, map_and_its_edge(page), FOCUS_YELLOW)
    assert ring >= 2 * (box["width"] + box["height"]) * 2


def test_skip_to_the_map_takes_focus_to_the_map(page, tmp_path):
    """After "Skip to main content", the search and every layer's box and slider stood
    between the keyboard and the map: one Tab reaches a link that skips them."""
    open_map(page, "?layers=districts&center=1.08,51.28&zoom=9")
    page.get_by_role("link", name="Skip to main content").focus()
    page.keyboard.press("Enter")

    page.keyboard.press("Tab")

    skip = page.get_by_role("link", name="Skip to the map")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # GOV.UK's skip link shows once it has focus
    page.keyboard.press("Enter")
    expect(page.locator(".maplibregl-canvas")).to_be_focused()
    assert pixels_like(page, map_and_its_edge(page), FOCUS_YELLOW) > 0  # and shows it has
    centre = page.evaluate("() => window.infraplanMap.getCenter().lng")
    page.keyboard.press("ArrowRight")  # the map's own keys work from there
    page.wait_for_function(f"() => window.infraplanMap.getCenter().lng > {centre}")
    assert_accessible(page)


def test_skip_to_the_map_leads_to_the_picture_and_table_without_the_map(
    served_context_without_script, browser_without_webgl, demo_server
):
    """Without JavaScript, and without WebGL, the link leads to what stands in for the map:
    the next Tab reaches the table of the features in view."""
    without_script = served_context_without_script.new_page()
    without_webgl = browser_without_webgl.new_page(base_url=demo_server)
    for page in (without_script, without_webgl):
        page.goto("/map/?layers=districts")
        skip = page.get_by_role("link", name="Skip to the map")
        skip.focus()
        page.keyboard.press("Enter")

        page.keyboard.press("Tab")

        focused = page.evaluate("() => [document.activeElement.textContent,"
                                " document.activeElement.closest('#map-area') !== null]")  # fmt: skip
        assert focused == ["features in this view", True], page.url


def test_the_map_tells_keyboard_users_how_to_use_it(page):
    open_map(page, "?layers=districts&center=1.08,51.28&zoom=9")
    canvas = page.locator(".maplibregl-canvas")
    hint = page.locator("#map-keyboard-hint")

    expect(hint).to_be_visible()
    expect(canvas).to_have_accessible_description(re.compile("arrow keys.*Enter", re.S))

    centre_mark = "() => getComputedStyle(document.getElementById('map'), '::after').content"
    assert page.evaluate(centre_mark) == "none"
    page.evaluate("() => window.infraplanMap.jumpTo({center: [2.5, 51.28]})")  # the sea
    focus_the_map(page)
    assert page.evaluate(centre_mark) != "none"  # where Enter looks, marked
    page.keyboard.press("Enter")

    status = page.get_by_role("status").filter(has_text="Nothing")
    expect(status).to_have_text(re.compile("Nothing is shown at the centre of the map"))
    expect(canvas).to_be_focused()  # told, not moved
    expect(page.locator(".maplibregl-popup")).to_have_count(0)
    assert_accessible(page)


def test_the_popup_close_button_is_big_enough_to_press(page):
    open_map(page, CANTERBURY_WARDS)
    focus_the_map(page)
    page.keyboard.press("Enter")
    close = page.get_by_role("button", name="Close popup")
    expect(close).to_be_visible()

    box = close.bounding_box()

    assert box["width"] >= 24 and box["height"] >= 24  # WCAG 2.5.8
    close.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".maplibregl-popup")).to_have_count(0)
    expect(page.locator(".maplibregl-canvas")).to_be_focused()


@pytest.mark.parametrize(
    "viewport", [{"width": 320, "height": 640}, {"width": 1280, "height": 800}], ids=str
)
def test_a_popup_stays_within_the_map_and_scrolls(page, viewport, tmp_path):
    """At 320 pixels wide (or 400% zoom) a ward's pop-up is taller than half the map: it stays
    inside the map, and its last row can be scrolled to from the keyboard."""
    page.set_viewport_size(viewport)
    open_map(page, CANTERBURY_WARDS)
    focus_the_map(page)

    page.keyboard.press("Enter")

    popup = page.locator(".maplibregl-popup")
    heading = popup.get_by_role("heading", level=2)
    expect(heading).to_be_focused()
    map_box = page.locator("#map").bounding_box()
    popup_box = popup.bounding_box()
    assert popup_box["y"] >= map_box["y"] - 1
    assert popup_box["y"] + popup_box["height"] <= map_box["y"] + map_box["height"] + 1
    assert popup_box["x"] >= map_box["x"] - 1
    assert popup_box["x"] + popup_box["width"] <= map_box["x"] + map_box["width"] + 1
    # Nothing of the map's own (its zoom buttons, say) hides the close button or the heading.
    for part in (popup.get_by_role("button", name="Close popup"), heading):
        assert part.evaluate(
            "element => { const box = element.getBoundingClientRect(); return element.contains("
            "document.elementFromPoint(box.x + box.width - 2, box.y + 2)); }"
        )
    last = popup.locator(".govuk-summary-list__row").last
    expect(last).not_to_be_in_viewport()  # below the pop-up's fold

    page.keyboard.press("End")  # scrolls the pop-up, whose heading has focus

    expect(last).to_be_in_viewport()
    last_box = last.bounding_box()
    assert last_box["y"] + last_box["height"] <= map_box["y"] + map_box["height"] + 1
    map_screenshot(page, tmp_path / "popup.png")
    assert_accessible(page)


def test_escape_on_a_map_button_closes_the_popup_over_it(page):
    page.set_viewport_size({"width": 320, "height": 640})
    open_map(page, CANTERBURY_WARDS)
    focus_the_map(page)
    page.keyboard.press("Enter")
    popup = page.locator(".maplibregl-popup")
    expect(popup.get_by_role("heading", level=2)).to_be_focused()
    zoom_in = page.get_by_role("button", name="Zoom in")
    zoom_in.focus()

    page.keyboard.press("Escape")

    expect(popup).to_have_count(0)
    expect(zoom_in).to_be_focused()  # focus stays where it was
    assert "feature=" not in page.url


def test_a_search_error_is_announced(page, page_watch):
    open_map(page)
    results = page.locator("#map-search-status")
    assert results.get_attribute("aria-live") == "polite"
    search = page.locator("#map-search-q")

    search.press("Enter")  # an empty search, from the keyboard: focus does not move

    expect(results).to_have_text("Error: Enter a place, postcode, grid reference or feature name")
    expect(search).to_be_focused()

    page.route("**/search/?*", lambda route: route.fulfill(status=503, body="Unavailable"))
    search.fill("Canterbury")
    search.press("Enter")

    expect(results).to_have_text(
        "Error: Search is not working at the moment. Try again, or use the search page."
    )
    expect(page.locator("#map-search-q-error")).to_be_visible()
    assert_accessible(page)
    # The search answered 503 on purpose (the browser logs that too); nothing else failed.
    assert [failure.split(" ")[0] for failure in page_watch.failed_requests] == ["503"]
    page_watch.failed_requests.clear()
    page_watch.console_errors.clear()


def test_a_link_to_a_feature_that_is_gone_says_so(context):
    # Not the watched page: asking for a feature that does not exist answers 404, as it should.
    page = context.new_page()

    open_map(page, "?layers=districts&center=1.08,51.28&zoom=9&feature=districts/999999999")

    status = page.locator("#map-status")
    expect(status).to_have_text(
        "The feature this link points to is not available: it may have been removed, or you"
        " may not have access to it. The map shows the rest of the view."
    )
    expect(status).to_have_attribute("role", "status")
    expect(page.locator(".maplibregl-popup")).to_have_count(0)
    expect(page).not_to_have_url(re.compile("feature="))
    assert page.evaluate("() => document.activeElement === document.body")
    assert_accessible(page)


def test_the_table_of_features_leads_to_each_features_details(page):
    """Without pointing at the map (a screen reader, no WebGL): from the map page to the table,
    to a feature's details, and back to the map with its pop-up open."""
    open_map(page, "?layers=districts&center=1.08,51.28&zoom=9")
    page.get_by_role("link", name="List the features in this view").click()

    page.get_by_role("table").get_by_role("link", name="Canterbury").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Canterbury")
    expect(page).to_have_title(re.compile(r"^Canterbury \W Local authority districts"))
    ons_code = page.locator('.govuk-summary-list__row:has(dt:text-is("ONS code")) dd')
    expect(ons_code).to_have_text("E07000106")
    assert_accessible(page)

    page.get_by_role("link", name="Show Canterbury on the map").click()

    popup = page.locator(".maplibregl-popup")
    expect(popup.get_by_role("heading", name="Canterbury", level=2)).to_be_visible()
    assert "layers=districts" in page.url and "feature=districts%2F" in page.url


def test_buttons_move_the_map_without_dragging(page):
    """WCAG 2.5.7: a pointer user who cannot drag moves the map by buttons, each half a view;
    the link follows, as after a drag."""
    open_map(page, "?layers=districts&center=1.08,51.28&zoom=11")
    width = page.evaluate("() => window.infraplanMap.getBounds().getEast()") - page.evaluate(
        "() => window.infraplanMap.getBounds().getWest()"
    )

    page.get_by_role("button", name="Move the map east").click()
    page.locator('#map[data-map-idle="true"]').wait_for()
    lon, lat = page.evaluate("() => window.infraplanMap.getCenter().toArray()")
    expect(page).to_have_url(re.compile(rf"center={lon:.5f}%2C51\.28000"))
    assert lon == pytest.approx(1.08 + width / 2, abs=0.001) and lat == pytest.approx(
        51.28, abs=1e-4
    )

    page.get_by_role("button", name="Move the map north").click()
    page.locator('#map[data-map-idle="true"]').wait_for()
    assert page.evaluate("() => window.infraplanMap.getCenter().lat") > 51.3
    for direction in ("west", "south"):
        button = page.get_by_role("button", name=f"Move the map {direction}")
        box = button.bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24  # WCAG 2.5.8
        button.click()
        page.locator('#map[data-map-idle="true"]').wait_for()
    lon, lat = page.evaluate("() => window.infraplanMap.getCenter().toArray()")
    assert lon == pytest.approx(1.08, abs=0.001) and lat == pytest.approx(51.28, abs=0.001)
