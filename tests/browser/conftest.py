"""Browser tests: Debian's headless Chromium (never a downloaded browser) against a real server.

Tests that only read use ``served_page``/``served_context`` (``demo_server``: a gunicorn on a
database copied once per run from a template); tests that change data use ``page``/``context``
(pytest-django's ``live_server``, with data made per test).

Every page a test opens is watched for Content-Security-Policy violations, JavaScript errors and
failed requests, and can be checked with axe-core, every one of its rules.
"""

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    sync_playwright,
)

from infraplan.core.testing.browser import (
    browser_database_make,
    database_fingerprint,
    database_url,
)
from infraplan.core.testing.personas import PASSWORD

# Playwright's sync API runs an event loop in this thread, and Django refuses ORM calls from a
# thread with a running loop unless told that the code really is synchronous (it is).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",  # WebGL in software, so MapLibre renders without a GPU
]
# Every browser context: one window size (a test of reflow sets its own), and reduced motion
# asked for, so the map jumps where it would fly and a test never waits on or races an animation.
VIEWPORT = {"width": 1280, "height": 800}
CONTEXT = {"viewport": VIEWPORT, "reduced_motion": "reduce"}
AXE_SOURCE = (ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js").read_text()
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def live_server(live_server):
    """pytest-django's live server, answering static files the way production does (WhiteNoise).

    Its own static handler looks files up with the staticfiles finders, which know the source
    names (js/map.mjs) but not the hashed names the manifest storage puts in pages
    (js/map.0d99….mjs), so every script and stylesheet would be a 404. A plain WSGIHandler runs
    the project's middleware, WhiteNoise included, which serves STATIC_ROOT (run collectstatic).
    """
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    if not manifest.exists():
        pytest.fail(
            f"{manifest} is missing: run `infraplan collectstatic` first (scripts/test.sh does)"
        )
    live_server.thread.httpd.set_app(WSGIHandler())
    return live_server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def demo_server(django_db_modify_db_settings) -> Iterator[str]:
    """A real gunicorn serving the read-only browser tests' database: the personas, the demo
    districts and wards, organisation A's restricted points (``a-only-sites``) and the sample
    postcodes (``infraplan.core.testing.browser.browser_data_make``).

    The database is the test database's name (with the test process's suffix, which
    ``django_db_modify_db_settings`` adds) plus ``_browser``, copied at the start of each run
    from ``<name>_template``, which is built only when missing or out of date. All tests on it
    share it, so they must only read: a test that changes data uses ``live_server``. At the end
    of the run, every table that reading cannot change must be as it was copied.
    """
    name = f"{settings.DATABASES['default']['TEST']['NAME']}_browser"
    browser_database_make(name)
    url = database_url(name)
    before = database_fingerprint(url)
    env = {**os.environ, "DATABASE_URL": url, "USAGE_LOG_ENABLED": "false"}
    port = _free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--log-level", "warning"],
        env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start for the browser tests") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
    after = database_fingerprint(url)
    changed = sorted(table for table in before if after.get(table) != before[table])
    assert not changed, (
        f"Tests on the demo server changed {', '.join(changed)}: they share one database and "
        "must only read (move a test that writes to `page`/`context` on live_server)"
    )


@pytest.fixture
def served_context(browser, demo_server) -> Iterator[BrowserContext]:
    """Like ``context``, on the demo server (no database fixture in the test itself)."""
    context = browser.new_context(base_url=demo_server, **CONTEXT)
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def served_page(served_context, page_watch) -> Iterator[Page]:
    """Like ``page``, on the demo server."""
    page = page_watch.attach(served_context.new_page())
    yield page
    page_watch.assert_clean()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_without_webgl(browser) -> Iterator[Browser]:
    """A second Chromium with WebGL switched off, as on many council virtual desktops."""
    arguments = [arg for arg in CHROMIUM_ARGS if arg != "--enable-unsafe-swiftshader"]
    no_webgl = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*arguments, "--disable-webgl", "--disable-3d-apis"]
    )
    yield no_webgl
    no_webgl.close()


@pytest.fixture
def served_context_without_script(browser, demo_server) -> Iterator[BrowserContext]:
    """Like ``served_context``, with JavaScript switched off, as on council desktops that block
    scripts."""
    context = browser.new_context(base_url=demo_server, java_script_enabled=False, **CONTEXT)
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def context(browser, live_server) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=live_server.url, **CONTEXT)
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@dataclass
class PageWatch:
    """What went wrong on a page: console errors (CSP violations among them), uncaught
    exceptions and failed requests."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def on_console(self, page: Page, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        source = message.location.get("url") or page.url
        self.console_errors.append(f"{message.text} [{source}]")

    def on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.failed_requests.append(
                f"{response.status} {response.request.method} {response.url}"
            )

    def on_request_failed(self, request) -> None:
        # A request still in flight when the test moves the page on is cancelled by the browser
        # (net::ERR_ABORTED): that is the test's doing, not a failure of the site.
        if request.failure == "net::ERR_ABORTED":
            return
        self.failed_requests.append(f"{request.failure} {request.method} {request.url}")

    @property
    def csp_violations(self) -> list[str]:
        return [message for message in self.console_errors if "Content Security Policy" in message]

    def assert_clean(self) -> None:
        assert not self.csp_violations, "CSP violations:\n" + "\n".join(self.csp_violations)
        assert not self.page_errors, "JavaScript errors:\n" + "\n".join(self.page_errors)
        assert not self.console_errors, "Console errors:\n" + "\n".join(self.console_errors)
        assert not self.failed_requests, "Failed requests:\n" + "\n".join(self.failed_requests)

    def attach(self, page: Page) -> Page:
        page.on("console", lambda message: self.on_console(page, message))
        page.on("pageerror", lambda error: self.page_errors.append(f"{error} ({page.url})"))
        page.on("requestfailed", self.on_request_failed)
        page.on("response", self.on_response)
        return page


@pytest.fixture
def page_watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def page(context, page_watch) -> Iterator[Page]:
    """A page in a fresh context; whatever went wrong on it fails the test at the end."""
    page = page_watch.attach(context.new_page())
    yield page
    page_watch.assert_clean()


# Every rule axe has, but those that test only WCAG's AAA level, beyond the service's (2.2 AA).
# Named, since axe by default leaves out more: its experimental rules and those it switches off,
# target-size (WCAG 2.2 AA, 2.5.8) among them.
AXE_RULES = """axe.getRules()
    .filter((rule) => !rule.tags.includes("wcag2aaa"))
    .map((rule) => rule.ruleId)"""


def axe_violations(page: Page) -> list[dict]:
    """Run axe-core on the page as it is now, with every rule it has for WCAG 2.2 A and AA, its
    best practices (every part of a page in a landmark, say) and its experimental rules, none
    left out (``AXE_RULES``).

    axe is evaluated through DevTools rather than added as a <script>: the page's CSP allows
    only scripts from our origin or with the page's nonce, and DevTools evaluation is exempt.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE)
    rules = page.evaluate(AXE_RULES)
    options = {"resultTypes": ["violations"], "runOnly": {"type": "rule", "values": rules}}
    if page.evaluate("matchMedia('(scripting: enabled)').matches"):
        return page.evaluate("options => axe.run(document, options)", options)["violations"]
    return _axe_violations_without_scripting(page, options)


def _axe_violations_without_scripting(page: Page, options: dict) -> list[dict]:
    """axe on a page whose scripts are switched off: there, timers never fire and DevTools
    never sees a promise settle, though promise callbacks run. axe's timers become promise
    callbacks, and its result is read from the page once it is there."""
    page.evaluate(
        """options => {
            window.setTimeout = (callback, delay, ...args) => {
                Promise.resolve().then(() => callback(...args));
                return 0;
            };
            window.clearTimeout = () => {};
            window.axeOutcome = null;
            axe.run(document, options).then(
                (result) => { window.axeOutcome = { violations: result.violations }; },
                (error) => { window.axeOutcome = { error: String(error) }; },
            );
        }""",
        options,
    )
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while (outcome := page.evaluate("window.axeOutcome")) is None:
        assert time.monotonic() < deadline, f"axe did not finish on {page.url}"
        time.sleep(0.05)
    assert "error" not in outcome, f"axe failed on {page.url}: {outcome.get('error')}"
    return outcome["violations"]


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        lines.append(f"  {violation['helpUrl']}")
        for node in violation["nodes"]:
            lines.append(f"  - {json.dumps(node['target'])}: {node['html'][:200]}")
            lines.extend(f"      {line}" for line in node["failureSummary"].splitlines())
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe found failures on {page.url}:\n" + describe_violations(violations)


def assert_no_sideways_scroll(page: Page) -> None:
    """The page itself never scrolls sideways (WCAG 1.4.10, reflow): what is wider than the
    window, such as a table of many columns, scrolls inside its own region."""
    content, window = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert content <= window, (
        f"{page.url} scrolls sideways: {content} px wide in a {window} px window"
    )


def assert_page_sound(page: Page, watch: "PageWatch") -> None:
    """axe finds nothing, including in what collapsed details hide, the page does not scroll
    sideways, and it had no CSP violation, script error or failed request."""
    for summary in page.locator(".govuk-details > summary").all():
        summary.click()
    assert_accessible(page)
    assert_no_sideways_scroll(page)
    watch.assert_clean()


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the real form, as a person would."""
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    assert page.get_by_role("button", name="Sign out").is_visible()
