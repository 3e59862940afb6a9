"""Every web page of the platform in Chromium: axe with every rule up to WCAG 2.2 AA and nothing
left out of any page, and no CSP violation or script error.

The pages are the URL matrix's (tests/test_url_matrix.py): every GET case that some persona may
see (200) and that answers with a web page, opened by anonymous visitors where they may see it
and by one person signed in (the first of ``SIGNED_IN_PREFERENCE`` who may). Pages the matrix
asks only of objects that do not exist (load 0, token 0 ...) are opened with objects made here
(``MADE_VISITS``), as are the error pages and fuller states of some pages. Routes that answer
with something else than a web page are in ``NOT_PAGES`` (checked, where the matrix has a 200
for them, to answer no HTML), and the few pages not opened here are in ``PAGES_NOT_VISITED``,
each with its reason: ``test_every_route_is_visited_or_listed`` fails for a route in none.

It runs on ``live_server``, not on the demo server: it makes data, and admins' pages need a
session with a second factor, which the demo server's shared read-only database cannot hold.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page

from infraplan.accounts.models import Membership, User
from infraplan.accounts.services import (
    organisations_sync_from_profile,
    registration_start,
    user_create,
)
from infraplan.accounts.testing import link_in
from infraplan.catalogue.models import Feature
from infraplan.connectors.load_requests import ingest_request
from infraplan.connectors.models import IngestRun, RunState, Source
from infraplan.connectors.national import national_sources_sync
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.connectors.sources import source_save
from infraplan.core.testing.data import dataset_make, version_publish_points
from infraplan.core.testing.personas import PASSWORD, Personas
from infraplan.exports.registry import exporter_keys
from infraplan.tokens.models import ApiToken
from infraplan.tokens.services import token_create

from ..test_url_matrix import CASES, PERSONAS, Case, route_names
from .conftest import CONTEXT, TIMEOUT_MS, PageWatch, axe_violations, describe_violations
from .test_tokens_audit import sign_in_with_second_factor

pytestmark = pytest.mark.browser

# Who opens a page signed in: the first of these who may see it.
SIGNED_IN_PREFERENCE = [
    "platform_admin", "data_manager_a", "admin_a", "contributor_a", "viewer_a", "member_b",
]  # fmt: skip

OGC_API = [
    "ogcapi-landing", "ogcapi-openapi", "ogcapi-conformance", "ogcapi-collections",
    "ogcapi-collection", "ogcapi-queryables", "ogcapi-items", "ogcapi-item", "ogcapi-not-found",
]  # fmt: skip
NOT_PAGES = {
    "healthz": "a health check for monitors (JSON)",
    "branding-css": "the authority's colours, as a stylesheet",
    "tile": "vector tiles for the map (MVT)",
    "map-png": "the map as a picture (PNG)",
    "map-labels": "the map's labels (JSON)",
    "map-feature": "a feature for the map's pop-up (JSON)",
    "dataset-run-status": "a load's progress, for its page's script (JSON)",
    "dataset-version-report": "a version's report (CSV)",
    "dataset-download": "sends the browser on to a download (a redirect, or a refusal as text); "
    "its form shown again with an error is checked by tests/browser/test_downloads.py",
    "dataset-metadata-xml": "the dataset page's metadata as a UK GEMINI 2.3 record (XML)",
    **{f"dataset-download-{key}": f"a download ({key})" for key in exporter_keys()},
    "audit-export": "the audit log's entries (CSV)",
    "mfa_download_recovery_codes": "the recovery codes, as a text file",
    **dict.fromkeys(OGC_API, "OGC API - Features, for GIS software (JSON)"),
}

SSO_ROUND_TRIP = (
    "needs a round trip through an identity provider: tests/browser/test_sso.py makes one with "
    "its test provider and checks with axe the pages it ends on"
)
PAGES_NOT_VISITED = {
    "account_confirm_login_code": "signing in by an emailed code is off: always a redirect",
    "account_confirm_reauthentication_code": "a redirect until a code has been emailed: "
    "test_pages_part_way_through_a_flow_are_accessible asks for one and checks the page",
    "socialaccount_signup": "never a page here: single sign-on makes accounts itself "
    "(infraplan.sso.adapter), never through django-allauth's sign-up form",
    "openid_connect_login": SSO_ROUND_TRIP,
    "openid_connect_callback": SSO_ROUND_TRIP,
    "registration-decide": "POST only: its form is on the registrations page (registration-list)",
    "source-refresh": "POST only: its button is on the dataset page",
    "dataset-run-cancel": "POST only: its button is on a waiting or running load's page",
    "dataset-restore": "POST only: its button is on a withdrawn dataset's page, which "
    "tests/browser/test_withdrawal.py checks",
    "national-switch-on": "POST only: its button is on the national datasets page",
    "national-switch-off": "POST only: its button is on the national datasets page",
}
# Routes not opened here, by the start of their names.
ROUTE_GROUPS_NOT_VISITED = {
    "admin:": "Django's own administration (platform admins only): "
    "tests/browser/test_admin_accessible.py opens every page of it",
    "<unnamed social/": "django-allauth's old single sign-on paths: permanent redirects",
}


@dataclass(frozen=True)
class Made:
    """What the pages the URL matrix cannot open need."""

    run: IngestRun
    waiting_run: IngestRun
    source: Source
    token: ApiToken
    district: Feature
    restricted_feature: Feature
    member: Membership  # viewer_a's, in organisation A, which admin_a administers


@dataclass(frozen=True)
class MadeVisit:
    route: str
    persona: str
    kwargs: Callable[[Made], dict] | dict = field(default_factory=dict)
    status: int = 200


SITES = {"slug": "sites"}  # organisation A's, public, made here (``made_objects``)
MADE_VISITS = [
    MadeVisit("dataset-detail", "data_manager_a", SITES),  # its source, load and versions
    MadeVisit("dataset-run", "data_manager_a", lambda made: {**SITES, "run_id": made.run.pk}),
    MadeVisit(  # waiting to start: the page follows it with its script
        "dataset-run", "data_manager_a", lambda made: {**SITES, "run_id": made.waiting_run.pk}
    ),
    MadeVisit("dataset-version", "data_manager_a", {**SITES, "number": 3}),  # rejected
    MadeVisit("dataset-diff", "anonymous", {**SITES, "old": 1, "new": 2}),
    MadeVisit("dataset-rollback", "data_manager_a", {**SITES, "number": 1}),
    MadeVisit("dataset-compare", "anonymous", SITES, status=400),  # the form and its errors
    MadeVisit("source-edit", "data_manager_a", lambda made: {**SITES, "source_id": made.source.pk}),
    MadeVisit(
        "source-delete", "data_manager_a", lambda made: {**SITES, "source_id": made.source.pk}
    ),
    MadeVisit(
        "map-feature-page",
        "anonymous",
        lambda made: {"slug": "districts", "feature_id": made.district.pk},
    ),
    MadeVisit(
        "map-feature-page",
        "viewer_a",
        lambda made: {"slug": "a-only-sites", "feature_id": made.restricted_feature.pk},
    ),
    MadeVisit("token-revoke", "platform_admin", lambda made: {"token_id": made.token.pk}),
    MadeVisit("member-role", "admin_a", lambda made: {"pk": made.member.pk}),
    MadeVisit("member-remove", "admin_a", lambda made: {"pk": made.member.pk}),
    MadeVisit("socialaccount_login_error", "anonymous", status=401),
    MadeVisit("dataset-detail", "anonymous", {"slug": "no-such-dataset"}, status=404),
    MadeVisit("dataset-new", "viewer_a", status=403),
    # admin_a has an authenticator app and recovery codes.
    MadeVisit("mfa_index", "admin_a"),
    MadeVisit("mfa_reauthenticate", "admin_a"),
    MadeVisit("mfa_deactivate_totp", "admin_a"),
    MadeVisit("mfa_view_recovery_codes", "admin_a"),
    MadeVisit("mfa_generate_recovery_codes", "admin_a"),
    MadeVisit("mfa_activate_totp", "platform_admin"),  # the QR code to scan
    MadeVisit("mfa_authenticate", "part_signed_in"),  # the code asked after the password
    MadeVisit("account_set_password", "no_password"),  # someone who signs in only by SSO
]
# Who confirms their password once signed in, as the two-factor settings ask first.
REAUTHENTICATED = {"admin_a", "platform_admin"}
NO_PASSWORD = "single-sign-on@a.example"

# Two buttons too small and too close to tell apart by touch, and a bold paragraph standing in
# for a heading.
TOO_SMALL_AND_FAKE_HEADING = """<!DOCTYPE html>
<html lang="en"><head><title>Checks</title></head><body><main><h1>Checks</h1>
<p style="font-weight: bold; font-size: 24px">Opening times</p>
<p>The office is open from nine in the morning until five in the afternoon on working days.</p>
<p><button type="button" style="width: 12px; height: 12px; padding: 0; border: 0">a</button><button
type="button" style="width: 12px; height: 12px; padding: 0; border: 0">b</button></p>
</main></body></html>"""


@dataclass(frozen=True)
class Visit:
    route: str
    persona: str
    path: str
    status: int = 200


def matrix_cases() -> Iterator[tuple[str, Case, list[str]]]:
    """Each GET case of the URL matrix that someone may see, with who opens it here: anonymous
    visitors where they may, and the first of SIGNED_IN_PREFERENCE who may."""
    for name, cases in CASES.items():
        for case in cases:
            if case.method != "get":
                continue
            allowed = [persona for persona in PERSONAS if case.expect[persona] == 200]
            chosen = ["anonymous"] if "anonymous" in allowed else []
            chosen += [persona for persona in SIGNED_IN_PREFERENCE if persona in allowed][:1]
            if chosen:
                yield name, case, chosen


def path_of(name: str, kwargs: dict, query: str = "") -> str:
    return reverse(name, kwargs=kwargs) + (f"?{query}" if query else "")


def visits(made: Made) -> list[Visit]:
    """Every page this test opens, in the order it opens them."""
    found = [
        Visit(name, persona, path_of(name, case.kwargs, case.query))
        for name, case, chosen in matrix_cases()
        if name not in NOT_PAGES
        for persona in chosen
    ]
    for visit in MADE_VISITS:
        kwargs = visit.kwargs(made) if callable(visit.kwargs) else visit.kwargs
        found.append(Visit(visit.route, visit.persona, path_of(visit.route, kwargs), visit.status))
    return found


def test_every_route_is_visited_or_listed():
    names = set(route_names())
    made = {visit.route for visit in MADE_VISITS}
    visited = {name for name, _case, _chosen in matrix_cases() if name not in NOT_PAGES} | made
    missing = sorted(
        name
        for name in names - visited - set(NOT_PAGES) - set(PAGES_NOT_VISITED)
        if not name.startswith(tuple(ROUTE_GROUPS_NOT_VISITED))
    )
    assert missing == [], (
        "Open these routes' pages here (through a 200 in the URL matrix, or MADE_VISITS), or "
        f"list them in NOT_PAGES or PAGES_NOT_VISITED with the reason: {missing}"
    )
    assert sorted((set(NOT_PAGES) | set(PAGES_NOT_VISITED)) - names) == [], "no such routes"
    assert sorted(visited & set(PAGES_NOT_VISITED)) == [], "opened here after all"
    assert sorted(made & set(NOT_PAGES)) == [], "not pages"


def made_objects(personas: Personas, upload_root: Path) -> Made:
    """Organisation A's public ``sites``: versions 1 and 2, a source, a load rejected for its
    rows' problems (version 3) and one waiting to start; a token; a registration waiting for approval; admin_a's
    second factor; someone without a password; and the national datasets, switched off."""
    organisations_sync_from_profile(actor=None)
    national_sources_sync(actor=None)
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    version_publish_points(
        dataset=sites, points={"kept": (615000, 157500), "gone": (615200, 157700)}
    )
    version_publish_points(
        dataset=sites, points={"kept": (615050, 157550), "new": (615100, 157600)}
    )
    source = source_save(
        actor=None, dataset=sites, connector_key="url",
        config={"url": "https://data.example.org/sites.csv"}, mapping={"reference": "ref"},
        schedule="weekly",
    )  # fmt: skip
    upload_root.mkdir(parents=True)
    rows = upload_root / "sites.csv"
    rows.write_text("ref,Easting,Northing\nkept,615000,157500\nbad,lots,157500\n,615001,157501\n")
    run = ingest_request(
        actor=personas.data_manager_a, dataset=sites, connector_key="upload",
        config={"path": str(rows)}, mapping={"reference": "ref"}, queue=False,
    )  # fmt: skip
    run = ingest_run_execute(run.pk)
    assert run.state == RunState.REJECTED, run.error
    waiting_run = ingest_request(
        actor=personas.data_manager_a, dataset=sites, connector_key="upload",
        config={"path": str(rows)}, mapping={"reference": "ref"}, queue=False,
    )  # fmt: skip
    token, _secret = token_create(
        user=personas.platform_admin, name="QGIS on my laptop", scope="read",
        expires_at=timezone.now() + timedelta(days=30),
    )  # fmt: skip
    applicant = user_create(actor=None, email="applicant@a.example", password=PASSWORD)
    registration_start(user=applicant, organisation=personas.organisation_a, via="local")
    TOTP.activate(personas.admin_a, generate_totp_secret())
    RecoveryCodes.activate(personas.admin_a)
    user_create(actor=None, email=NO_PASSWORD, password=None)
    return Made(
        run=run,
        waiting_run=waiting_run,
        source=source,
        token=token,
        district=Feature.objects.filter(dataset__slug="districts").order_by("pk").first(),
        restricted_feature=Feature.objects.filter(dataset__slug="a-only-sites").first(),
        member=Membership.objects.get(user=personas.viewer_a, organisation=personas.organisation_a),
    )


@dataclass
class Visitor:
    context: BrowserContext
    page: Page
    watch: PageWatch


class Visitors:
    """One browser context, with one tab, for each person, made when first needed."""

    def __init__(self, browser: Browser, live_server, personas: Personas):
        self.browser, self.live_server, self.personas = browser, live_server, personas
        self.visitors: dict[str, Visitor] = {}

    def __getitem__(self, persona: str) -> Visitor:
        if persona not in self.visitors:
            context = self.browser.new_context(base_url=self.live_server.url, **CONTEXT)
            context.set_default_timeout(TIMEOUT_MS)
            watch = PageWatch()
            page = watch.attach(context.new_page())
            self.visitors[persona] = Visitor(context, page, watch)
            self.arrive(persona, page)
        return self.visitors[persona]

    def arrive(self, persona: str, page: Page) -> None:
        """Bring ``persona`` in: signed in as after a full sign-in (a second factor included),
        or, for ``part_signed_in``, admin_a with their password given and their code not yet."""
        if persona == "anonymous":
            return
        if persona == "part_signed_in":
            page.goto(reverse("account_login"))
            page.get_by_label("Email address").fill(self.personas.admin_a.email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"**{reverse('mfa_authenticate')}")
            return
        if persona == "no_password":
            user = User.objects.get(email=NO_PASSWORD)
        else:
            user = self.personas.all()[persona]
        sign_in_with_second_factor(page, self.live_server, user)
        if persona in REAUTHENTICATED:
            page.goto(reverse("account_reauthenticate"))
            page.locator("input[name=password]").fill(PASSWORD)
            page.get_by_role("button", name="Confirm").click()
            page.wait_for_url(lambda url: "/reauthenticate/" not in url)

    def close(self) -> None:
        for visitor in self.visitors.values():
            visitor.context.close()


def check_page(visitor: Visitor, visit: Visit) -> None:
    """Open the page and check it: its status, that it is a web page, axe (with collapsed
    details opened, and once the map, if any, has drawn), and no CSP violation or script
    error; nor, on a page answered 200, a failed request."""
    page, watch = visitor.page, visitor.watch
    for seen in (watch.console_errors, watch.page_errors, watch.failed_requests):
        seen.clear()
    response = page.goto(visit.path)
    assert response is not None and response.status == visit.status, (
        f"{visit.path} as {visit.persona}: {response and response.status}"
    )
    assert response.headers["content-type"].startswith("text/html")
    if page.locator("#map").count():
        page.locator('#map[data-map-idle="true"]').wait_for()
    for summary in page.locator(".govuk-details > summary").all():
        summary.click()
    violations = axe_violations(page)
    assert not violations, f"axe found failures on {visit.path} as {visit.persona}:\n" + (
        describe_violations(violations)
    )
    assert not watch.csp_violations, "CSP violations:\n" + "\n".join(watch.csp_violations)
    assert not watch.page_errors, "JavaScript errors:\n" + "\n".join(watch.page_errors)
    if visit.status == 200:
        watch.assert_clean()


def test_every_page_is_accessible(
    browser, live_server, personas, districts, restricted, settings, tmp_path, subtests
):
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    made = made_objects(personas, settings.UPLOAD_ROOT)
    visitors = Visitors(browser, live_server, personas)
    try:
        for name, case, chosen in matrix_cases():
            if name in NOT_PAGES:
                path = path_of(name, case.kwargs, case.query)
                with subtests.test(route=name, persona=chosen[0], path=path, page=False):
                    answer = visitors[chosen[0]].context.request.head(path)
                    assert answer.status in (200, 204), answer.status
                    assert not answer.headers.get("content-type", "").startswith("text/html")
        for visit in visits(made):
            with subtests.test(route=visit.route, persona=visit.persona, path=visit.path):
                check_page(visitors[visit.persona], visit)
    finally:
        visitors.close()


def test_axe_runs_every_rule_up_to_wcag_2_2_aa(browser):
    """axe's defaults leave out its experimental rules and those it switches off, target-size
    (WCAG 2.2 AA, 2.5.8) among them: the checks run them too."""
    page = browser.new_page()
    try:
        page.set_content(TOO_SMALL_AND_FAKE_HEADING)
        assert {violation["id"] for violation in axe_violations(page)} == {
            "target-size",  # switched off by default
            "p-as-heading",  # experimental
        }
    finally:
        page.close()


def test_pages_part_way_through_a_flow_are_accessible(
    browser, live_server, personas, mailoutbox, subtests
):
    """Pages the test above cannot open by their address alone: the form a password-reset link
    opens (the URL matrix's key is a bad one), and the page asking for the code emailed to
    confirm it is you, with and without its errors (without a code asked for, it redirects)."""

    def visitor() -> Visitor:
        context = browser.new_context(base_url=live_server.url, **CONTEXT)
        context.set_default_timeout(TIMEOUT_MS)
        watch = PageWatch()
        return Visitor(context, watch.attach(context.new_page()), watch)

    anonymous, signed_in = visitor(), visitor()
    try:
        page = anonymous.page
        page.goto(reverse("account_reset_password"))
        page.get_by_label("Email address").fill(personas.viewer_a.email)
        page.get_by_role("button", name="Send the link").click()
        page.wait_for_url(f"**{reverse('account_reset_password_done')}")
        link = link_in(mailoutbox[-1], "/accounts/password/reset/key/")
        with subtests.test(route="account_reset_password_from_key", path="a good link"):
            check_page(anonymous, Visit("account_reset_password_from_key", "anonymous", link))

        page = signed_in.page
        sign_in_with_second_factor(page, live_server, personas.viewer_a)
        page.goto(reverse("account_request_reauthentication_code"))
        page.get_by_role("button", name="Email me a code").click()
        confirm = reverse("account_confirm_reauthentication_code")
        page.wait_for_url(f"**{confirm}")
        with subtests.test(route="account_confirm_reauthentication_code", path=confirm):
            check_page(
                signed_in, Visit("account_confirm_reauthentication_code", "viewer_a", confirm)
            )
            page.get_by_role("button", name="Confirm").click()  # no code given
            page.locator(".govuk-error-summary").wait_for()
            violations = axe_violations(page)
            assert not violations, describe_violations(violations)
    finally:
        anonymous.context.close()
        signed_in.context.close()
