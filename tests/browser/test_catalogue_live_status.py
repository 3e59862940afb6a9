"""A load's page follows the load through failed status requests: it asks again, less often
each time, says after a few failures in a row that its live updates have paused, and still
shows the outcome once a request gets through.

The page's clock is Playwright's, paused: it moves only when the test runs it, a second at a
time, so that the waits take no time. Installed but not paused, it would also move at the real
pace between the test's steps, by more on a busy machine. The page's waits are read from the
page's own clock (``STATUS_TIMES``), in milliseconds, not counted in the test's steps."""

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from django.utils import timezone
from playwright.sync_api import Page, Route, expect

from infraplan.connectors.models import IngestRun
from infraplan.connectors.run_execution import ingest_run_execute

from .conftest import TIMEOUT_MS, PageWatch, assert_accessible, sign_in
from .test_catalogue_loads import sites, upload  # noqa: F401 (sites: the dataset's fixture)

pytestmark = pytest.mark.browser

STATUS = "**/runs/*/status.json"
CLOCK_START = datetime(2026, 3, 2, 9, 0)
# In the page, before its own scripts: each status request it sends, with when it was sent and
# when its answer came, by the page's clock. A failure is recorded before the page's own code
# sees it, in the same turn, so on a paused clock at the very moment the page waits from.
STATUS_TIMES = """
window.statusRequests = [];
const fetchAsWritten = window.fetch;
window.fetch = (resource, options) => {
  const answer = fetchAsWritten(resource, options);
  if (String(resource).endsWith("/status.json")) {
    const request = { sent: Date.now(), answered: null };
    window.statusRequests.push(request);
    const answered = () => { request.answered = Date.now(); };
    answer.then(answered, answered);
  }
  return answer;
};
"""


def run_clock_until(page: Page, done: Callable[[], bool]) -> None:
    """Run the page's clock a second at a time until ``done()``.

    Bounded by real time, as every wait in these tests is: while a request is on its way the
    page has nothing to do, however far its clock is run, so a bound on its clock would be one
    on how fast the machine answers."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not done():
        assert time.monotonic() < deadline, f"not done within {TIMEOUT_MS} ms"
        page.clock.run_for(1000)


@pytest.mark.usefixtures("sites")
def test_the_load_page_keeps_asking_after_failed_requests(
    page: Page, page_watch: PageWatch, tmp_path
):
    """One failed status.json stopped the page's updates for good."""
    sign_in(page, "contributor@a.example")
    page.clock.install(time=CLOCK_START)
    page.clock.pause_at(CLOCK_START + timedelta(hours=1))
    page.add_init_script(script=STATUS_TIMES)
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

    run_clock_until(page, lambda: len(asked) >= 4)

    requests = page.evaluate("window.statusRequests")[:4]
    waits = [after["sent"] - before["answered"] for before, after in pairwise(requests)]
    assert waits[0] < waits[1] < waits[2], f"the waits after each failure did not grow: {waits} ms"
    expect(notice).to_contain_text(
        "Live updates have paused: this page could not get the load's progress, so what it "
        "shows may be out of date. Reload the page to see how far it has got."
    )
    expect(notice.get_by_role("link", name="Reload the page")).to_have_attribute(
        "href", f"/datasets/sites/runs/{IngestRun.objects.get().pk}/"
    )
    page.clock.resume()  # axe waits on timers of its own
    assert_accessible(page)

    # The service answers again: the notice goes, and the page follows the load to its end.
    page.unroute(STATUS)
    IngestRun.objects.update(state="running", stage="reading", rows_read=1)
    run_clock_until(page, lambda: page.locator("[data-run-heading]").text_content().endswith(
        "in progress."))  # fmt: skip
    expect(notice).to_be_empty()
    ingest_run_execute(IngestRun.objects.get().pk)
    run_clock_until(page, lambda: "Published as version 2." in page.locator("#run-status").text_content())  # fmt: skip
    expect(page.locator("#run-status")).to_contain_text("1 added, 0 changed, 1 removed")
    # The failures were the test's (the browser logs each); nothing else failed.
    assert {failure.split(" ")[0] for failure in page_watch.failed_requests} == {"503"}
    assert all("status of 503" in error for error in page_watch.console_errors)
    page_watch.failed_requests.clear()
    page_watch.console_errors.clear()


@pytest.mark.usefixtures("sites")
def test_the_load_page_shows_a_failed_attempt_while_it_waits_to_try_again(page: Page, tmp_path):
    """A load whose attempt failed waits minutes to try again: the page said only that it was
    waiting to start, until reloaded by hand."""
    sign_in(page, "contributor@a.example")
    data = tmp_path / "sites.csv"
    data.write_text("ref,Easting,Northing,name\nA,615000,157500,Civic\n")
    upload(page, data)
    heading = page.locator("[data-run-heading]")
    expect(heading).to_have_text("The load is waiting to start.")

    # What the worker writes when an attempt fails for a reason that may pass.
    retry_at = timezone.now() + timedelta(minutes=4)
    IngestRun.objects.update(
        attempts=1, retry_at=retry_at, error="www.example.org could not be found."
    )

    expect(heading).to_have_text("The load is waiting to try again.")
    expect(page.locator("#run-status")).to_contain_text(
        f"An attempt failed and it will try again at {timezone.localtime(retry_at):%H:%M %Z}: "
        "www.example.org could not be found."
    )
    summary = page.locator("#run-summary")
    expect(summary).to_contain_text("Waiting to try again")
    assert_accessible(page)

    # The retry starts: the page follows it again.
    IngestRun.objects.update(state="running", stage="reading", retry_at=None, error="")
    expect(heading).to_have_text("The load is in progress.")
