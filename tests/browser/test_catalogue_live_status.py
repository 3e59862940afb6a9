"""A load's page follows the load through failed status requests: it asks again, less often
each time, says after a few failures in a row that its live updates have paused, and still
shows the outcome once a request gets through. The page's clock is Playwright's, run a second
at a time, so that the waits take no time."""

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Route, expect

from infraplan.connectors.models import IngestRun
from infraplan.connectors.run_execution import ingest_run_execute

from .conftest import PageWatch, assert_accessible, sign_in
from .test_catalogue_loads import sites, upload  # noqa: F401 (sites: the dataset's fixture)

pytestmark = pytest.mark.browser

STATUS = "**/runs/*/status.json"


def seconds_until(page: Page, done: Callable[[], bool], most: int = 120) -> int:
    """Run the page's clock a second at a time until ``done()``; the seconds it took (one or
    two more than the page waited: requests are seen a step after they are sent)."""
    for seconds in range(1, most + 1):
        page.clock.run_for(1000)
        if done():
            return seconds
    raise AssertionError(f"not done after {most} seconds of the page's clock")


@pytest.mark.usefixtures("sites")
def test_the_load_page_keeps_asking_after_failed_requests(
    page: Page, page_watch: PageWatch, tmp_path
):
    """One failed status.json stopped the page's updates for good."""
    sign_in(page, "contributor@a.example")
    page.clock.install()
    asked: list[int] = []

    def unavailable(route: Route) -> None:
        asked.append(len(asked))
        route.fulfill(status=503, body="Unavailable")

    page.route(STATUS, unavailable)
    data = tmp_path / "sites.csv"
    data.write_text("ref,Easting,Northing,name\nA,615000,157500,Civic\n")
    upload(page, data)
    notice = page.locator("#run-updates-paused")
    expect(notice).to_have_attribute("role", "status")  # there, empty, before it has news

    waits = [seconds_until(page, lambda count=count: len(asked) > count) for count in range(3)]

    assert waits[0] < waits[1] < waits[2], f"the waits did not grow: {waits}"
    expect(notice).to_contain_text(
        "Live updates have paused: this page could not get the load's progress, so what it "
        "shows may be out of date. Reload the page to see how far it has got."
    )
    expect(notice.get_by_role("link", name="Reload the page")).to_have_attribute(
        "href", f"/datasets/sites/runs/{IngestRun.objects.get().pk}/"
    )
    assert_accessible(page)

    # The service answers again: the notice goes, and the page follows the load to its end.
    page.unroute(STATUS)
    IngestRun.objects.update(state="running", stage="reading", rows_read=1)
    seconds_until(page, lambda: page.locator("[data-run-heading]").text_content().endswith(
        "in progress."))  # fmt: skip
    expect(notice).to_be_empty()
    ingest_run_execute(IngestRun.objects.get().pk)
    seconds_until(page, lambda: "Published as version 2." in page.locator("#run-status").text_content())  # fmt: skip
    expect(page.locator("#run-status")).to_contain_text("1 added, 0 changed, 1 removed")
    # The failures were the test's (the browser logs each); nothing else failed.
    assert {failure.split(" ")[0] for failure in page_watch.failed_requests} == {"503"}
    assert all("status of 503" in error for error in page_watch.console_errors)
    page_watch.failed_requests.clear()
    page_watch.console_errors.clear()
