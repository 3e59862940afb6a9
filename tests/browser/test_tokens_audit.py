"""The tokens pages and the audit log viewer in a real browser: WCAG 2.2 A/AA by axe, no CSP
violation, no JavaScript error; a token made, used and revoked through the pages."""

import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect

from infraplan.accounts.testing import session_two_factor_record

from .conftest import PageWatch, assert_page_sound, sign_in

pytestmark = pytest.mark.browser

SERVICE = "Kent and Medway Infrastructure Map"
DASH = "\N{EN DASH}"


def expect_title(page: Page, title: str) -> None:
    expect(page).to_have_title(f"{title} {DASH} {SERVICE}")


def expect_refused(watch: PageWatch, path: str) -> None:
    """The last response was the form sent back with its errors (400), as it should be; the
    browser reports that status in the console too."""
    assert watch.failed_requests and watch.failed_requests[-1].startswith("400 "), (
        watch.failed_requests
    )
    assert path in watch.failed_requests.pop()
    assert watch.console_errors and "status of 400" in watch.console_errors[-1]
    assert path in watch.console_errors.pop()


def tile_status(live_server, secret: str) -> int:
    request = urllib.request.Request(  # noqa: S310 (the live server's http URL)
        f"{live_server.url}/tiles/a-only-sites/12/2057/1368.mvt",
        headers={"Authorization": f"Bearer {secret}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_make_use_and_revoke_a_token(page: Page, page_watch, live_server, restricted):
    sign_in(page, "viewer@a.example")
    expect(page.get_by_role("link", name="Audit log")).to_have_count(0)  # admins only
    page.get_by_role("link", name="API tokens").click()
    expect_title(page, "API tokens")
    expect(page.get_by_text("You have no tokens.")).to_be_visible()
    assert_page_sound(page, page_watch)

    page.get_by_role("button", name="Create a token").click()
    expect_title(page, "Create an API token")
    assert_page_sound(page, page_watch)
    page.get_by_role("button", name="Create token").click()
    expect_title(page, "Error: Create an API token")
    expect_refused(page_watch, "/accounts/tokens/new/")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name="Name: Enter a name for the token")).to_be_visible()
    assert_page_sound(page, page_watch)

    page.get_by_label("Name").fill("QGIS on my laptop")
    page.get_by_label("Read only").check()
    page.get_by_label("30 days").check()
    page.get_by_role("button", name="Create token").click()
    expect_title(page, "Your new API token")
    secret = page.get_by_label("Token").input_value()
    assert secret.startswith("ipt_")
    assert_page_sound(page, page_watch)
    assert tile_status(live_server, secret) == 200

    page.get_by_role("link", name="Back to your tokens").click()
    row = page.get_by_role("row").filter(has_text="QGIS on my laptop")
    expect(row).to_contain_text(secret[:12])
    expect(row).to_contain_text("Active")
    assert secret[12:] not in page.content()
    row.get_by_role("link", name="Revoke QGIS on my laptop").click()
    expect_title(page, "Revoke an API token")
    assert_page_sound(page, page_watch)
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_text("The token 'QGIS on my laptop' has been revoked.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="QGIS on my laptop")).to_contain_text("Revoked")
    assert_page_sound(page, page_watch)
    assert tile_status(live_server, secret) == 401


def sign_in_with_second_factor(page: Page, live_server, user) -> None:
    """A session as after signing in with a password and an authenticator code (the code's own
    pages are tested with two-factor authentication)."""
    client = Client()
    client.force_login(user)
    session_two_factor_record(client, user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


def test_the_audit_log_viewer(page: Page, page_watch, live_server, personas, restricted):
    sign_in_with_second_factor(page, live_server, personas.platform_admin)
    page.goto("/")
    page.get_by_role("link", name="Audit log").click()
    expect_title(page, "Audit log")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    assert_page_sound(page, page_watch)

    page.get_by_label("Action").select_option("membership.set")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("5 entries match the filters.")).to_be_visible()
    expect(page.get_by_role("link", name="Download these entries as CSV")).to_have_attribute(
        "href", "/audit/export.csv?action=membership.set"
    )
    assert_page_sound(page, page_watch)

    page.get_by_label("From").fill("31/02/2026")
    page.get_by_role("button", name="Apply filters").click()
    expect_title(page, "Error: Audit log")
    expect_refused(page_watch, "/audit/")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a real date")
    assert_page_sound(page, page_watch)
