"""API tokens: stored hashed, scoped, expiring, revocable; accepted as Bearer or as the password of
HTTP Basic on the plain Django views, never in a query string; every refusal and use a security
event."""

import base64
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.models import Feature
from infraplan.tokens.models import ApiToken
from infraplan.tokens.services import token_create, token_hash, token_revoke

pytestmark = pytest.mark.django_db

TILE = "/tiles/a-only-sites/12/2057/1368.mvt"  # organisation A's restricted points


def make_token(user, scope="read", days=30):
    return token_create(
        user=user, name="QGIS", scope=scope, expires_at=timezone.now() + timedelta(days=days)
    )


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def basic(username: str, password: str) -> dict:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {pair}"}


# --- making and storing ------------------------------------------------------------------------


def test_the_secret_is_shown_once_and_only_its_hash_is_stored(personas):
    token, secret = make_token(personas.viewer_a)

    assert secret.startswith("ipt_") and len(secret) == 47
    assert token.prefix == secret[:12]
    assert token.secret_hash == token_hash(secret) != secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tokens_apitoken")
        stored = repr(cursor.fetchall())
    assert secret not in stored and secret[12:] not in stored
    entry = AuditEntry.objects.get(action="token.create")
    assert entry.actor_id == personas.viewer_a.pk
    assert secret[12:] not in repr(entry.after)
    assert entry.after["scope"] == "read" and entry.after["prefix"] == token.prefix


def test_two_tokens_never_share_a_secret(personas):
    secrets = {make_token(personas.viewer_a)[1] for _ in range(5)}
    assert len(secrets) == 5


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "  "}, "name", "Enter a name for the token"),
        ({"scope": "admin"}, "scope", "Choose whether the token may only read"),
        ({"expires_at": -1}, "expires_at", "The expiry must be in the future"),
        ({"expires_at": 366}, "expires_at", "A token can last at most 365 days"),
    ],
)
def test_bad_tokens_are_refused_clearly_and_nothing_is_saved(personas, changes, field, message):
    values = {"user": personas.viewer_a, "name": "QGIS", "scope": "read", "expires_at": 30}
    values.update(changes)
    values["expires_at"] = timezone.now() + timedelta(days=values["expires_at"])
    before = AuditEntry.objects.count()

    with pytest.raises(ValidationError) as raised:
        token_create(**values)

    assert message in raised.value.message_dict[field][0]
    assert not ApiToken.objects.exists()
    assert AuditEntry.objects.count() == before


def test_the_maximum_lifetime_is_a_setting(personas, settings):
    settings.API_TOKEN_MAX_DAYS = 30
    make_token(personas.viewer_a, days=30)
    with pytest.raises(ValidationError, match="at most 30 days"):
        make_token(personas.viewer_a, days=31)


# --- using them --------------------------------------------------------------------------------


def test_bearer_and_basic_reach_a_restricted_tile_for_a_member_only(
    personas, restricted, security_events
):
    _, member = make_token(personas.viewer_a)
    _, outsider = make_token(personas.member_b)
    client = Client()

    assert client.get(TILE).status_code == 404  # anonymous
    response = client.get(TILE, **bearer(member))
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("private")
    assert "Authorization" in response["Vary"]  # no cache may hand it to another token
    assert client.get(TILE, **basic("viewer@a.example", member)).status_code == 200
    assert client.get(TILE, **basic("", member)).status_code == 200  # the username is not checked
    assert client.get(TILE, **bearer(outsider)).status_code == 404
    assert client.get(TILE, **basic("member@b.example", outsider)).status_code == 404

    used = security_events("token.used")
    assert [event["user"] for event in used] == ["viewer@a.example"] * 3 + ["member@b.example"] * 2
    assert used[0]["token_prefix"] == member[:12] and used[0]["path"] == TILE
    assert all(member[12:] not in repr(event) for event in security_events())


def test_a_token_works_on_pages_pop_ups_the_table_and_the_png_too(
    personas, restricted, security_events
):
    _, secret = make_token(personas.viewer_a)
    client = Client()
    feature = Feature.objects.filter(dataset=restricted, reference="station").first()

    for url in ("/datasets/a-only-sites/", f"/datasets/a-only-sites/features/{feature.pk}.json"):
        assert client.get(url).status_code == 404, url
        assert client.get(url, **bearer(secret)).status_code == 200, url
    table = "/map/features/?layers=a-only-sites"
    assert b"civic-centre" not in client.get(table).content
    assert b"civic-centre" in client.get(table, **bearer(secret)).content
    png = client.get("/map.png?layers=a-only-sites", **bearer(secret))
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert [event["format"] for event in security_events("export.restricted")] == ["table", "png"]
    assert {event["user"] for event in security_events("export.restricted")} == {"viewer@a.example"}


@pytest.mark.parametrize(
    ("make", "reason", "message"),
    [
        (lambda secret: "ipt_short", "malformed", "does not hold an API token"),
        (lambda secret: secret[:-1] + ("A" if secret[-1] != "A" else "B"), "unknown",
         "not recognised"),
        (lambda secret: "ipt_" + "x" * 43, "unknown", "not recognised"),
    ],
)  # fmt: skip
def test_unknown_and_malformed_tokens_get_401_with_a_challenge(
    personas, restricted, security_events, make, reason, message
):
    _, secret = make_token(personas.viewer_a)
    response = Client().get(TILE, **bearer(make(secret)))

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    assert message in response.json()["message"]
    (event,) = security_events("token.refused")
    assert (event["reason"], event["outcome"], event["user"]) == (reason, "failure", None)


def test_a_password_is_not_a_token_and_the_refusal_says_what_to_use(
    personas, restricted, security_events
):
    response = Client().get(TILE, **basic("viewer@a.example", "correct-horse-battery-staple-42"))
    assert response.status_code == 401
    message = (
        "Use an API token as the password (make one at http://testserver/accounts/tokens/), "
        "not your account password."
    )
    assert response.json()["message"] == message
    assert f'error_description="{message}"' in response["WWW-Authenticate"]
    (event,) = security_events("token.refused")
    assert event["reason"] == "basic_password_not_token"
    assert "correct-horse" not in str(event)


@pytest.mark.parametrize(
    "header",
    [
        lambda secret: f"Token {secret}",  # Django REST framework's and others' scheme
        lambda secret: f"token {secret}",
        lambda secret: "Token not-even-a-token",
        lambda secret: f"ApiKey {secret}",  # any scheme carrying one of our tokens
        lambda secret: secret,  # a token with no scheme at all
    ],
    ids=["Token", "token", "Token, not a token", "ApiKey", "no scheme"],
)
def test_a_token_in_the_wrong_scheme_is_refused_not_served_as_anonymous(
    personas, restricted, security_events, header
):
    _, secret = make_token(personas.viewer_a)
    response = Client().get(TILE, HTTP_AUTHORIZATION=header(secret))
    assert response.status_code == 401
    assert response.json()["message"] == (
        "Send the token as 'Authorization: Bearer <token>' (or as the password of HTTP Basic)."
    )
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    (event,) = security_events("token.refused")
    assert (event["reason"], event["user"]) == ("token_scheme", None)


def test_expired_and_revoked_tokens_stop_working(personas, restricted, security_events):
    expired, expired_secret = make_token(personas.viewer_a)
    revoked, revoked_secret = make_token(personas.viewer_a)
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    token_revoke(token=revoked, actor=personas.viewer_a)

    for secret, message in ((expired_secret, "has expired"), (revoked_secret, "been revoked")):
        response = Client().get(TILE, **bearer(secret))
        assert response.status_code == 401
        assert message in response.json()["message"]
    assert [event["reason"] for event in security_events("token.refused")] == [
        "expired", "revoked",
    ]  # fmt: skip
    assert AuditEntry.objects.get(action="token.revoke").after["revoked_at"] is not None


def test_an_inactive_persons_token_never_works(personas, restricted):
    _, secret = make_token(personas.viewer_a)
    type(personas.viewer_a).objects.filter(pk=personas.viewer_a.pk).update(is_active=False)

    response = Client().get(TILE, **bearer(secret))

    assert response.status_code == 401
    assert "not active" in response.json()["message"]


def test_a_token_in_the_query_string_is_refused_and_never_authenticates(
    personas, restricted, security_events
):
    _, secret = make_token(personas.viewer_a)
    client = Client()
    for query in (f"token={secret}", f"access_token={secret}", f"q={secret}", "api_key=x"):
        response = client.get(f"{TILE}?{query}")
        assert response.status_code == 400, query
        assert "not accepted in the address" in response.json()["message"]
    # Even beside a good header: the token in the address has leaked into logs.
    assert client.get(f"{TILE}?token={secret}", **bearer(secret)).status_code == 400
    events = security_events("token.refused")
    assert {event["reason"] for event in events} == {"query_string"}
    assert all(secret not in repr(event) for event in events)
    assert not security_events("token.used")


def test_a_read_token_may_not_change_anything(personas, restricted, security_events):
    _, read = make_token(personas.data_manager_a, scope="read")
    _, write = make_token(personas.data_manager_a, scope="read_write")
    url = "/datasets/a-only-sites/style/"
    client = Client(enforce_csrf_checks=True)

    refused = client.post(url, {"kind": "simple"}, **bearer(read))
    assert refused.status_code == 403
    assert "may only read" in refused.json()["message"]
    assert 'error="insufficient_scope"' in refused["WWW-Authenticate"]
    assert security_events("token.refused")[0]["reason"] == "scope"
    assert client.get(url, **bearer(read)).status_code == 200  # reading is allowed

    # A read-and-write token may post, with no CSRF token: a browser never sends one by itself.
    saved = client.post(url, {"kind": "simple"}, **bearer(write))
    assert saved.status_code == 302
    entry = AuditEntry.objects.filter(action="dataset.update").latest("id")
    assert entry.actor_id == personas.data_manager_a.pk


def test_a_token_reaches_no_account_page(personas, security_events):
    """A token (in a QGIS project, say) is for data: through the account pages it could make a
    token that outlives it, or add an address to send a password reset to."""
    token, write = make_token(personas.data_manager_a, scope="read_write", days=1)
    client = Client(enforce_csrf_checks=True)
    asks = [
        ("post", "/accounts/tokens/new/", {"name": "more", "scope": "read_write", "lifetime": "365"}),
        ("post", "/accounts/email/", {"action_add": "", "email": "another@a.example"}),
        ("get", "/accounts/tokens/", {}),
        ("get", "/accounts/password/change/", {}),
        ("get", "/admin/", {}),
    ]  # fmt: skip
    for method, path, data in asks:
        refused = getattr(client, method)(path, data, **bearer(write))
        assert refused.status_code == 403, path
        assert "not for account pages" in refused.json()["message"]
    assert list(ApiToken.objects.all()) == [token]
    addresses = personas.data_manager_a.emailaddress_set.values_list("email", flat=True)
    assert list(addresses) == ["data-manager@a.example"]
    assert {event["reason"] for event in security_events("token.refused")} == {"account_pages"}


def test_a_session_still_needs_its_csrf_token(personas, restricted):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.data_manager_a)
    assert client.post("/datasets/a-only-sites/style/", {"kind": "simple"}).status_code == 403


def test_other_authorization_schemes_are_left_alone(personas, restricted):
    response = Client().get(TILE, HTTP_AUTHORIZATION="Negotiate abc")
    assert response.status_code == 404  # anonymous, not refused


def test_last_use_is_written_at_most_once_a_minute(personas, restricted, security_events):
    token, secret = make_token(personas.viewer_a)
    client = Client()

    client.get(TILE, **bearer(secret))
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get(TILE, **bearer(secret))
    token.refresh_from_db()
    assert token.last_used_at == first  # within the minute: not written again

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get(TILE, **bearer(secret))
    token.refresh_from_db()
    assert token.last_used_at > first
    assert len(security_events("token.used")) == 3  # every use is an event


def test_a_token_is_its_user_whatever_a_stale_session_says(personas, restricted, settings):
    """A client that sends a token beside an expired session (or one due for single sign-on's
    re-authentication) is the token's user: the session's checks never sign the token out."""
    import time

    from infraplan.accounts.middleware import SIGNED_IN_AT_SESSION_KEY
    from infraplan.sso.session import SSO_SESSION_KEY

    _, secret = make_token(personas.viewer_a)
    client = Client()
    client.force_login(personas.member_b)
    session = client.session
    session[SIGNED_IN_AT_SESSION_KEY] = time.time() - settings.SESSION_COOKIE_AGE - 60
    session[SSO_SESSION_KEY] = {"provider": "entra", "confirmed_at": 0}
    session.save()
    assert client.get(TILE, **bearer(secret)).status_code == 200
    assert client.get(TILE).status_code == 404  # the session alone: expired, signed out
