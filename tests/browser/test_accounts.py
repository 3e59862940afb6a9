"""Accounts in a real browser: registration, approval, two-factor and the account pages, each
page checked by axe (WCAG 2.2 A/AA) with no CSP violation, script error or failed request."""

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from playwright.sync_api import Page, expect

from infraplan.accounts.models import Registration, User
from infraplan.accounts.testing import link_in, totp_code
from infraplan.core.testing.personas import PASSWORD

from .conftest import assert_page_sound, sign_in
from .test_tokens_audit import expect_refused, sign_in_with_second_factor

pytestmark = pytest.mark.browser

SERVICE = "Kent and Medway Infrastructure Map"
DASH = "\N{EN DASH}"


def expect_page(page: Page, title: str, heading: str | None = None) -> None:
    expect(page).to_have_title(f"{title} {DASH} {SERVICE}")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading or title)


def test_register_verify_and_wait(page: Page, page_watch, personas, mailoutbox):
    page.goto("/accounts/signup/")
    expect_page(page, "Register for an account")
    expect(page.get_by_text("Use at least 12 characters")).to_be_visible()
    assert_page_sound(page, page_watch)

    page.get_by_label("Full name").fill("New Officer")
    page.get_by_label("Work email address").fill("new.officer@gmail.com")
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Confirm password").fill("a long enough passphrase")
    page.get_by_role("button", name="Register").click()
    expect_page(page, "Error: Register for an account", "Register for an account")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("gmail.com is not the email domain of any organisation")
    summary.get_by_role("link").first.click()  # the summary's link moves to the field
    expect(page.get_by_label("Work email address")).to_be_focused()
    assert_page_sound(page, page_watch)

    page.get_by_label("Work email address").fill("new.officer@a.example")
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Confirm password").fill("a long enough passphrase")
    page.get_by_role("button", name="Register").click()
    page.wait_for_url("**/accounts/confirm-email/")
    assert_page_sound(page, page_watch)

    page.goto(link_in(mailoutbox[0], "/accounts/confirm-email/"))
    expect_page(page, "Confirm your email address")
    assert_page_sound(page, page_watch)
    page.get_by_role("button", name="Confirm").click()
    expect_page(page, "Waiting for approval", "Your registration is waiting for approval")
    assert_page_sound(page, page_watch)

    sign_in_attempt(page, "new.officer@a.example", "a long enough passphrase")
    expect_page(page, "Waiting for approval")
    assert_page_sound(page, page_watch)


def sign_in_attempt(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_admin_signs_in_with_two_factor_and_approves(
    page: Page, page_watch, personas, mailoutbox
):
    applicant = personas.viewer_a.__class__.objects.create_user("applicant@a.example", PASSWORD)
    applicant.is_active = False
    applicant.save()
    registration = Registration.objects.create(
        user=applicant, organisation=personas.organisation_a, via="local"
    )
    secret = generate_totp_secret()
    TOTP.activate(personas.admin_a, secret)
    RecoveryCodes.activate(personas.admin_a)

    sign_in_attempt(page, "admin@a.example")
    page.wait_for_url("**/accounts/2fa/authenticate/")
    expect_page(page, "Enter the code from your authenticator app")
    assert_page_sound(page, page_watch)
    page.get_by_role("button", name="Continue").click()  # no code yet
    expect_page(
        page,
        "Error: Enter the code from your authenticator app",
        "Enter the code from your authenticator app",
    )
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Enter the code from your authenticator app")
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("Code")).to_be_focused()
    assert_page_sound(page, page_watch)
    page.get_by_label("Code").fill(totp_code(secret))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.get_by_role("link", name="Your account").click()
    expect_page(page, "Your account")
    assert_page_sound(page, page_watch)
    page.get_by_role("link", name="Registrations waiting for approval").click()
    expect_page(page, "Registrations waiting for approval")
    expect(page.get_by_role("heading", name="applicant@a.example")).to_be_visible()
    assert_page_sound(page, page_watch)
    page.get_by_role("radio", name="Approve").check()
    page.get_by_label("Role if approved").select_option("contributor")
    page.get_by_role("button", name="Save decision").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "applicant@a.example has been approved"
    )
    expect(
        page.get_by_text("There are no registrations waiting for your decision.")
    ).to_be_visible()
    assert_page_sound(page, page_watch)
    registration.refresh_from_db()
    assert registration.status == "approved"
    assert mailoutbox[-1].to == ["applicant@a.example"]


def test_an_admin_pages_through_many_registrations_and_decides_on_the_second_page(
    page: Page, page_watch, live_server, personas, mailoutbox
):
    for number in range(25):
        user = User.objects.create(email=f"applicant{number:02}@a.example", is_active=False)
        Registration.objects.create(user=user, organisation=personas.organisation_a, via="local")
    sign_in_with_second_factor(page, live_server, personas.admin_a)
    page.goto("/accounts/approvals/")
    expect_page(page, "Registrations waiting for approval")
    expect(page.get_by_text("25 registrations wait for your decision")).to_contain_text(
        "This is page 1 of 2."
    )
    expect(page.locator(".govuk-summary-card")).to_have_count(20)
    assert_page_sound(page, page_watch)

    page.get_by_role("navigation", name="Pages of registrations").get_by_role(
        "link", name="Next page"
    ).click()
    page.wait_for_url("**/accounts/approvals/?page=2")
    expect(page.locator(".govuk-summary-card")).to_have_count(5)
    assert_page_sound(page, page_watch)

    card = page.locator("section").filter(
        has=page.get_by_role("heading", name="applicant22@a.example")
    )
    card.get_by_role("button", name="Save decision").click()
    expect_page(
        page, "Error: Registrations waiting for approval", "Registrations waiting for approval"
    )
    expect_refused(page_watch, "/accounts/approvals/")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select approve or reject")
    assert_page_sound(page, page_watch)

    card.get_by_role("radio", name="Approve").check()
    card.get_by_role("button", name="Save decision").click()
    page.wait_for_url("**/accounts/approvals/?page=2")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "applicant22@a.example has been approved"
    )
    expect(page.locator(".govuk-summary-card")).to_have_count(4)
    assert_page_sound(page, page_watch)
    assert Registration.objects.get(user__email="applicant22@a.example").status == "approved"


def test_set_up_two_factor_as_an_admin_who_has_none(page: Page, page_watch, personas):
    sign_in(page, "admin@a.example")
    page.goto("/accounts/approvals/")
    # Sent to confirm the password, then to set up an authenticator app.
    page.wait_for_url("**/accounts/reauthenticate/**")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Administrators must use two-factor authentication"
    )
    assert_page_sound(page, page_watch)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/accounts/2fa/totp/activate/**")
    expect_page(page, "Set up an authenticator app")
    expect(
        page.get_by_role("img", name=f"QR code to add {SERVICE} to your authenticator app")
    ).to_be_visible()
    assert_page_sound(page, page_watch)
    secret = page.locator("#authenticator-secret").inner_text()  # in groups of four
    page.get_by_label("Code").fill(totp_code(secret.replace(" ", "")))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/accounts/2fa/recovery-codes/**")
    expect_page(page, "Your recovery codes")
    expect(
        page.get_by_role("list", name="Unused recovery codes").get_by_role("listitem")
    ).to_have_count(10)
    assert_page_sound(page, page_watch)

    page.goto("/accounts/2fa/")
    expect_page(page, "Two-factor authentication")
    assert_page_sound(page, page_watch)


def test_account_pages(page: Page, page_watch, personas):
    sign_in(page, "contributor@a.example")
    page.get_by_role("link", name="Your account").click()
    expect_page(page, "Your account")
    assert_page_sound(page, page_watch)

    page.get_by_label("Full name").fill("Connie Contributor")
    page.get_by_role("button", name="Save name").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your name has been saved")
    expect(page.get_by_label("Full name")).to_have_value("Connie Contributor")

    for link, title in [
        ("Change your password", "Change your password"),
        ("Two-factor authentication", "Two-factor authentication"),
    ]:
        page.get_by_role("link", name=link).click()
        expect(page).to_have_title(f"{title} {DASH} {SERVICE}")
        assert_page_sound(page, page_watch)
        page.go_back()

    page.get_by_role("link", name="Leave Organisation A").click()
    expect_page(page, "Leave Organisation A")
    assert_page_sound(page, page_watch)
    page.get_by_role("button", name="Leave Organisation A").click()
    expect(page.get_by_text("You are not a member of any organisation.")).to_be_visible()

    page.get_by_role("link", name="Delete your account").click()
    expect_page(page, "Delete your account")
    assert_page_sound(page, page_watch)
