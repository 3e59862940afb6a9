"""Withdrawing a dataset and restoring it in a real browser, as an organisation's admin: the
withdraw page (its error summary too) and the dataset page with its banner checked with axe
(WCAG 2.2 A/AA), with no CSP violation, script error or failed request."""

import pytest
from django.utils import timezone
from django.utils.dateformat import format as date_format
from playwright.sync_api import Page, expect

from infraplan.catalogue.models import Dataset
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points

from .conftest import assert_page_sound
from .test_tokens_audit import expect_title, sign_in_with_second_factor

pytestmark = pytest.mark.browser

REASON = "Superseded by the adopted plan's sites"


def test_an_admin_withdraws_a_dataset_and_restores_it(
    page: Page, page_watch, live_server, personas
):
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    version_publish_points(dataset=sites, points=ASHFORD_POINTS)
    sign_in_with_second_factor(page, live_server, personas.admin_a)
    page.goto("/datasets/sites/")
    page.get_by_role("link", name="Withdraw this dataset").click()

    expect_title(page, "Withdraw Sites")
    expect(page.locator("#withdraw-warning")).to_contain_text(
        "Anyone, signed in or not, will no longer see it."
    )
    assert_page_sound(page, page_watch)

    page.get_by_role("button", name="Withdraw this dataset").click()  # no reason given
    expect_title(page, "Error: Withdraw Sites")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()  # GOV.UK Frontend moves focus to it
    summary.get_by_role("link", name="Enter why you are withdrawing the dataset").click()
    expect(page.get_by_label("Reason for withdrawing it")).to_be_focused()
    assert_page_sound(page, page_watch)

    page.get_by_label("Reason for withdrawing it").fill(REASON)
    page.get_by_role("button", name="Withdraw this dataset").click()

    expect_title(page, "Sites")
    expect(page.get_by_text("Sites has been withdrawn.")).to_be_visible()
    sites.refresh_from_db()
    day = date_format(timezone.localtime(sites.withdrawn_at), "j F Y")
    banner = page.locator("#withdrawn")
    expect(banner).to_contain_text(f"Withdrawn on {day} by admin: {REASON}")
    assert_page_sound(page, page_watch)
    page.goto("/datasets/")
    expect(page.get_by_role("heading", name="Sites Withdrawn", level=3)).to_be_visible()
    assert_page_sound(page, page_watch)

    page.goto("/datasets/sites/")
    page.get_by_role("button", name="Restore this dataset").click()

    expect(page.get_by_text("Sites has been restored")).to_be_visible()
    expect(page.locator("#withdrawn")).to_have_count(0)
    assert Dataset.objects.get(slug="sites").withdrawn_at is None
    assert_page_sound(page, page_watch)
