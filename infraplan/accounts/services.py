"""Writes to people and organisations, each recorded in the audit log."""

from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from infraplan.audit.services import audit_record, model_snapshot

from .models import Membership, Organisation, Role, User

USER_FIELDS = ["email", "full_name", "is_active", "is_staff", "is_superuser"]
ORGANISATION_FIELDS = ["slug", "name", "kind", "area_code", "email_domains", "is_active"]


def organisations_sync_from_profile(*, actor: Any = None) -> list[Organisation]:
    """Create or update the organisations named in the authority profile.

    Organisations no longer in the profile are left as they are (their members and data
    remain); an admin deactivates them deliberately.
    """
    synced = []
    with transaction.atomic():
        for entry in settings.AUTHORITY_PROFILE.organisations:
            values = {
                "name": entry.name,
                "kind": entry.kind,
                "area_code": entry.area or "",
                "email_domains": list(entry.email_domains),
            }
            organisation = Organisation.objects.select_for_update().filter(slug=entry.slug).first()
            if organisation is None:
                organisation = Organisation.objects.create(slug=entry.slug, **values)
                audit_record(
                    actor=actor, action="organisation.create", target=organisation,
                    after=model_snapshot(organisation, ORGANISATION_FIELDS),
                )  # fmt: skip
            else:
                before = model_snapshot(organisation, ORGANISATION_FIELDS)
                for name, value in values.items():
                    setattr(organisation, name, value)
                after = model_snapshot(organisation, ORGANISATION_FIELDS)
                if after != before:
                    organisation.save()
                    audit_record(
                        actor=actor, action="organisation.update", target=organisation,
                        before=before, after=after,
                    )  # fmt: skip
            synced.append(organisation)
    return synced


def user_create(
    *,
    actor: Any,
    email: str,
    password: str | None,
    full_name: str = "",
    is_platform_admin: bool = False,
) -> User:
    """Create a user (an admin's action until registration arrives). Validates the password."""
    with transaction.atomic():
        user = User(
            email=User.objects.normalize_email(email).lower(),
            full_name=full_name,
            is_staff=is_platform_admin,
            is_superuser=is_platform_admin,
        )
        user.full_clean(exclude=["password"])
        if password is None:
            user.set_unusable_password()
        else:
            validate_password(password, user)
            user.set_password(password)
        user.save()
        audit_record(
            actor=actor, action="user.create", target=user, after=model_snapshot(user, USER_FIELDS)
        )
    return user


def membership_set(
    *, actor: Any, user: User, organisation: Organisation, role: Role | str
) -> Membership:
    """Give ``user`` ``role`` in ``organisation``, creating or changing the membership."""
    role = Role(role)
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .filter(user=user, organisation=organisation)
            .first()
        )
        before = None
        if membership is None:
            membership = Membership(user=user, organisation=organisation, role=role)
        else:
            before = {"role": membership.role}
            if membership.role == role:
                return membership
            membership.role = role
        membership.save()
        audit_record(
            actor=actor, action="membership.set", target=membership, before=before,
            after={"user": user.email, "organisation": organisation.slug, "role": role.value},
        )  # fmt: skip
    return membership
