"""Search in a real browser: the map's search box flies to what it finds and marks it, errors
are shown as GOV.UK error messages, and the search page works without JavaScript."""

import re

import pytest
from playwright.sync_api import Page, expect

from infraplan.core.coordinates import coordinate_examples

from .conftest import CONTEXT, assert_accessible

pytestmark = pytest.mark.browser

# CT1 2EH in ONSPD (Nov 2025): 51.278809 N, 1.083457 E.
CT1_2EH = (1.083457, 51.278809)
# What a result's link marks on the map: the postcode's place, and its name.
MARKED = "marker=1.083457%2C51.278809&marker_label=CT1+2EH"


@pytest.fixture
def context(served_context):
    """Every test here only reads: all run against the demo server, whose database holds the
    districts, the wards and the sample postcodes (``page`` opens in this context too)."""
    return served_context


def open_map(page: Page) -> None:
    page.goto("/map/")
    page.locator('#map[data-map-idle="true"]').wait_for()


def search_map(page: Page, query: str) -> None:
    page.locator("#map-search-q").fill(query)
    page.locator("#map-search-q").press("Enter")


def map_centre_after_move(page: Page) -> tuple[float, float]:
    """The map's centre once the flight to a result has ended."""
    return tuple(
        page.evaluate(
            """() => new Promise(resolve => {
                const map = window.infraplanMap;
                const done = () => resolve([map.getCenter().lng, map.getCenter().lat]);
                if (map.isMoving()) map.once("moveend", done); else done();
            })"""
        )
    )


def test_the_map_search_flies_to_a_postcode_and_marks_it(page):
    open_map(page)
    search_map(page, "ct1 2eh")

    results = page.locator("#map-search-results")
    expect(results.get_by_role("heading")).to_have_text("1 result for “ct1 2eh”")
    expect(results.get_by_role("link", name="CT1 2EH")).to_have_attribute(
        "aria-current", "location"
    )
    # Screen readers hear one sentence, not the list (WCAG 4.1.3): the list is not live.
    status = page.locator("#map-search-status")
    assert status.get_attribute("aria-live") == "polite"
    expect(status).to_have_text("1 result for “ct1 2eh”. The map shows the first: CT1 2EH.")
    assert results.get_attribute("aria-live") is None
    expect(page.locator("[data-search-marker]")).to_be_visible()
    assert map_centre_after_move(page) == pytest.approx(CT1_2EH, abs=1e-4)
    marker = page.evaluate(
        "() => { const box = document.querySelector('[data-search-marker]')"
        ".getBoundingClientRect(); return [box.x + box.width / 2, box.y + box.height]; }"
    )
    at = page.evaluate(
        "([x, y]) => { const map = window.infraplanMap; const r = map.getContainer()"
        ".getBoundingClientRect(); const p = map.unproject([x - r.x, y - r.y]);"
        " return [p.lng, p.lat]; }",
        marker,
    )
    assert at == pytest.approx(CT1_2EH, abs=2e-4)  # the pin's tip is on the postcode
    assert_accessible(page)


def test_choosing_another_result_flies_there(page):
    open_map(page)
    search_map(page, "ford")  # two districts' names end so, and some wards' names hold it

    links = page.locator("#map-search-results").get_by_role("link")
    expect(links.first).to_have_text("Ashford")  # districts come before wards
    expect(links.nth(1)).to_have_text("Dartford")
    expect(links.filter(has_text="Washford")).to_have_count(1)
    expect(links.first).to_have_attribute("aria-current", "location")
    expect(page.locator("#map-search-status")).to_contain_text(
        "The map shows the first: Ashford. The results are listed after the search box."
    )
    ashford = map_centre_after_move(page)
    links.nth(1).click()
    expect(links.nth(1)).to_have_attribute("aria-current", "location")
    expect(links.first).not_to_have_attribute("aria-current", "location")
    dartford = map_centre_after_move(page)
    assert dartford[0] < ashford[0] - 0.3  # Dartford lies well west of Ashford
    assert page.url.split("?")[0].endswith("/map/")  # the page stayed; the map moved


def test_the_map_search_finds_a_ward_and_flies_to_it(page):
    open_map(page)
    search_map(page, "Washford")

    results = page.locator("#map-search-results")
    expect(results.get_by_role("heading")).to_have_text("1 result for “Washford”")
    expect(results.get_by_role("link", name="Washford")).to_have_attribute(
        "aria-current", "location"
    )
    expect(results).to_contain_text("Ward")
    longitude, latitude = map_centre_after_move(page)
    # Within the ward's extent (the 2023 boundary file: 0.838-0.854 E, 51.126-51.138 N).
    assert 0.838 < longitude < 0.854 and 51.126 < latitude < 51.138
    assert_accessible(page)


def test_the_map_search_says_when_only_the_first_results_are_listed(page):
    open_map(page)
    search_map(page, "e")

    results = page.locator("#map-search-results")
    expect(results.get_by_role("heading")).to_have_text("10 results for “e”")
    expect(results).to_contain_text(
        "Only the first 10 are listed: add a word, such as a town or a kind of place, to find "
        "others."
    )
    search_map(page, "Washford")
    expect(results.get_by_role("heading")).to_have_text("1 result for “Washford”")
    expect(results).not_to_contain_text("Only the first")


def test_a_new_search_clears_what_the_last_one_showed(page):
    open_map(page)
    search_map(page, "CT1 2EH")
    marker = page.locator("[data-search-marker]")
    expect(marker).to_be_visible()
    results = page.locator("#map-search-results")

    search_map(page, "Atlantis")  # nothing found: the last result's marker goes
    expect(results).to_contain_text("Nothing found for “Atlantis”")
    expect(page.locator("#map-search-status")).to_have_text(
        "Nothing found for “Atlantis”. What you can search for is listed after the search box."
    )
    expect(marker).to_have_count(0)

    search_map(page, "CT1 2EH")
    expect(marker).to_be_visible()
    search_map(page, "")  # an empty search: its error, and nothing of the last search
    expect(page.locator("#map-search-q-error")).to_contain_text("Enter a place")
    expect(results.get_by_role("link")).to_have_count(0)
    expect(marker).to_have_count(0)


def test_the_map_search_explains_a_malformed_grid_reference_and_nothing_found(page):
    open_map(page)
    search_map(page, "TR 150 57")
    error = page.locator("#map-search-q-error")
    expect(error).to_contain_text("the easting and northing must have the same number of digits")
    assert "map-search-q-error" in page.locator("#map-search-q").get_attribute("aria-describedby")
    assert_accessible(page)

    search_map(page, "Atlantis")
    expect(error).to_have_count(0)
    results = page.locator("#map-search-results")
    expect(results).to_contain_text("Nothing found for “Atlantis”")
    # The examples are of the deployment's own area (the centre of its profile's map).
    example = coordinate_examples().grid_reference
    expect(results).to_contain_text(f"a grid reference, like {example}")
    assert_accessible(page)


def test_the_map_search_says_when_its_results_answer_only_some_words(page):
    """As the search page does: a word nothing holds is left out, and the results say so."""
    open_map(page)
    search_map(page, "Westgate xyzzy")
    results = page.locator("#map-search-results")
    expect(results.locator("#map-search-note")).to_have_text(
        "Nothing found has “xyzzy”: these results are for the other words."
    )
    expect(results.get_by_role("link").first).to_contain_text("Westgate")
    assert_accessible(page)


def test_the_search_results_open_the_map_with_the_layers_shown_now(page):
    """The search form's hidden ``layers`` kept the layers the page opened with: after the
    layers shown changed, its results' links (and the search page's, where the form goes
    without its script) opened the map with the old ones."""
    page.goto("/map/?layers=districts&as_of=2001-01-01")
    page.locator('#map[data-map-idle="true"]').wait_for()
    page.get_by_role("checkbox", name="Local authority districts").uncheck()
    page.get_by_role("checkbox", name="Electoral wards (December 2023)").check()
    chosen = "layers=wards&as_of=2001-01-01"

    search_map(page, "CT1 2EH")

    result = page.locator("#map-search-results").get_by_role("link", name="CT1 2EH")
    expect(result).to_have_attribute(
        "href", f"/map/?center=1.08346%2C51.27881&zoom=16&{chosen}&{MARKED}"
    )
    # Sent as the form goes without the search script: to the search page, whose links keep
    # the same.
    page.evaluate("() => document.getElementById('map-search').submit()")
    page.wait_for_url(f"**/search/?q=CT1+2EH&{chosen}")
    expect(page.get_by_role("link", name="CT1 2EH")).to_have_attribute(
        "href", f"/map/?center=1.08346%2C51.27881&zoom=16&{chosen}&{MARKED}"
    )


def test_the_search_page_works_without_javascript(browser, demo_server):
    """The search page's results open the map with the layers and date it was showing."""
    context = browser.new_context(base_url=demo_server, java_script_enabled=False, **CONTEXT)
    page = context.new_page()
    chosen = "layers=wards&as_of=2001-01-01&ended=show"
    page.goto(f"/map/?{chosen}")
    page.locator("#map-search-q").fill("CT1 2EH")
    page.locator("#map-search-q").press("Enter")
    page.wait_for_url(f"**/search/?q=CT1+2EH&{chosen}")
    expect(page.locator("#search-results-title")).to_have_text("1 result for “CT1 2EH”")
    page.get_by_role("link", name="CT1 2EH").click()
    page.wait_for_url(f"**/map/?center=1.08346%2C51.27881&zoom=16&{chosen}&{MARKED}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Map as published on 1 January 2001")
    expect(page.locator("#layer-wards")).to_be_checked()
    expect(page.locator("#layer-districts")).not_to_be_checked()
    expect(page.locator("#ended")).to_be_checked()
    context.close()


def test_without_webgl_the_search_box_results_keep_the_layers_and_date(
    browser_without_webgl, demo_server
):
    context = browser_without_webgl.new_context(base_url=demo_server, **CONTEXT)
    page = context.new_page()
    chosen = "layers=wards&as_of=2001-01-01&ended=show"
    page.goto(f"/map/?{chosen}")
    expect(page.locator("#map-fallback")).to_be_visible()
    page.locator("#map-search-q").fill("CT1 2EH")
    page.locator("#map-search-q").press("Enter")  # answered by the script, on the page
    result = page.locator("#map-search-results").get_by_role("link", name="CT1 2EH")
    expect(result).to_have_attribute(
        "href", f"/map/?center=1.08346%2C51.27881&zoom=16&{chosen}&{MARKED}"
    )
    context.close()


def page_fits_across(page: Page) -> bool:
    """Whether the page fits the window's width, with nothing to scroll sideways."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_a_long_search_wraps_instead_of_widening_the_page(page):
    """A 200-character word echoed back must wrap (WCAG 1.4.10 reflow), on the search page and
    in the map's search box."""
    query = "x" * 200
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"/search/?q={query}")
    expect(page.get_by_role("heading", name=f"Nothing found for “{query}”")).to_be_visible()
    assert page_fits_across(page)
    assert_accessible(page)

    open_map(page)
    search_map(page, query)
    expect(page.locator("#map-search-results")).to_contain_text(f"Nothing found for “{query}”")
    assert page_fits_across(page)


@pytest.mark.parametrize("query", ["", "Canterbury", "Atlantis", "TR 150 57"])
def test_the_search_page_is_accessible(page, query):
    page.goto(f"/search/?q={query}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Search")
    assert_accessible(page)


def test_a_postcode_that_does_not_exist_offers_postcodes_like_it(page):
    """CT1 2EI is shaped like a postcode but is none (no inward code has an I): the search
    page says so and lists postcodes like it to choose from, accessibly; the map's search box
    says so and leaves the map unmarked."""
    page.goto("/search/?q=CT1 2EI")
    expect(page.locator(".govuk-error-summary")).to_contain_text("There is no postcode CT1 2EI.")
    suggestions = page.get_by_role("list", name="Postcodes like “CT1 2EI”")
    expect(suggestions.get_by_role("link", name="CT1 2EH")).to_be_visible()
    expect(suggestions.get_by_role("link", name="CT1 2", exact=True)).to_be_visible()
    assert_accessible(page)

    open_map(page)
    search_map(page, "CT1 2EI")
    expect(page.locator("#map-search-q-error")).to_contain_text("There is no postcode CT1 2EI.")
    expect(page.locator("[data-search-marker]")).to_have_count(0)
    # The map's box lists them too; choosing one marks it. Each reads "CT1 2EH, Postcode".
    suggestions = page.get_by_role("list", name="Postcodes like “CT1 2EI”")
    expect(suggestions.locator("li").first).to_contain_text(", ")
    count = suggestions.locator("li").count()
    expect(page.locator("#map-search-status")).to_have_text(
        f"Error: There is no postcode CT1 2EI. {count} postcodes like it are listed after the "
        "search box."
    )
    suggestions.get_by_role("link", name="CT1 2EH").click()
    expect(page).to_have_url(re.compile(r"marker_label=CT1(\+|%20)2EH"))
    assert_accessible(page)
