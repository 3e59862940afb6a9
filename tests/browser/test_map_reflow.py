"""The map page in a narrow window with a reader's own text spacing (WCAG 1.4.10 with 1.4.12):
nothing in the layer panel makes the page scroll sideways."""

import pytest
from playwright.sync_api import expect

from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import assert_accessible, assert_no_sideways_scroll
from .test_catalogue_loads import TEXT_SPACING

pytestmark = pytest.mark.browser


def test_an_open_layer_group_fits_320_pixels_with_text_spacing(browser, live_server, personas):
    """Each layer group's fieldset is named by a legend hidden from sight; GOV.UK lays legends
    out as tables, which grow to their text, so the longest theme's name, kept on one line,
    ran past the window's edge once spaced out."""
    dataset = dataset_make(
        slug="conservation-areas", owner=personas.organisation_a, theme="designations"
    )
    version_publish_points(dataset=dataset, points={"A": (615000, 157500)})
    # The reader's style sheet is the test's own: the service's CSP would (rightly) refuse it.
    context = browser.new_context(
        base_url=live_server.url,
        bypass_csp=True,
        viewport={"width": 320, "height": 640},
        reduced_motion="reduce",
    )
    try:
        page = context.new_page()
        page.goto("/map/?layers=&center=1.08,51.28&zoom=12")
        page.locator('#map[data-map-idle="true"]').wait_for()
        page.add_style_tag(content=TEXT_SPACING)
        page.get_by_text("Designations and constraints", exact=True).click()

        group = page.get_by_role("group", name="Designations and constraints layers")
        expect(group.get_by_role("checkbox", name="Conservation areas")).to_be_visible()
        assert_no_sideways_scroll(page)
        assert_accessible(page)
    finally:
        context.close()
