"""People and organisations: created by admins, every change audited, sign in and out."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from infraplan.accounts.models import Membership, Organisation, Role, User
from infraplan.accounts.services import organisations_sync_from_profile
from infraplan.audit.models import AuditEntry
from infraplan.core.testing.personas import PASSWORD

pytestmark = pytest.mark.django_db


def test_roles_are_ordered():
    assert Role.ORG_ADMIN.includes(Role.DATA_MANAGER)
    assert Role.CONTRIBUTOR.includes(Role.VIEWER)
    assert not Role.VIEWER.includes(Role.CONTRIBUTOR)


def test_profile_organisations_are_synced_idempotently():
    first = organisations_sync_from_profile(actor=None)
    assert len(first) == 14
    kcc = Organisation.objects.get(slug="kent-county-council")
    assert kcc.email_domains == ["kent.gov.uk"] and kcc.area_code == "E10000016"
    entries = AuditEntry.objects.count()
    organisations_sync_from_profile(actor=None)
    assert AuditEntry.objects.count() == entries  # nothing changed, nothing recorded


def test_admin_creates_a_user_with_a_membership_and_it_is_audited(personas, client_as):
    client = client_as(personas.platform_admin)
    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "new.officer@a.example",
            "full_name": "New Officer",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "usable_password": "true",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-organisation": personas.organisation_a.pk,
            "memberships-0-role": "contributor",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(email="new.officer@a.example")
    assert Membership.objects.get(user=user).role == "contributor"
    created = AuditEntry.objects.get(action="user.create", target_id=str(user.pk))
    assert created.actor_id == personas.platform_admin.pk and created.note == "via admin"
    assert "password" not in created.after
    membership = AuditEntry.objects.get(action="membership.create")
    assert membership.after["role"] == "contributor"


def test_create_user_command(personas, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    call_command(
        "create_user", "officer@b.example", "--organisation", "org-b", "--role", "data_manager",
        "--password-stdin", stdout=io.StringIO(),
    )  # fmt: skip
    user = User.objects.get(email="officer@b.example")
    assert user.check_password(PASSWORD)
    assert user.memberships.get().role == "data_manager"
    with pytest.raises(CommandError, match="No organisation 'nowhere'"):
        call_command("create_user", "x@b.example", "--organisation", "nowhere", "--password-stdin")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    with pytest.raises(CommandError, match="too short"):
        call_command("create_user", "y@b.example", "--password-stdin")
    assert not User.objects.filter(email="y@b.example").exists()


def test_sign_in_and_out(personas, client):
    response = client.post(
        reverse("account_login"), {"login": "viewer@a.example", "password": "wrong password"}
    )
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    response = client.post(
        reverse("account_login"), {"login": "viewer@a.example", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get(reverse("home")).context["user"] == personas.viewer_a
    client.post(reverse("account_logout"))
    assert not client.get(reverse("home")).context["user"].is_authenticated


def test_the_editor_permission_for_guides(personas, client_as):
    assert personas.platform_admin.can_edit_guides  # platform admins may
    assert not any(
        user.can_edit_guides
        for user in (personas.viewer_a, personas.admin_a, personas.data_manager_a)
    )  # no organisation role carries it
    personas.viewer_a.is_guide_editor = True
    personas.viewer_a.save()
    assert personas.viewer_a.can_edit_guides
    personas.viewer_a.is_active = False
    assert not personas.viewer_a.can_edit_guides
    change = reverse("admin:accounts_user_change", args=[personas.viewer_a.pk])
    assert (
        'name="is_guide_editor"' in client_as(personas.platform_admin).get(change).content.decode()
    )
