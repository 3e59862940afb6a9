"""Your account: name, password, leaving an organisation and deleting the account."""

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from infraplan.accounts.models import Membership, User
from infraplan.audit.models import AuditEntry
from infraplan.audit.services import audit_record
from infraplan.catalogue.models import Dataset
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points
from infraplan.core.testing.personas import PASSWORD
from infraplan.tokens.models import ApiToken
from infraplan.tokens.services import token_create

pytestmark = pytest.mark.django_db


def test_the_page_links_to_every_account_page(personas, client_as):
    page = client_as(personas.viewer_a).get(reverse("account-profile")).content.decode()
    for name in ("account_change_password", "mfa_index", "token-list", "account-delete"):
        assert f'href="{reverse(name)}"' in page, name
    assert reverse("membership-leave", args=["org-a"]) in page
    assert reverse("registration-list") not in page  # not an admin
    admin_page = client_as(personas.admin_a).get(reverse("account-profile")).content.decode()
    assert reverse("registration-list") in admin_page


def test_changing_your_name_is_audited(personas, client_as):
    client = client_as(personas.viewer_a)
    response = client.post(reverse("account-profile"), {"full_name": "  "})
    assert response.status_code == 400
    assert "Enter your full name" in response.content.decode()
    response = client.post(reverse("account-profile"), {"full_name": "Vera Viewer"})
    assert response.status_code == 302
    personas.viewer_a.refresh_from_db()
    assert personas.viewer_a.full_name == "Vera Viewer"
    entry = AuditEntry.objects.filter(action="user.update").latest("at")
    assert entry.before["full_name"] == "viewer" and entry.after["full_name"] == "Vera Viewer"


def test_changing_your_password_is_audited(
    personas, client, security_events, mailoutbox, django_capture_on_commit_callbacks
):
    client.post(reverse("account_login"), {"login": "viewer@a.example", "password": PASSWORD})
    new = "a much longer passphrase of words"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_change_password"),
            {"oldpassword": PASSWORD, "password1": new, "password2": new},
        )
    assert response.status_code == 302
    personas.viewer_a.refresh_from_db()
    assert personas.viewer_a.check_password(new)
    assert AuditEntry.objects.filter(action="password.changed", actor_id=personas.viewer_a.pk)
    assert mailoutbox[-1].to == ["viewer@a.example"]  # told, in case it was not them
    assert security_events("password.changed")[0]["user"] == "viewer@a.example"


def test_leaving_an_organisation(personas, client_as, security_events):
    client = client_as(personas.contributor_a)
    url = reverse("membership-leave", args=["org-a"])
    assert "Leave Organisation A" in client.get(url).content.decode()
    assert client.post(url).status_code == 302
    assert not Membership.objects.filter(user=personas.contributor_a).exists()
    entry = AuditEntry.objects.get(action="membership.delete")
    assert entry.before == {
        "user": "contributor@a.example", "organisation": "org-a", "role": "contributor",
    }  # fmt: skip
    [event] = security_events("role.changed")[-1:]
    assert (event["before"], event["after"]) == ("contributor", None)
    assert client.post(url).status_code == 404  # nothing left to leave
    # Someone else's membership is not yours to end.
    assert client_as(personas.member_b).post(url).status_code == 404
    assert Membership.objects.filter(organisation=personas.organisation_a).count() == 3


def test_the_last_admin_of_an_organisation_cannot_leave_it(personas, client_as):
    client = client_as(personas.admin_a)
    url = reverse("membership-leave", args=["org-a"])
    assert (
        Membership.objects.filter(organisation=personas.organisation_a, role="org_admin").count()
        == 1
    )
    response = client.post(url)
    assert response.status_code == 409
    page = response.content.decode()
    assert "You are the only administrator of Organisation A" in page
    assert "<title>Error: Leave" in page
    assert Membership.objects.filter(user=personas.admin_a, role="org_admin").exists()
    assert not AuditEntry.objects.filter(action="membership.delete").exists()
    # With a second admin named, the first may go.
    Membership.objects.filter(user=personas.data_manager_a).update(role="org_admin")
    assert client.post(url).status_code == 302
    assert not Membership.objects.filter(user=personas.admin_a).exists()


def test_deleting_your_account_keeps_contributions_and_anonymises_you(
    personas, client, security_events
):
    user = personas.data_manager_a
    dataset = dataset_make(slug="sites-by-dm", owner=personas.organisation_a)
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    with transaction.atomic():
        audit_record(actor=user, action="dataset.update", target=dataset)
    token_create(
        user=user, actor=user, name="QGIS", scope="read",
        expires_at=timezone.now() + timedelta(days=30),
    )  # fmt: skip
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    Authenticator.objects.create(user=user, type="totp", data={"secret": "x"})
    page = client.get(reverse("account-delete")).content.decode()
    assert "belong to your organisation and stay" in page
    assert "The audit log keeps the email address" in page
    # Deleting first asks for the password again, then carries on with the deletion.
    response = client.post(reverse("account-delete"))
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert User.objects.get(pk=user.pk).is_active
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert not client.get(reverse("home")).context["user"].is_authenticated

    user.refresh_from_db()
    assert user.email == f"deleted-user-{user.pk}@deleted.invalid"
    assert (user.full_name, user.is_active, user.has_usable_password()) == ("", False, False)
    assert not Membership.objects.filter(user=user).exists()
    assert not EmailAddress.objects.filter(user=user).exists()
    assert not Authenticator.objects.filter(user=user).exists()
    assert not ApiToken.objects.live().filter(user=user).exists()
    # Contributions stay with the organisation; the audit log keeps the name it recorded.
    assert Dataset.objects.get(slug="sites-by-dm").owner == personas.organisation_a
    assert AuditEntry.objects.get(action="dataset.update").actor_label == "data-manager@a.example"
    deleted = AuditEntry.objects.get(action="user.delete")
    assert deleted.before["email"] == "data-manager@a.example" and deleted.after["left"] == [
        "org-a"
    ]
    assert security_events("account.deleted")[0]["subject"] == "data-manager@a.example"
    # The address is free: nobody can sign in as the deleted account.
    response = client.post(
        reverse("account_login"), {"login": "data-manager@a.example", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="data-manager@a.example").exists()


def test_deleting_asks_you_to_confirm_it_is_you(personas, client_as):
    client = client_as(personas.viewer_a)  # signed in a while ago, not just now
    response = client.post(reverse("account-delete"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    personas.viewer_a.refresh_from_db()
    assert personas.viewer_a.is_active and personas.viewer_a.email == "viewer@a.example"


def test_every_new_password_form_gives_the_advice(personas, client_as):
    page = client_as(personas.viewer_a).get(reverse("account_change_password")).content.decode()
    assert "Use at least 12 characters" in page and "there are no other rules" in page


def test_account_pages_summarise_errors_once_above_their_heading(personas, client_as):
    """GOV.UK places the error summary at the top of the main content, above the heading: the
    account pages drew it inside the form, below the heading and introduction, and the email
    page drew the add-address form's twice."""
    signed_in = client_as(personas.contributor_a)
    pages = [
        client_as(None).post(
            reverse("account_login"), {"login": "viewer@a.example", "password": "not it"}
        ),
        signed_in.post(reverse("account_email"), {"action_add": "", "email": "someone@gmail.com"}),
    ]
    for response in pages:
        content = response.content.decode()
        main = content.split('id="main-content"', 1)[1]
        assert main.count('class="govuk-error-summary"') == 1, response.request["PATH_INFO"]
        assert main.index('class="govuk-error-summary"') < main.index("<h1"), response.request[
            "PATH_INFO"
        ]
        assert "<title>Error: " in content
