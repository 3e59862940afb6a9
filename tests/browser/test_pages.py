"""Every user-facing page, anonymous and signed in: WCAG 2.2 A/AA by axe, no CSP violation, no
JavaScript error, no failed request; and proof that those checks can fail."""

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from playwright.sync_api import Error as PlaywrightError

from .conftest import (
    AXE_SOURCE,
    PageWatch,
    assert_accessible,
    assert_page_sound,
    axe_violations,
    sign_in,
)

pytestmark = pytest.mark.browser

SERVICE = "Kent and Medway Infrastructure Map"
DASH = "\N{EN DASH}"  # the page title separator
PAGES = {  # path: (page title, main heading)
    "/": ("Home", SERVICE),
    "/map/": ("Map", "Map"),
    "/accessibility/": ("Accessibility statement", f"Accessibility statement for {SERVICE}"),
    "/privacy/": ("Privacy notice", "Privacy notice"),
    "/cookies/": ("Cookies", "Cookies"),
    "/accounts/login/": ("Sign in", "Sign in"),
}
SIGNED_IN_PAGES = [path for path in PAGES if path != "/accounts/login/"]  # it redirects home


@pytest.fixture
def context(served_context):
    """Every test here only reads: all run against the demo server (``page`` opens in this
    context too)."""
    return served_context


def open_page(page: Page, path: str) -> None:
    """Open ``path`` and wait until its scripts have run (and the map, if any, has drawn)."""
    title, heading = PAGES[path]
    response = page.goto(path)
    assert response is not None and response.status == 200, (
        f"{path}: {response and response.status}"
    )
    expect(page).to_have_title(f"{title} {DASH} {SERVICE}")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    # app.mjs marks the body once GOV.UK Frontend has started: proof that the module script ran
    # under the CSP.
    expect(page.locator("body")).to_have_class(
        "govuk-template__body js-enabled govuk-frontend-supported"
    )
    if path == "/map/":
        page.locator('#map[data-map-idle="true"]').wait_for()


def check_page(context: BrowserContext, path: str, *, signed_in: bool) -> None:
    """Open ``path`` in a new tab of ``context`` and check everything the suite promises."""
    page_watch = PageWatch()
    page = page_watch.attach(context.new_page())
    try:
        open_page(page, path)
        if signed_in:
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        else:
            expect(page.get_by_role("link", name="Sign in")).to_be_visible()
        assert_page_sound(page, page_watch)
    finally:
        page.close()


# One test per visitor with a subtest per page: each page's failures are reported on their own.
def test_pages_anonymous(context, subtests):
    for path in PAGES:
        with subtests.test(path=path):
            check_page(context, path, signed_in=False)


def test_pages_signed_in(page, context, subtests):
    sign_in(page, "viewer@a.example")
    for path in SIGNED_IN_PAGES:
        with subtests.test(path=path):
            check_page(context, path, signed_in=True)


def test_home_page_signed_in_counts_what_the_organisation_shares(page):
    page.goto("/")
    # The districts and the wards are public; a-only-sites is organisation A's.
    expect(page.get_by_text("You can see 2 datasets without signing in")).to_be_visible()

    sign_in(page, "viewer@a.example")

    assert page.url.endswith("/")
    expect(page.get_by_text("You can see 3 datasets.", exact=True)).to_be_visible()
    assert_accessible(page)


def test_failed_sign_in_shows_an_accessible_error_summary(page, page_watch):
    page.goto("/accounts/login/")
    # An address with no account: the error is the same as for a wrong password (no page tells
    # whether an address has an account), and no persona's account records a failure.
    page.get_by_label("Email address").fill("nobody@a.example")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_title(f"Error: Sign in {DASH} {SERVICE}")
    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_role("alert")).to_contain_text("There is a problem")
    error = summary.get_by_role("link", name="The email address or password is not correct.")
    expect(error).to_have_attribute("href", "#id_login")
    # GOV.UK Frontend moves focus to the summary, so screen reader users hear it first.
    expect(summary).to_be_focused()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert_accessible(page)
    page_watch.assert_clean()


def test_the_checks_can_fail(context):
    """What the checks above would see: an inline script is blocked and reported as a CSP
    violation, axe (injected despite the CSP) finds an image without alternative text, and a
    missing page counts as a failed request."""
    page_watch = PageWatch()
    page = page_watch.attach(context.new_page())
    page.goto("/privacy/")
    assert axe_violations(page) == []

    with pytest.raises(PlaywrightError, match="violates the following Content Security Policy"):
        page.add_script_tag(content="window.inlineScriptRan = true;")
    assert page.evaluate("window.inlineScriptRan") is None
    assert any("script-src" in message for message in page_watch.csp_violations)

    page.evaluate("document.querySelector('main').append(document.createElement('img'))")
    assert f"axe v{page.evaluate('axe.version')}" in AXE_SOURCE[:40]
    assert [violation["id"] for violation in axe_violations(page)] == ["image-alt"]
    with pytest.raises(AssertionError, match="image-alt"):
        assert_accessible(page)

    page.goto("/no-such-page/")
    assert any(
        "404 GET" in failure and "/no-such-page/" in failure
        for failure in page_watch.failed_requests
    )
    with pytest.raises(AssertionError):
        page_watch.assert_clean()
