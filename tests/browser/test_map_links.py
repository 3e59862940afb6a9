"""Web addresses in a feature's properties are links in its pop-up, opening in a new tab so the
map stays open (axe, CSP, no failed request); anything else stays text."""

import json

import pytest
from playwright.sync_api import Page, Route, expect

from infraplan.catalogue.models import Feature
from infraplan.core.testing.data import demo_dataset_load

from .conftest import assert_accessible

pytestmark = pytest.mark.browser

# A site of the demo brownfield registers, with its site plan as the register publishes it.
SITE_LON, SITE_LAT = 0.859348, 51.140725
SITE_ADDRESS = "Former Ashford South Primary School"
SITE_PLAN = "https://www.ashford.gov.uk/media/5754/be16.pdf"


def open_site_popup(page: Page) -> None:
    page.goto(f"/map/?layers=brownfield-land&center={SITE_LON},{SITE_LAT}&zoom=15")
    page.locator('#map[data-map-idle="true"]').wait_for()
    box = page.locator("#map").bounding_box()
    at = page.evaluate(
        "([lon, lat]) => window.infraplanMap.project([lon, lat])", [SITE_LON, SITE_LAT]
    )
    page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])
    popup = page.locator(".maplibregl-popup")
    expect(popup.get_by_role("heading", name=SITE_ADDRESS, level=2)).to_be_focused()


def test_a_sites_plan_is_a_link_in_its_popup_that_opens_in_a_new_tab(page: Page, context):
    demo_dataset_load("brownfield-land")
    # The plan is answered here: tests never reach the internet.
    context.route(SITE_PLAN, lambda route: route.fulfill(body="The site plan"))

    open_site_popup(page)

    popup = page.locator(".maplibregl-popup")
    link = popup.get_by_role("link", name=f"{SITE_PLAN} (opens in new tab)")
    expect(link).to_have_attribute("href", SITE_PLAN)
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noreferrer noopener")
    expect(link).to_have_class("govuk-link govuk-!-text-break-word")
    address = popup.locator('.govuk-summary-list__row:has(dt:text-is("Site address")) dd')
    expect(address).to_have_text(SITE_ADDRESS)
    expect(address.locator("a")).to_have_count(0)
    assert_accessible(page)

    with context.expect_page() as opened:
        link.click()
    assert opened.value.url == SITE_PLAN
    expect(opened.value.locator("body")).to_have_text("The site plan")
    assert page.url.split("?")[0].endswith("/map/")  # the map stays open where it was
    expect(popup.get_by_role("heading", name=SITE_ADDRESS, level=2)).to_be_visible()


def test_a_popup_makes_no_link_of_an_address_that_is_not_http(page: Page):
    """The map's script checks what the server marks as an address before it becomes a link:
    an answer naming a ``javascript:`` address, or markup, shows it as text."""
    demo_dataset_load("brownfield-land")
    trap = "javascript:alert(document.cookie)"
    markup = '<img src="x" alt="">https://example.org/'

    def answer_with_traps(route: Route) -> None:
        detail = route.fetch().json()
        detail["rows"] += [["Trap", trap, trap], ["Markup", markup, None]]
        route.fulfill(json=detail)

    page.route("**/datasets/brownfield-land/features/*.json*", answer_with_traps)

    open_site_popup(page)

    popup = page.locator(".maplibregl-popup")
    for key, text in (("Trap", trap), ("Markup", markup)):
        value = popup.locator(f'.govuk-summary-list__row:has(dt:text-is("{key}")) dd')
        expect(value).to_have_text(text)
        assert value.evaluate("element => element.children.length") == 0, json.dumps(text)
    expect(popup.get_by_role("link", name=f"{SITE_PLAN} (opens in new tab)")).to_be_visible()


def test_a_sites_page_links_its_plan_as_its_popup_does(page: Page):
    """The page of a feature, for people who do not use the map (it needs no script)."""
    demo_dataset_load("brownfield-land")
    site = Feature.objects.get(reference="local-authority-eng:ASF/BE16", valid_to__isnull=True)

    page.goto(f"/datasets/brownfield-land/features/{site.pk}/")

    link = page.get_by_role("link", name=f"{SITE_PLAN} (opens in new tab)")
    expect(link).to_have_attribute("href", SITE_PLAN)
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noreferrer noopener")
    assert_accessible(page)
