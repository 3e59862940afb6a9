"""Test personas: one person for each kind of access the permission check distinguishes.

Organisation A owns the restricted test data; B is a neighbouring organisation. Every view and
endpoint is exercised as each of them (see tests/test_url_matrix.py).
"""

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser

from infraplan.accounts.models import Organisation, Role, User
from infraplan.accounts.services import membership_set, user_create

PASSWORD = "correct-horse-battery-staple-42"


@dataclass(frozen=True)
class Personas:
    organisation_a: Organisation
    organisation_b: Organisation
    anonymous: AnonymousUser
    viewer_a: User
    contributor_a: User
    data_manager_a: User
    admin_a: User
    member_b: User
    platform_admin: User

    def all(self) -> dict[str, User | AnonymousUser]:
        return {
            "anonymous": self.anonymous,
            "viewer_a": self.viewer_a,
            "contributor_a": self.contributor_a,
            "data_manager_a": self.data_manager_a,
            "admin_a": self.admin_a,
            "member_b": self.member_b,
            "platform_admin": self.platform_admin,
        }


def make_personas() -> Personas:
    organisation_a = Organisation.objects.create(
        slug="org-a", name="Organisation A", kind="district", email_domains=["a.example"]
    )
    organisation_b = Organisation.objects.create(
        slug="org-b", name="Organisation B", kind="district", email_domains=["b.example"]
    )

    def member(email: str, organisation: Organisation, role: Role) -> User:
        user = user_create(
            actor=None, email=email, password=PASSWORD, full_name=email.split("@")[0]
        )
        membership_set(actor=None, user=user, organisation=organisation, role=role)
        return user

    return Personas(
        organisation_a=organisation_a,
        organisation_b=organisation_b,
        anonymous=AnonymousUser(),
        viewer_a=member("viewer@a.example", organisation_a, Role.VIEWER),
        contributor_a=member("contributor@a.example", organisation_a, Role.CONTRIBUTOR),
        data_manager_a=member("data-manager@a.example", organisation_a, Role.DATA_MANAGER),
        admin_a=member("admin@a.example", organisation_a, Role.ORG_ADMIN),
        member_b=member("member@b.example", organisation_b, Role.VIEWER),
        platform_admin=user_create(
            actor=None, email="platform@admin.example", password=PASSWORD, is_platform_admin=True
        ),
    )
