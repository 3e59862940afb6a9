"""Members: an organisation admin lists their organisation's members, changes their roles and
removes them, each change audited and logged as approvals and leaving are; nobody else's."""

import html
import re

import pytest
from django.urls import reverse

from infraplan.accounts.models import Membership, Role
from infraplan.accounts.services import (
    MembershipError,
    membership_remove,
    membership_role_change,
    membership_set,
)
from infraplan.audit.models import AuditEntry
from infraplan.core.testing.pages import error_summary

from .test_account_wording import main_content, title_and_heading

pytestmark = pytest.mark.django_db
LIST = reverse("member-list")


def membership(user) -> Membership:
    return Membership.objects.get(user=user)


def role_url(user) -> str:
    return reverse("member-role", args=[membership(user).pk])


def remove_url(user) -> str:
    return reverse("member-remove", args=[membership(user).pk])


def text(response) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", main_content(response)).split()))


def test_the_list_shows_the_admins_own_members_with_role_and_since_when(personas, client_as):
    response = client_as(personas.admin_a).get(LIST)
    assert response.status_code == 200
    listed = [item.user.email for item in response.context["page"].object_list]
    assert listed == [
        "admin@a.example", "contributor@a.example", "data-manager@a.example", "viewer@a.example",
    ]  # fmt: skip
    page = text(response)
    assert "member@b.example" not in page
    assert "data-manager data-manager@a.example Organisation A Data manager" in page
    assert "<time datetime=" in main_content(response)
    assert role_url(personas.viewer_a) in main_content(response)
    # Platform admins manage every organisation's members, as they decide every registration.
    everyone = client_as(personas.platform_admin).get(LIST)
    assert "member@b.example" in text(everyone)


def test_the_profile_links_admins_to_the_members(personas, client_as):
    admin_page = client_as(personas.admin_a).get(reverse("account-profile")).content.decode()
    assert f'href="{LIST}"' in admin_page
    viewer_page = client_as(personas.viewer_a).get(reverse("account-profile")).content.decode()
    assert f'href="{LIST}"' not in viewer_page


@pytest.mark.parametrize("persona", ["viewer_a", "contributor_a", "data_manager_a", "member_b"])
def test_members_who_are_not_admins_find_none_of_the_pages(personas, client_as, persona):
    client = client_as(getattr(personas, persona))
    assert client.get(LIST).status_code == 404
    assert client.get(role_url(personas.viewer_a)).status_code == 404
    assert client.post(role_url(personas.viewer_a), {"role": "org_admin"}).status_code == 404
    assert client.post(remove_url(personas.viewer_a)).status_code == 404
    assert membership(personas.viewer_a).role == Role.VIEWER


def test_anonymous_visitors_are_sent_to_sign_in(personas, client):
    assert client.get(LIST).status_code == 302
    assert client.post(remove_url(personas.viewer_a)).status_code == 302


def test_admins_without_a_second_factor_are_sent_to_present_one(personas, client_as):
    client = client_as(personas.admin_a, two_factor=False)
    for response in (
        client.get(LIST),
        client.post(role_url(personas.viewer_a), {"role": "org_admin"}),
        client.post(remove_url(personas.viewer_a)),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("mfa_activate_totp"))
    assert membership(personas.viewer_a).role == Role.VIEWER


def test_another_organisations_member_is_not_found(personas, client_as):
    client = client_as(personas.admin_a)
    assert client.get(role_url(personas.member_b)).status_code == 404
    assert client.post(role_url(personas.member_b), {"role": "org_admin"}).status_code == 404
    assert client.get(remove_url(personas.member_b)).status_code == 404
    assert client.post(remove_url(personas.member_b)).status_code == 404
    assert membership(personas.member_b).role == Role.VIEWER


def test_changing_a_role_is_audited_and_logged(personas, client_as, security_events):
    client = client_as(personas.admin_a)
    response = client.post(role_url(personas.viewer_a), {"role": "data_manager"})
    assert response.status_code == 302 and response["Location"] == LIST
    assert membership(personas.viewer_a).role == Role.DATA_MANAGER
    entry = AuditEntry.objects.filter(action="membership.set").latest("pk")
    assert entry.actor_id == personas.admin_a.pk
    assert entry.before == {"role": "viewer"}
    assert entry.after == {
        "user": "viewer@a.example", "organisation": "org-a", "role": "data_manager",
    }  # fmt: skip
    [event] = security_events("role.changed")[-1:]
    assert (event["user"], event["subject"], event["before"], event["after"]) == (
        "admin@a.example", "viewer@a.example", "viewer", "data_manager",
    )  # fmt: skip
    assert event["path"] == role_url(personas.viewer_a)
    followed = client.get(LIST)
    assert "viewer's role in Organisation A is now data manager." in html.unescape(
        followed.content.decode()
    )


def test_removing_a_member_asks_first_then_is_audited_and_logged(
    personas, client_as, security_events
):
    client = client_as(personas.admin_a)
    url = remove_url(personas.contributor_a)
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert Membership.objects.filter(user=personas.contributor_a).exists()
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == LIST
    assert not Membership.objects.filter(user=personas.contributor_a).exists()
    entry = AuditEntry.objects.get(action="membership.delete")
    assert entry.actor_id == personas.admin_a.pk
    assert entry.before == {
        "user": "contributor@a.example", "organisation": "org-a", "role": "contributor",
    }  # fmt: skip
    [event] = security_events("role.changed")[-1:]
    assert (event["user"], event["subject"], event["before"], event["after"]) == (
        "admin@a.example", "contributor@a.example", "contributor", None,
    )  # fmt: skip
    assert client.post(url).status_code == 404  # nothing left to remove


def test_the_last_admin_can_neither_demote_nor_remove_themselves(personas, client_as):
    client = client_as(personas.admin_a)
    demoted = client.post(role_url(personas.admin_a), {"role": "viewer"})
    assert demoted.status_code == 409
    problem = (
        "You are the only administrator of Organisation A. "
        "Make another member an administrator first."
    )
    assert error_summary(demoted) == [problem]
    assert title_and_heading(demoted)[0] == "Error: Change the role of admin"
    removed = client.post(remove_url(personas.admin_a))
    assert removed.status_code == 409
    assert problem in text(removed)
    assert title_and_heading(removed)[0] == "Error: Remove admin from Organisation A"
    assert membership(personas.admin_a).role == Role.ORG_ADMIN
    assert not AuditEntry.objects.filter(
        action__startswith="membership.", actor_id=personas.admin_a.pk
    )

    # With a second admin named, the first may step down, and no longer manages members.
    membership_set(
        actor=None, user=personas.data_manager_a, organisation=personas.organisation_a,
        role=Role.ORG_ADMIN,
    )  # fmt: skip
    response = client.post(role_url(personas.admin_a), {"role": "contributor"})
    assert response.status_code == 302 and response["Location"] == reverse("account-profile")
    assert membership(personas.admin_a).role == Role.CONTRIBUTOR
    assert client.get(LIST).status_code == 404


def test_a_platform_admin_is_told_who_the_last_admin_is(personas, client_as):
    response = client_as(personas.platform_admin).post(remove_url(personas.admin_a))
    assert response.status_code == 409
    assert "admin is the only administrator of Organisation A." in text(response)
    assert Membership.objects.filter(user=personas.admin_a).exists()


def test_a_role_must_be_chosen(personas, client_as):
    response = client_as(personas.admin_a).post(role_url(personas.viewer_a), {})
    assert response.status_code == 400
    assert error_summary(response) == ["Role: Select a role"]
    assert title_and_heading(response)[0] == "Error: Change the role of viewer"


@pytest.mark.parametrize(
    ("page", "heading"),
    [
        ("list", "Members"),
        ("role", "Change the role of viewer"),
        ("remove", "Remove viewer from Organisation A"),
    ],
)
def test_each_page_is_titled_as_headed(personas, client_as, page, heading):
    url = {
        "list": LIST,
        "role": role_url(personas.viewer_a),
        "remove": remove_url(personas.viewer_a),
    }
    response = client_as(personas.admin_a).get(url[page])
    assert response.status_code == 200
    assert title_and_heading(response) == (heading, heading)
    assert 'class="govuk-heading-l"' in main_content(response)


def test_the_role_page_offers_each_role_as_a_radio_with_the_current_one_chosen(personas, client_as):
    page = client_as(personas.admin_a).get(role_url(personas.contributor_a)).content.decode()
    radios = re.findall(r'<input class="govuk-radios__input"[^>]*value="(\w+)"([^>]*)>', page)
    assert [value for value, _ in radios] == [
        "viewer", "contributor", "data_manager", "org_admin",
    ]  # fmt: skip
    assert [value for value, rest in radios if "checked" in rest] == ["contributor"]
    assert "<legend" in page
    for label in ("Viewer", "Contributor", "Data manager", "Organisation admin"):
        assert f">{label}</label>" in page


def test_the_services_refuse_an_admin_another_organisations_member(personas):
    outsider = membership(personas.member_b)
    with pytest.raises(MembershipError, match="cannot manage the members of Organisation B"):
        membership_role_change(actor=personas.admin_a, membership=outsider, role=Role.ORG_ADMIN)
    with pytest.raises(MembershipError, match="cannot manage the members of Organisation B"):
        membership_remove(actor=personas.admin_a, membership=outsider)
    assert membership(personas.member_b).role == Role.VIEWER
