"""Deactivating a person takes every kind of access away at once: sign-in, sessions, tokens."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from infraplan.audit.models import AuditEntry
from infraplan.tokens.models import ApiToken
from infraplan.tokens.services import token_create, user_deactivate, user_sessions

pytestmark = pytest.mark.django_db

PAGE = "/datasets/a-only-sites/"  # organisation A's restricted dataset


def signed_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    assert client.get(PAGE).status_code == 200
    return client


def test_deactivation_ends_sessions_and_revokes_tokens(personas, restricted, security_events):
    viewer = personas.viewer_a
    laptop, phone = signed_in_client(viewer), signed_in_client(viewer)
    colleague = signed_in_client(personas.contributor_a)
    _, secret = token_create(
        user=viewer, name="QGIS", scope="read", expires_at=timezone.now() + timedelta(days=7)
    )
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert Client().get(PAGE, **bearer).status_code == 200
    assert len(user_sessions(viewer)) == 2

    user_deactivate(user=viewer, actor=personas.platform_admin)

    viewer.refresh_from_db()
    assert not viewer.is_active
    for client in (laptop, phone):
        assert client.get(PAGE).status_code == 404
        assert client.cookies["sessionid"].value not in Session.objects.values_list(
            "session_key", flat=True
        )
    assert Client().get(PAGE, **bearer).status_code == 401
    assert ApiToken.objects.get(user=viewer).revoked_at is not None
    # Nobody else is touched.
    assert colleague.get(PAGE).status_code == 200

    actions = list(
        AuditEntry.objects.filter(actor_id=personas.platform_admin.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["user.deactivate", "token.revoke", "user.access_revoke"]
    revoke = AuditEntry.objects.get(action="user.access_revoke")
    assert revoke.after == {"tokens_revoked": 1, "sessions_ended": 2}
    (event,) = security_events("user.deactivated")
    assert event["user"] == "platform@admin.example"
    assert (event["subject"], event["tokens_revoked"], event["sessions_ended"]) == (
        "viewer@a.example", 1, 2,
    )  # fmt: skip


def test_deactivation_finds_sessions_whose_key_changed_after_sign_in(personas, restricted):
    client = signed_in_client(personas.viewer_a)
    session = client.session
    session.cycle_key()  # as a password change or re-authentication does
    session.save()
    client.cookies["sessionid"] = session.session_key

    user_deactivate(user=personas.viewer_a, actor=personas.platform_admin)

    assert not Session.objects.filter(session_key=session.session_key).exists()


def test_deactivation_in_the_admin_revokes_too(personas, restricted, client_as, security_events):
    _, secret = token_create(
        user=personas.viewer_a, name="GDAL", scope="read",
        expires_at=timezone.now() + timedelta(days=7),
    )  # fmt: skip
    victim = signed_in_client(personas.viewer_a)
    admin = client_as(personas.platform_admin)
    url = f"/admin/accounts/user/{personas.viewer_a.pk}/change/"
    form = admin.get(url).context["adminform"].form
    data = {
        name: value for name, value in form.initial.items()
        if value is not None and name not in ("is_active", "password", "last_login", "date_joined")
    }  # fmt: skip
    data |= {
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    if "is_staff" in data and not data["is_staff"]:
        del data["is_staff"]
    if "is_superuser" in data and not data["is_superuser"]:
        del data["is_superuser"]

    response = admin.post(url, data)

    assert response.status_code == 302, response.context and response.context["adminform"].errors
    assert victim.get(PAGE).status_code == 404
    assert Client().get(PAGE, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    (event,) = security_events("user.deactivated")
    assert event["user"] == "platform@admin.example"
