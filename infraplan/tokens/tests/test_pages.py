"""The tokens pages: a person sees, makes and revokes only their own tokens."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from infraplan.audit.models import AuditEntry
from infraplan.tokens.models import ApiToken
from infraplan.tokens.services import token_create, token_hash
from infraplan.tokens.views import TOKENS_PER_PAGE

pytestmark = pytest.mark.django_db


def make_token(user, name="QGIS"):
    return token_create(
        user=user, name=name, scope="read", expires_at=timezone.now() + timedelta(days=30)
    )


def test_creating_a_token_shows_its_secret_once(personas, client_as):
    client = client_as(personas.viewer_a)

    response = client.post(
        "/accounts/tokens/new/", {"name": "QGIS laptop", "scope": "read_write", "lifetime": "90"}
    )

    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret.encode() in response.content
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=personas.viewer_a)
    assert (token.name, token.scope, token.secret_hash) == (
        "QGIS laptop", "read_write", token_hash(secret),
    )  # fmt: skip
    assert timedelta(days=89) < token.expires_at - timezone.now() <= timedelta(days=90)
    listing = client.get("/accounts/tokens/")
    assert b"QGIS laptop" in listing.content and token.prefix.encode() in listing.content
    assert secret[12:].encode() not in listing.content


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"scope": "read", "lifetime": "30"}, "Enter a name for the token"),
        ({"name": "x", "lifetime": "30"}, "Choose what the token may do"),
        ({"name": "x", "scope": "read"}, "Choose how long the token lasts"),
        ({"name": "x", "scope": "read", "lifetime": "3650"}, "Select a valid choice"),
    ],
)
def test_bad_input_shows_the_error_summary_and_makes_nothing(personas, client_as, data, message):
    response = client_as(personas.viewer_a).post("/accounts/tokens/new/", data)

    assert response.status_code == 400
    assert b"There is a problem" in response.content
    assert message.encode() in response.content
    assert not ApiToken.objects.exists()


def test_the_lifetimes_offered_stop_at_the_maximum(personas, client_as, settings):
    settings.API_TOKEN_MAX_DAYS = 60
    form = client_as(personas.viewer_a).get("/accounts/tokens/new/").context["form"]
    assert [value for value, _ in form.fields["lifetime"].choices] == [7, 30, 60]


def test_only_the_owner_sees_and_revokes_a_token(personas, client_as):
    token, _ = make_token(personas.viewer_a, name="Nightly flood-zone refresh")
    outsider = client_as(personas.member_b)
    url = f"/accounts/tokens/{token.pk}/revoke/"

    assert b"Nightly flood-zone refresh" not in outsider.get("/accounts/tokens/").content
    assert (
        b"Nightly flood-zone refresh"
        in client_as(personas.viewer_a).get("/accounts/tokens/").content
    )
    assert outsider.get(url).status_code == 404
    assert outsider.post(url).status_code == 404
    assert client_as(personas.platform_admin).post(url).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None

    owner = client_as(personas.viewer_a)
    assert b"Revoke token" in owner.get(url).content
    response = owner.post(url, follow=True)
    assert b"has been revoked" in response.content
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEntry.objects.get(action="token.revoke").actor_id == personas.viewer_a.pk


def test_the_list_comes_a_page_at_a_time_and_says_when_each_was_last_used(personas, client_as):
    # Revoked and expired tokens stay listed, so a script that makes one a day fills the page.
    for number in range(TOKENS_PER_PAGE + 3):
        make_token(personas.viewer_a, name=f"Nightly {number:03}")
    client = client_as(personas.viewer_a)

    first = client.get("/accounts/tokens/")
    names = [token.name for token in first.context["page"]]
    assert names == [f"Nightly {n:03}" for n in range(TOKENS_PER_PAGE + 2, 2, -1)]
    assert 'aria-label="Pages of tokens"' in first.content.decode()
    assert 'href="?page=2" rel="next"' in first.content.decode()
    last = client.get("/accounts/tokens/", {"page": 2})
    assert [token.name for token in last.context["page"]] == [
        "Nightly 002", "Nightly 001", "Nightly 000",
    ]  # fmt: skip

    # 00:30 and 01:30 UTC on the last Sunday of October are both 01:30 in London.
    ApiToken.objects.filter(name="Nightly 001").update(
        last_used_at=datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    )
    ApiToken.objects.filter(name="Nightly 000").update(
        last_used_at=datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    )
    shown = html.unescape(
        re.sub(r"<[^>]+>", " ", client.get("/accounts/tokens/?page=2").content.decode())
    )
    assert re.findall(r"25 Oct 2026 01:30 [A-Z]+", shown) == [
        "25 Oct 2026 01:30 BST", "25 Oct 2026 01:30 GMT",
    ]  # fmt: skip


def test_the_pages_need_a_signed_in_person(client):
    for url in ("/accounts/tokens/", "/accounts/tokens/new/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_platform_admins_can_revoke_any_token_in_the_admin_but_not_edit_one(personas, client_as):
    token, _ = make_token(personas.viewer_a)
    admin = client_as(personas.platform_admin)
    base = "/admin/tokens/apitoken/"

    assert token.prefix.encode() in admin.get(base).content
    assert admin.get(f"{base}add/").status_code == 403
    assert admin.post(f"{base}{token.pk}/change/", {"name": "renamed"}).status_code == 403
    response = admin.post(base, {"action": "revoke", "_selected_action": [token.pk]})

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.name == "QGIS"
    entry = AuditEntry.objects.get(action="token.revoke")
    assert (entry.actor_id, entry.note) == (personas.platform_admin.pk, "via admin")
    assert client_as(personas.admin_a).get(base).status_code == 302  # not staff: to sign in


def test_the_pages_say_any_user_name_will_do_as_the_token_middleware_accepts(personas, client_as):
    """The middleware checks only Basic's password (the token); the pages told people to give
    their email address as the user name, and said nothing of the account password."""
    client = client_as(personas.viewer_a)
    created = client.post(
        "/accounts/tokens/new/", {"name": "QGIS", "scope": "read", "lifetime": "30"}
    ).content.decode()
    listing = client.get("/accounts/tokens/").content.decode()
    for page in (created, listing):
        assert "any user name" in page
        assert "your account password does not work there" in page.lower()
    assert "with your email address as the user name" not in created
