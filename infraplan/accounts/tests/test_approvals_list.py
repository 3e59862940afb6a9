"""The approvals list as it grows: a page at a time, oldest first, each decision taken from
whichever page it is on, and its times saying whether they are GMT or BST."""

import html
import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from infraplan.accounts.models import Organisation, Registration, User
from infraplan.accounts.views import REGISTRATIONS_PER_PAGE

pytestmark = pytest.mark.django_db
LIST = reverse("registration-list")


def pending(organisation: Organisation, count: int) -> list[Registration]:
    """``count`` registrations waiting, oldest first."""
    made = []
    for number in range(count):
        user = User.objects.create(email=f"applicant{number:03}@a.example", is_active=False)
        made.append(Registration.objects.create(user=user, organisation=organisation, via="local"))
    return made


def listed(response) -> list[str]:
    return [registration.user.email for registration, _ in response.context["pending"]]


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def decide(client, registration: Registration, page: int | None = None, **fields):
    url = reverse("registration-decide", args=[registration.pk])
    data = {f"r{registration.pk}-{name}": value for name, value in fields.items()}
    return client.post(f"{url}?page={page}" if page else url, data)


def test_the_list_comes_a_page_at_a_time_oldest_first(personas, client_as):
    # 200 waiting made a page of 605 kB, every card with its form.
    made = pending(personas.organisation_a, 2 * REGISTRATIONS_PER_PAGE + 5)
    emails = [registration.user.email for registration in made]
    admin = client_as(personas.admin_a)

    first = admin.get(LIST)
    assert first.status_code == 200
    assert listed(first) == emails[:REGISTRATIONS_PER_PAGE]
    assert "45 registrations wait for your decision, oldest first. This is page 1 of 3." in text(
        first
    )
    content = first.content.decode()
    assert '<nav class="govuk-pagination" aria-label="Pages of registrations">' in content
    assert 'href="?page=2" rel="next"' in content and 'rel="prev"' not in content
    last = admin.get(LIST, {"page": 3})
    assert listed(last) == emails[2 * REGISTRATIONS_PER_PAGE :]
    assert 'href="?page=2" rel="prev"' in last.content.decode()
    # Any page number an address may carry lands on a real page.
    assert listed(admin.get(LIST, {"page": "nonsense"})) == listed(first)
    assert listed(admin.get(LIST, {"page": 99})) == listed(last)
    # Each card's form comes back to the page it is on.
    second = admin.get(LIST, {"page": 2}).content.decode()
    decide_url = reverse("registration-decide", args=[made[REGISTRATIONS_PER_PAGE].pk])
    assert f'action="{decide_url}?page=2"' in second


def test_a_decision_goes_back_to_its_page_and_a_mistake_to_where_the_registration_is_now(
    personas, client_as, mailoutbox
):
    made = pending(personas.organisation_a, 2 * REGISTRATIONS_PER_PAGE + 5)
    admin = client_as(personas.admin_a)

    response = decide(admin, made[REGISTRATIONS_PER_PAGE + 5], page=2, decision="approve")
    assert response.status_code == 302 and response["Location"] == f"{LIST}?page=2"
    response = decide(admin, made[0], decision="reject", reason="Not one of ours")
    assert response.status_code == 302 and response["Location"] == LIST
    assert Registration.objects.filter(status="pending").count() == 43

    # The first of page 2 when the admin loaded it is the last of page 1 now: the form goes
    # back with its error on page 1, where the registration is.
    moved = made[REGISTRATIONS_PER_PAGE]
    response = decide(admin, moved, page=2)
    assert response.status_code == 400
    assert response.context["page"].number == 1
    assert listed(response)[-1] == moved.user.email
    assert "Error: Registrations waiting for approval" in text(response)
    assert "Select approve or reject" in text(response)
    moved.refresh_from_db()
    assert moved.status == "pending"


def test_when_someone_registered_says_gmt_or_bst_in_the_hour_that_comes_twice(personas, client_as):
    early, late = pending(personas.organisation_a, 2)
    # 00:30 and 01:30 UTC on the last Sunday of October are both 01:30 in London.
    Registration.objects.filter(pk=early.pk).update(
        created_at=datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    )
    Registration.objects.filter(pk=late.pk).update(
        created_at=datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    )
    page = text(client_as(personas.admin_a).get(LIST))
    assert re.findall(r"Registered (25 October 2026 01:30 [A-Z]+)", page) == [
        "25 October 2026 01:30 BST",
        "25 October 2026 01:30 GMT",
    ]


def test_a_registration_another_admin_decided_first_says_who_and_changes_nothing(
    personas, client_as, mailoutbox
):
    """The second admin's page was loaded before the first admin's decision."""
    [registration] = pending(personas.organisation_a, 1)
    assert decide(client_as(personas.admin_a), registration, decision="approve").status_code == 302
    sent = len(mailoutbox)

    second = client_as(personas.platform_admin)
    response = decide(second, registration, page=2, decision="reject", reason="No")

    assert response.status_code == 302 and response["Location"] == f"{LIST}?page=2"
    page = second.get(response["Location"])
    assert ("applicant000@a.example had already been approved by admin@a.example at ") in text(
        page
    ) and "Your decision was not recorded." in text(page)
    registration.refresh_from_db()
    assert (registration.status, registration.decided_by) == ("approved", personas.admin_a)
    assert len(mailoutbox) == sent  # the applicant is not told twice


def test_a_registration_decided_at_the_same_moment_says_so_too(personas, client_as, monkeypatch):
    """Both admins' requests found it waiting; the other's decision committed first."""
    from infraplan.accounts import views
    from infraplan.accounts.services import registration_decide

    [registration] = pending(personas.organisation_a, 1)

    def decided_first_by_another(**kwargs):
        other = {**kwargs, "actor": personas.admin_a, "approve": False, "reason": "Duplicate"}
        registration_decide(**other)
        return registration_decide(**kwargs)

    monkeypatch.setattr(views, "registration_decide", decided_first_by_another)
    second = client_as(personas.platform_admin)
    response = decide(second, registration, decision="approve")

    assert response.status_code == 302 and response["Location"] == LIST
    page = second.get(LIST)
    assert "applicant000@a.example had already been rejected by admin@a.example" in text(page)
    registration.refresh_from_db()
    assert registration.status == "rejected"
