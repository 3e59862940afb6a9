"""Changes made in the Django admin, through its real change forms as a platform admin: the audit
entry shows many-to-many fields as they were and as they are, and a membership given, changed or
ended there is a security event, as it is through the services."""

import pytest
from django import forms
from django.contrib.auth.models import Group

from infraplan.accounts.models import Membership
from infraplan.audit.models import AuditEntry
from infraplan.audit.services import model_snapshot
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(personas, client_as):
    return client_as(personas.platform_admin)


def _field_data(form, name: str) -> dict:
    """What the browser posts for one field of ``form`` left as the page shows it."""
    field, key = form.fields[name], form.add_prefix(name)
    if field.disabled:
        return {}
    value = form[name].value()
    if isinstance(field.widget, forms.MultiWidget):
        parts = field.widget.decompress(value)
        return {f"{key}_{index}": part for index, part in enumerate(parts) if part is not None}
    if isinstance(field, forms.BooleanField):
        return {key: "on"} if value else {}
    if value is None:
        return {}
    if isinstance(value, list | tuple):
        return {key: [str(item) for item in value]}
    return {key: str(value)}


def change_form_data(page) -> dict:
    """The admin change form on ``page`` (with its inlines) as it would be posted unchanged."""
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        data |= _field_data(form, name)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = str(management[name].value())
        for inline_form in formset.forms:
            for name in inline_form.fields:
                data |= _field_data(inline_form, name)
    return data


def post_change(admin, url: str, **changes) -> None:
    data = change_form_data(admin.get(url)) | changes
    response = admin.post(url, data)
    assert response.status_code == 302, response.context and (
        response.context["adminform"].errors,
        [inline.formset.errors for inline in response.context["inline_admin_formsets"]],
    )


def test_a_contributing_organisation_added_in_the_admin_is_in_the_audit_entry(personas, admin):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    dataset.shared_with.add(personas.organisation_a)
    url = f"/admin/catalogue/dataset/{dataset.pk}/change/"

    post_change(admin, url, contributing_organisations=[str(personas.organisation_b.pk)])

    entry = AuditEntry.objects.get(action="dataset.update", note="via admin")
    assert entry.actor_label == "platform@admin.example"
    assert entry.before["contributing_organisations"] == []
    assert entry.after["contributing_organisations"] == ["org-b"]
    assert entry.before["shared_with"] == entry.after["shared_with"] == ["org-a"]
    assert list(dataset.contributing_organisations.all()) == [personas.organisation_b]


def test_a_many_to_many_field_without_slugs_is_recorded_by_primary_key(personas):
    reviewers, editors = Group.objects.create(name="Reviewers"), Group.objects.create(name="Ed")
    personas.viewer_a.groups.add(editors, reviewers)
    assert model_snapshot(personas.viewer_a)["groups"] == sorted([reviewers.pk, editors.pk])


def membership_rows(admin, user) -> tuple[str, dict]:
    url = f"/admin/accounts/user/{user.pk}/change/"
    return url, change_form_data(admin.get(url))


def row_of(data: dict, membership: Membership) -> str:
    """The inline prefix (``memberships-<n>``) of ``membership``'s row in the change form."""
    return next(
        key.removesuffix("-id")
        for key, value in data.items()
        if key.startswith("memberships-") and key.endswith("-id") and value == str(membership.pk)
    )


def test_a_role_changed_in_the_admin_is_a_security_event(personas, admin, security_events):
    user = personas.viewer_a
    url, data = membership_rows(admin, user)
    row = row_of(data, user.memberships.get())

    response = admin.post(url, data | {f"{row}-role": "data_manager"})

    assert response.status_code == 302
    assert user.memberships.get().role == "data_manager"
    (event,) = security_events("role.changed")
    assert (event["user"], event["subject"], event["organisation"]) == (
        "platform@admin.example", "viewer@a.example", "org-a",
    )  # fmt: skip
    assert (event["before"], event["after"], event["via"]) == ("viewer", "data_manager", "admin")
    entry = AuditEntry.objects.get(action="membership.update", note="via admin")
    assert (entry.before["role"], entry.after["role"]) == ("viewer", "data_manager")


def test_a_membership_ended_in_the_admin_is_a_security_event(personas, admin, security_events):
    user = personas.viewer_a
    url, data = membership_rows(admin, user)
    row = row_of(data, user.memberships.get())

    response = admin.post(url, data | {f"{row}-DELETE": "on"})

    assert response.status_code == 302
    assert not user.memberships.exists()
    (event,) = security_events("role.changed")  # as membership_leave reports leaving
    assert (event["subject"], event["organisation"]) == ("viewer@a.example", "org-a")
    assert (event["before"], event["after"]) == ("viewer", None)
    assert AuditEntry.objects.filter(action="membership.delete", note="via admin").exists()


def test_a_membership_given_in_the_admin_is_a_security_event(personas, admin, security_events):
    user = personas.viewer_a
    url, data = membership_rows(admin, user)
    extra = f"memberships-{data['memberships-INITIAL_FORMS']}"

    organisation_b = str(personas.organisation_b.pk)

    response = admin.post(
        url, data | {f"{extra}-organisation": organisation_b, f"{extra}-role": "viewer"}
    )

    assert response.status_code == 302
    assert user.memberships.filter(organisation=personas.organisation_b).exists()
    (event,) = security_events("role.changed")
    assert (event["organisation"], event["before"], event["after"]) == ("org-b", None, "viewer")


def test_saving_the_person_unchanged_says_nothing(personas, admin, security_events):
    url, data = membership_rows(admin, personas.viewer_a)
    assert admin.post(url, data).status_code == 302
    assert not security_events("role.changed")
