"""The national datasets page in a real browser: WCAG 2.2 A/AA by axe, no CSP violation or
failed request; a platform admin switches a dataset on (its first load waits on the queue: no
worker runs here, so nothing is fetched) and off again."""

import pytest
from playwright.sync_api import Page, expect

from infraplan.accounts.services import organisations_sync_from_profile
from infraplan.connectors.models import IngestRun, Source
from infraplan.connectors.national import national_sources_sync

from .conftest import assert_page_sound
from .test_tokens_audit import expect_title, sign_in_with_second_factor

pytestmark = pytest.mark.browser


def test_switch_a_national_dataset_on_and_off(page: Page, page_watch, live_server, personas):
    organisations_sync_from_profile(actor=None)
    national_sources_sync(actor=None)
    sign_in_with_second_factor(page, live_server, personas.platform_admin)
    page.goto("/")
    page.get_by_role("link", name="National datasets").click()
    expect_title(page, "National datasets")
    rows = page.locator("#national-table tbody tr")
    expect(rows).to_have_count(11)
    expect(rows.filter(has_text="Off")).to_have_count(11)
    assert_page_sound(page, page_watch)

    ramsar = page.locator("#national-national-ramsar")
    ramsar.get_by_role("button", name="Switch on Ramsar sites").click()
    expect(
        page.get_by_text("Ramsar sites is switched on: loading now, then every week.")
    ).to_be_visible()
    expect(ramsar.get_by_text("On", exact=True)).to_be_visible()
    expect(ramsar.get_by_role("link", name="Waiting to start")).to_be_visible()
    expect(ramsar).to_contain_text("Next load")
    assert_page_sound(page, page_watch)
    assert IngestRun.objects.get().source == Source.objects.get(dataset__slug="national-ramsar")

    ramsar.get_by_role("button", name="Switch off Ramsar sites").click()
    expect(page.get_by_text("Ramsar sites is switched off.")).to_be_visible()
    expect(ramsar.get_by_text("Off", exact=True)).to_be_visible()
    assert_page_sound(page, page_watch)
    assert not Source.objects.filter(enabled=True).exists()


def test_the_link_is_for_platform_admins(page: Page, page_watch, live_server, personas):
    # That others are refused the page itself is in tests/test_url_matrix.py.
    sign_in_with_second_factor(page, live_server, personas.data_manager_a)
    page.goto("/datasets/")
    expect(page.get_by_role("link", name="Audit log")).to_have_count(0)
    expect(page.get_by_role("link", name="National datasets")).to_have_count(0)
