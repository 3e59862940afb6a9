"""Ended features on the map in a real browser: hidden by default, shown on request and then
labelled as ended in the pop-up (axe, CSP, no failed request)."""

import re

import pytest
from django.contrib.gis.geos import Point
from playwright.sync_api import Page, expect

from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import assert_accessible

pytestmark = pytest.mark.browser

DEPOT = (601650, 142180)  # BNG easting, northing
CENTRE = (601300, 142700)


@pytest.fixture
def register(personas):
    """Public sites: the depot ended on 1 March 2020 (as planning.data.gov.uk says it)."""
    dataset = dataset_make(
        slug="register", owner=personas.organisation_a,
        field_schema=[{"name": "name", "type": "string", "title": "Name"}],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset, points={"civic-centre": CENTRE, "depot": DEPOT},
        properties={"depot": {"end-date": "2020-03-01"}},
    )  # fmt: skip
    return dataset


def lon_lat(easting: float, northing: float) -> tuple[float, float]:
    point = Point(easting, northing, srid=27700).transform(4326, clone=True)
    return point.x, point.y


def drawn(page: Page) -> list[str]:
    return sorted(
        page.evaluate(
            "() => window.infraplanMap.queryRenderedFeatures({layers: ['register-point']})"
            ".map(f => f.properties.reference)"
        )
    )


def test_ended_features_are_hidden_until_asked_for_then_labelled(page: Page, register):
    lon, lat = lon_lat(*DEPOT)
    view = f"layers=register&center={lon:.5f},{lat:.5f}&zoom=14"
    page.goto(f"/map/?{view}")
    page.locator('#map[data-map-idle="true"]').wait_for()
    assert drawn(page) == ["civic-centre"]

    page.get_by_role("checkbox", name="Show ended features").check()
    page.get_by_role("button", name="Show this date").click()
    page.locator('#map[data-map-idle="true"]').wait_for()
    assert drawn(page) == ["civic-centre", "depot"]
    assert "ended=show" in page.url

    box = page.locator("#map").bounding_box()
    at = page.evaluate("([lon, lat]) => window.infraplanMap.project([lon, lat])", [lon, lat])
    page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])

    popup = page.locator(".maplibregl-popup")
    expect(popup.get_by_role("heading", name="depot")).to_be_focused()
    rows = popup.locator(".govuk-summary-list__row")
    expect(rows.filter(has_text=re.compile("^Ended"))).to_contain_text("2020-03-01")
    assert_accessible(page)


def test_a_link_shared_before_the_feature_changed_opens_it_as_it_is_now(page: Page, register):
    from infraplan.catalogue.store import current_features

    shared = current_features(register).get(reference="civic-centre").pk
    version_publish_points(
        dataset=register, points={"civic-centre": CENTRE, "depot": DEPOT},
        properties={"civic-centre": {"name": "Civic Centre"}, "depot": {"end-date": "2020-03-01"}},
    )  # fmt: skip
    now = current_features(register).get(reference="civic-centre").pk
    lon, lat = lon_lat(*CENTRE)

    page.goto(f"/map/?layers=register&center={lon:.5f},{lat:.5f}&zoom=14&feature=register/{shared}")
    page.locator('#map[data-map-idle="true"]').wait_for()

    popup = page.locator(".maplibregl-popup")
    expect(popup).to_contain_text("Civic Centre")
    expect(page).to_have_url(re.compile(f"feature=register%2F{now}(&|$)"))
    assert now != shared


def test_a_datasets_attribution_is_shown_as_text_never_as_a_link(page: Page, register):
    """The attribution is what a data manager typed: on the map it must not become a link to
    another site (a phishing page telling officers to sign in again)."""
    typed = 'Ashford <a href="https://evil.example/login">Your session has expired</a>'
    register.attribution = typed
    register.save(update_fields=["attribution"])
    lon, lat = lon_lat(*CENTRE)
    page.goto(f"/map/?layers=register&center={lon:.5f},{lat:.5f}&zoom=14")
    page.locator('#map[data-map-idle="true"]').wait_for()

    attribution = page.locator(".maplibregl-ctrl-attrib-inner")
    expect(attribution).to_contain_text(typed)
    assert attribution.locator("a[href*='evil.example']").count() == 0
    assert_accessible(page)


def test_a_link_to_a_feature_that_has_ended_says_when_and_how_to_show_it(
    page: Page, page_watch, register
):
    from infraplan.catalogue.store import current_features

    depot = current_features(register).get(reference="depot").pk
    lon, lat = lon_lat(*DEPOT)
    page.goto(f"/map/?layers=register&center={lon:.5f},{lat:.5f}&zoom=14&feature=register/{depot}")
    page.locator('#map[data-map-idle="true"]').wait_for()

    expect(page.locator("#map-status")).to_have_text(
        "The feature this link points to is hidden: depot ended on 1 March 2020. Features that"
        ' have ended are hidden unless ended features are shown. To show it, tick "Show ended'
        ' features" and choose "Show this date". The map shows the rest of the view.'
    )
    expect(page.locator(".maplibregl-popup")).to_have_count(0)
    expect(page).to_have_url(re.compile(f"feature=register%2F{depot}(&|$)"))
    assert_accessible(page)
    # The pop-up's request for it answered 404, as it should; the browser logs that.
    assert [failure.split(" ")[0] for failure in page_watch.failed_requests] == ["404"]
    page_watch.failed_requests.clear()
    page_watch.console_errors.clear()

    page.get_by_role("checkbox", name="Show ended features").check()
    page.get_by_role("button", name="Show this date").click()
    page.locator('#map[data-map-idle="true"]').wait_for()

    popup = page.locator(".maplibregl-popup")
    expect(popup.get_by_role("heading", name="depot")).to_be_visible()
    # One layers parameter, as the map's own links write it.
    assert re.search(r"\?layers=register&", page.url) and page.url.count("layers=") == 1
    assert "ended=show" in page.url


def test_an_ended_features_page_says_so_and_leads_to_it_shown(page: Page, page_watch, register):
    from infraplan.catalogue.store import current_features

    depot = current_features(register).get(reference="depot").pk
    response = page.goto(f"/datasets/register/features/{depot}/")

    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("depot has ended")
    assert_accessible(page)
    page_watch.failed_requests.clear()  # the page itself answered 404, as it should
    page_watch.console_errors.clear()

    page.get_by_role("link", name="Show depot, with the features that have ended").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("depot")
    expect(page.locator(".govuk-summary-list")).to_contain_text("2020-03-01")
