"""Single sign-on in Chromium: the sign-in page offers the provider, and a first sign-in through
the real test provider ends on the "waiting for approval" page; a refused one on a page that
says why. Our pages are checked with axe (the provider's own form is not ours)."""

import pytest
from playwright.sync_api import Page, expect

from infraplan.sso.models import AllowedTenant
from infraplan.sso.tests.support import (
    ACCOUNTS,
    CALLBACK_PATH,
    PROVIDER_NAME,
    TENANT_A,
    csp_setting,
    provider_start,
    providers_setting,
)

from .conftest import assert_page_sound

pytestmark = pytest.mark.browser


@pytest.fixture
def provider(live_server, settings, personas):
    provider = provider_start(redirect_uri=f"{live_server.url}{CALLBACK_PATH}")
    settings.SOCIALACCOUNT_PROVIDERS = providers_setting(settings.SOCIALACCOUNT_PROVIDERS, provider)
    settings.SECURE_CSP = csp_setting(settings.SECURE_CSP, provider)
    AllowedTenant.objects.create(organisation=personas.organisation_a, tenant=TENANT_A)
    yield provider
    provider.stop()


def sign_in_with_provider(page: Page, account) -> None:
    page.goto("/accounts/login/")
    page.get_by_role("button", name=f"Sign in with {PROVIDER_NAME}").click()
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()


def test_the_sign_in_page_offers_single_sign_on(page: Page, page_watch, provider):
    page.goto("/accounts/login/")
    expect(
        page.get_by_role("heading", name="Sign in with your organisation's account")
    ).to_be_visible()
    expect(page.get_by_role("button", name=f"Sign in with {PROVIDER_NAME}")).to_be_visible()
    assert_page_sound(page, page_watch)


def test_a_first_sign_in_waits_for_approval(page: Page, page_watch, provider):
    sign_in_with_provider(page, ACCOUNTS.officer)

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your account is waiting for approval"
    )
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()  # not signed in
    assert_page_sound(page, page_watch)


def test_a_refused_sign_in_says_why(page: Page, page_watch, provider):
    sign_in_with_provider(page, ACCOUNTS.outsider)

    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"You cannot sign in with {PROVIDER_NAME}"
    )
    expect(page.locator("#sso-refusal")).to_contain_text("is not one this service accepts")
    # The refusal is a 403, which the page watch counts as a failure (a failed response and
    # Chromium's console line about it): expected here, and nothing else.
    assert [failure.split(" ")[0] for failure in page_watch.failed_requests] == ["403"]
    assert len(page_watch.console_errors) == 1
    assert "status of 403" in page_watch.console_errors[0]
    page_watch.failed_requests.clear()
    page_watch.console_errors.clear()
    assert_page_sound(page, page_watch)
