"""What every browser test runs in (the issue's "fixed viewport, reduced motion"): one window
size, and reduced motion asked for, so the map jumps where it would fly."""

import pytest
from playwright.sync_api import Page

from .conftest import VIEWPORT

pytestmark = pytest.mark.browser


def assert_fixed_and_reduced(page: Page) -> None:
    page.goto("/accessibility/")
    assert page.evaluate("[innerWidth, innerHeight]") == [VIEWPORT["width"], VIEWPORT["height"]]
    assert page.evaluate("matchMedia('(prefers-reduced-motion: reduce)').matches")


def test_a_page_on_the_tests_own_server(personas, page):
    assert_fixed_and_reduced(page)


def test_a_page_on_the_demo_server(served_page):
    assert_fixed_and_reduced(served_page)
