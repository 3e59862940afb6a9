"""The catalogue pages in a real browser: WCAG 2.2 A/AA by axe, no CSP violation, no JavaScript
error, no failed request; and the style form's error summary and success banner."""

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points

from .conftest import PageWatch, assert_accessible, assert_page_sound, sign_in

pytestmark = pytest.mark.browser

SERVICE = "Kent and Medway Infrastructure Map"
DASH = "\N{EN DASH}"


def check_page(context: BrowserContext, path: str, title: str, heading: str) -> None:
    """Open ``path`` in a new tab, open every details element, and check everything."""
    page_watch = PageWatch()
    page = page_watch.attach(context.new_page())
    try:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        expect(page).to_have_title(f"{title} {DASH} {SERVICE}")
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.locator("body")).to_have_class(
            "govuk-template__body js-enabled govuk-frontend-supported"
        )
        assert_page_sound(page, page_watch)
    finally:
        page.close()


def test_catalogue_pages_anonymous(served_context, subtests):
    pages = {
        "/datasets/": ("Datasets", "Datasets"),
        "/datasets/?q=no-such-words&theme=flood": ("Datasets", "Datasets"),
        "/datasets/?theme=nonsense": ("Error: Datasets", "Datasets"),
        "/datasets/districts/": ("Local authority districts", "Local authority districts"),
    }
    for path, (title, heading) in pages.items():
        with subtests.test(path=path):
            check_page(served_context, path, title, heading)


def test_catalogue_pages_for_a_data_manager(served_page, served_context, subtests):
    sign_in(served_page, "data-manager@a.example")
    pages = {
        "/datasets/": ("Datasets", "Datasets"),
        "/datasets/a-only-sites/": ("A only sites", "A only sites"),
        "/datasets/a-only-sites/style/": ("Map style of A only sites", "Map style"),
        "/datasets/a-only-sites/details/": ("Details of A only sites", "Details"),
        "/datasets/new/": ("Add a dataset", "Add a dataset"),
    }
    for path, (title, heading) in pages.items():
        with subtests.test(path=path):
            check_page(served_context, path, title, heading)


def test_style_form_errors_then_saves(page: Page, restricted):
    """On the live server with its own data, not the shared demo server: saving changes the
    dataset's style, which the other tests read."""
    sign_in(page, "data-manager@a.example")
    page.goto("/datasets/a-only-sites/style/")
    page.get_by_role("radio", name="A colour for each value of a field").check()
    page.get_by_label("Field", exact=True).select_option("name")
    page.get_by_label("Category 1 value").fill("station")
    page.get_by_label("Category 1 colour").fill("green")
    page.get_by_label("Category 1 label").fill("Station")
    page.get_by_role("button", name="Save style").click()

    expect(page).to_have_title(f"Error: Map style of A only sites {DASH} {SERVICE}")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    error = summary.get_by_role("link", name="Category 1 colour: Enter the colour as #")
    expect(error).to_have_attribute("href", "#id_category-0-colour")
    # What was typed is kept.
    expect(page.get_by_label("Category 1 value")).to_have_value("station")
    assert_accessible(page)

    page.get_by_label("Category 1 colour").fill("#1d70b8")
    page.get_by_role("button", name="Save style").click()

    expect(page).to_have_url(f"{page.url.split('/datasets/')[0]}/datasets/a-only-sites/")
    banner = page.locator(".govuk-notification-banner--success")
    expect(banner).to_contain_text("The style of A only sites has been saved.")
    expect(page.locator('[aria-labelledby="legend-heading"]')).to_contain_text("Station")
    assert_accessible(page)


def test_a_fields_type_is_refused_then_changed_on_the_details_page(page: Page, personas):
    """The fields table's selects, their error summary and the success banner, with axe."""
    sites = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "name", "type": "string"}, {"name": "homes", "type": "string"}],
    )  # fmt: skip
    version_publish_points(
        dataset=sites, points=ASHFORD_POINTS,
        properties={reference: {"homes": "about 40"} for reference in list(ASHFORD_POINTS)[:1]},
    )  # fmt: skip
    sign_in(page, "data-manager@a.example")
    page.goto("/datasets/sites/details/")
    assert_accessible(page)
    page.get_by_label("Type of homes").select_option("number")
    page.get_by_role("button", name="Change the types").click()

    expect(page).to_have_title(f"Error: Details of Sites {DASH} {SERVICE}")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    link = summary.get_by_role("link", name="Type of homes: 1 feature has a value that is not")
    expect(link).to_have_attribute("href", "#id_type-1")
    assert_accessible(page)

    page.get_by_label("Type of homes").select_option("string")
    page.get_by_label("Type of name").select_option("string")
    page.get_by_label("Field name").fill("status")
    page.get_by_role("button", name="Add the field").click()
    banner = page.locator(".govuk-notification-banner--success")
    expect(banner).to_contain_text("status is now a field of type text")
    assert_accessible(page)
