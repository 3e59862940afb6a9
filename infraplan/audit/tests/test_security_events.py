"""Security events for role changes and for restricted data leaving the service as a picture or
a table (sign-in and token events are tested with their features)."""

import pytest

from infraplan.accounts.services import membership_set

pytestmark = pytest.mark.django_db


def test_a_role_change_is_a_security_event(personas, security_events):
    membership_set(
        actor=personas.admin_a, user=personas.viewer_a, organisation=personas.organisation_a,
        role="data_manager",
    )  # fmt: skip
    membership_set(
        actor=personas.platform_admin, user=personas.member_b,
        organisation=personas.organisation_a, role="viewer",
    )  # fmt: skip
    # Setting the role someone already has changes nothing and says nothing.
    membership_set(
        actor=personas.admin_a, user=personas.viewer_a, organisation=personas.organisation_a,
        role="data_manager",
    )  # fmt: skip

    changed, granted = security_events("role.changed")
    assert (changed["user"], changed["subject"], changed["organisation"]) == (
        "admin@a.example", "viewer@a.example", "org-a",
    )  # fmt: skip
    assert (changed["before"], changed["after"]) == ("viewer", "data_manager")
    assert (granted["before"], granted["after"], granted["user"]) == (
        None, "viewer", "platform@admin.example",
    )  # fmt: skip


@pytest.mark.parametrize("url", ["/map.png?layers={layers}", "/map/features/?layers={layers}"])
def test_a_picture_or_table_of_restricted_data_is_a_security_event(
    personas, client_as, districts, restricted, security_events, url
):
    member, outsider = client_as(personas.viewer_a), client_as(personas.member_b)

    assert member.get(url.format(layers="districts")).status_code == 200
    assert outsider.get(url.format(layers="districts,a-only-sites")).status_code == 200
    assert not security_events("export.restricted")  # public only: nothing restricted left

    assert member.get(url.format(layers="districts,a-only-sites")).status_code == 200
    (event,) = security_events("export.restricted")
    assert event["user"] == "viewer@a.example"
    assert event["datasets"] == ["a-only-sites"]
    assert event["format"] == ("png" if "png" in url else "table")
