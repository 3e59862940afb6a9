"""The platform's administration (Django's admin, for platform admins) in Chromium: axe with every
rule up to WCAG 2.2 AA on every page of it, and no CSP violation or script error.

Every route of the admin's URLs is opened here, or listed in ``ADMIN_ROUTES_NOT_PAGES`` with its
reason (``test_every_admin_route_is_visited_or_listed``): the index, each application's list,
and for each registered model its change list, its add form, and one object's change, history
and delete pages. A page the admin refuses to everyone (adding an audit entry, say) is checked
to be refused: the refusal page is the service's own, which test_every_page_accessible.py checks.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from playwright.sync_api import Page
from procrastinate.contrib.django.models import ProcrastinateJob

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.models import Dataset
from infraplan.connectors.load_requests import ingest_request
from infraplan.core.testing.personas import Personas
from infraplan.tokens.services import token_create

from .conftest import PageWatch, axe_violations, describe_violations
from .test_every_page_accessible import made_objects
from .test_tokens_audit import sign_in_with_second_factor

pytestmark = pytest.mark.browser

# Routes of the admin that answer with something else than a page of their own.
ADMIN_ROUTES_NOT_PAGES = {
    "login": "sends the browser to the service's own sign-in (with two factors)",
    "logout": "POST only: the admin's sign-out button",
    "password_change": "sends the browser to the service's own password change",
    "password_change_done": "sends the browser to the service's own password change",
    "autocomplete": "answers the admin's search-as-you-type boxes (JSON)",
    "jsi18n": "the admin's scripts' translations (JavaScript)",
    "view_on_site": "sends the browser to the object's own page",
}
# The pages of one object, by the end of their route's name.
OBJECT_PAGES = ("change", "history", "delete")


@dataclass(frozen=True)
class AdminVisit:
    route: str
    path: str
    status: int


def admin_route_names() -> set[str]:
    """Every named route of the admin, without its namespace."""
    resolver = next(
        pattern
        for pattern in get_resolver().url_patterns
        if isinstance(pattern, URLResolver) and pattern.namespace == "admin"
    )
    names: set[str] = set()

    def walk(patterns) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif pattern.name:
                names.add(pattern.name)

    walk(resolver.url_patterns)
    return names


def admin_objects_make(personas: Personas, upload_root) -> None:
    """An object of every registered model: the pages' objects (test_every_page_accessible.py),
    a queued load's job, and single sign-on's app, account and token."""
    made_objects(personas, upload_root)  # admin_a's authenticator app among them
    ingest_request(
        actor=personas.data_manager_a, dataset=Dataset.objects.get(slug="sites"),
        connector_key="url", config={"url": "https://data.example.org/sites.csv"},
        mapping={"reference": "ref"},
    )  # fmt: skip
    app = SocialApp.objects.create(
        provider="openid_connect", provider_id="council-idp", name="Council sign-in",
        client_id="infraplan", secret="not-a-real-secret",
    )  # fmt: skip
    account = SocialAccount.objects.create(
        user=personas.viewer_a, provider="council-idp", uid="viewer-a"
    )
    SocialToken.objects.create(
        app=app, account=account, token="not-a-real-token",
        expires_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip
    token_create(
        user=personas.platform_admin, name="Scripts", scope="read",
        expires_at=timezone.now() + timedelta(days=30),
    )  # fmt: skip


def admin_visits(user, *, with_objects: bool = True) -> list[AdminVisit]:
    """Every page of the admin this test opens, with the status the admin answers ``user``;
    each model's first object's pages (there must be one ``with_objects``)."""
    request = RequestFactory().get("/")
    request.user = user
    found = [AdminVisit("index", reverse("admin:index"), 200)]
    for app_label in sorted({model._meta.app_label for model in admin.site._registry}):
        found.append(AdminVisit("app_list", reverse("admin:app_list", args=[app_label]), 200))
    for model, model_admin in admin.site._registry.items():
        prefix = f"{model._meta.app_label}_{model._meta.model_name}"
        found.append(AdminVisit(f"{prefix}_changelist", reverse(f"admin:{prefix}_changelist"), 200))
        may_add = model_admin.has_add_permission(request)
        found.append(
            AdminVisit(f"{prefix}_add", reverse(f"admin:{prefix}_add"), 200 if may_add else 403)
        )
        chosen = model._default_manager.order_by("pk").first()
        assert chosen is not None or not with_objects, f"no {model._meta.verbose_name} to open"
        for page in OBJECT_PAGES:
            allowed = (
                chosen is not None
                and {
                    "change": model_admin.has_view_or_change_permission(request, chosen),
                    "history": model_admin.has_view_or_change_permission(request, chosen),
                    "delete": model_admin.has_delete_permission(request, chosen),
                }[page]
            )
            path = reverse(f"admin:{prefix}_{page}", args=[chosen.pk if chosen else 0])
            found.append(AdminVisit(f"{prefix}_{page}", path, 200 if allowed else 403))
    found.append(
        AdminVisit(
            "auth_user_password_change",
            reverse("admin:auth_user_password_change", args=[user.pk]),
            200,
        )
    )
    return found


def test_every_admin_route_is_visited_or_listed(db, personas):
    visited = {visit.route for visit in admin_visits(personas.platform_admin, with_objects=False)}
    names = admin_route_names()
    assert sorted(names - visited - set(ADMIN_ROUTES_NOT_PAGES)) == [], "neither opened nor listed"
    assert sorted(set(ADMIN_ROUTES_NOT_PAGES) - names) == [], "no such routes"
    assert sorted(visited & set(ADMIN_ROUTES_NOT_PAGES)) == [], "opened after all"


def test_django_groups_are_not_offered(db, personas):
    """Access is by organisation roles: a Django group would grant nothing, so the admin offers
    none to make."""
    assert Group not in admin.site._registry


def test_every_admin_page_is_accessible(
    page: Page, page_watch: PageWatch, live_server, personas, settings, tmp_path, subtests
):
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    admin_objects_make(personas, settings.UPLOAD_ROOT)
    assert ProcrastinateJob.objects.exists() and AuditEntry.objects.exists()
    assert EmailAddress.objects.exists()
    sign_in_with_second_factor(page, live_server, personas.platform_admin)
    for visit in admin_visits(personas.platform_admin):
        with subtests.test(route=visit.route, path=visit.path):
            for seen in (page_watch.console_errors, page_watch.page_errors):
                seen.clear()
            page_watch.failed_requests.clear()
            response = page.goto(visit.path)
            assert response is not None and response.status == visit.status, (
                f"{visit.path}: {response and response.status}"
            )
            assert response.headers["content-type"].startswith("text/html")
            if visit.status != 200:
                continue
            violations = axe_violations(page)
            assert not violations, f"axe found failures on {visit.path}:\n" + (
                describe_violations(violations)
            )
            assert not page_watch.csp_violations, "CSP violations:\n" + "\n".join(
                page_watch.csp_violations
            )
            assert not page_watch.page_errors, "JavaScript errors:\n" + "\n".join(
                page_watch.page_errors
            )
            page_watch.assert_clean()
    page_watch.failed_requests.clear()  # the refusals (403) asked for above
    page_watch.console_errors.clear()
