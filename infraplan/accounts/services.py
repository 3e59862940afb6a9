"""Writes to people and organisations, each recorded in the audit log."""

from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from infraplan.audit.security import security_event
from infraplan.audit.services import audit_record, model_snapshot

from .models import Membership, Organisation, Registration, RegistrationStatus, Role, User

USER_FIELDS = ["email", "full_name", "is_active", "is_staff", "is_superuser"]
ORGANISATION_FIELDS = [
    "slug", "name", "kind", "area_code", "email_domains", "requires_approval", "is_active",
]  # fmt: skip


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
                "requires_approval": entry.requires_approval,
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
    """Create a user as an admin (registration is ``registration_start``). Validates the password."""
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
        # The admin vouches for the address, so it needs no verification email.
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
        audit_record(
            actor=actor, action="user.create", target=user, after=model_snapshot(user, USER_FIELDS)
        )
    return user


def membership_set(
    *,
    actor: Any,
    user: User,
    organisation: Organisation,
    role: Role | str,
    request: HttpRequest | None = None,
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
    security_event(
        "role.changed", request=request, user=actor, subject_id=user.pk, subject=user.email,
        organisation=organisation.slug, before=before and before["role"], after=role.value,
    )  # fmt: skip
    return membership


def absolute_url(path: str, request: HttpRequest | None = None) -> str:
    """``path`` as a full URL for an email: from the request when there is one, else SITE_URL."""
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.SITE_URL.rstrip("/") + path


def mail_send(*, template: str, to: list[str], context: dict) -> None:
    """Send ``accounts/email/<template>_subject.txt`` and ``_message.txt`` to ``to``."""
    context = {"service_name": settings.AUTHORITY_PROFILE.authority.service_name, **context}
    subject = " ".join(render_to_string(f"accounts/email/{template}_subject.txt", context).split())
    body = render_to_string(f"accounts/email/{template}_message.txt", context)
    send_mail(settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body, None, to)


def organisation_approvers(organisation: Organisation) -> list[User]:
    """Who decides on registrations to ``organisation``: its admins, and platform admins."""
    return list(
        User.objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(memberships__organisation=organisation, memberships__role=Role.ORG_ADMIN)
        )
        .distinct()
        .order_by("email")
    )


def registration_start(
    *, user: User, organisation: Organisation, via: str, request: HttpRequest | None = None
) -> Registration:
    """Start ``user``'s registration with ``organisation`` once their identity is proven.

    ``via`` is ``"local"`` (after the email address is verified) or ``"sso:<provider>"`` (after
    the first sign-in with that provider). Where the organisation requires approval the user is
    made inactive, the registration waits, and its approvers are emailed; otherwise it is
    approved at once with the viewer role.
    """
    if via != "local" and not via.startswith("sso:"):
        raise ValueError(f"via must be 'local' or 'sso:<provider>', not {via!r}")
    now = timezone.now()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        pending = user.registrations.filter(status=RegistrationStatus.PENDING).first()
        if pending is not None:
            return pending
        registration = Registration.objects.create(user=user, organisation=organisation, via=via)
        audit_record(
            actor=user, action="registration.start", target=registration,
            after={"user": user.email, "organisation": organisation.slug, "via": via},
        )  # fmt: skip
        security_event(
            "registration.started", request=request, user=user,
            organisation=organisation.slug, via=via,
        )  # fmt: skip
        if not organisation.requires_approval:
            registration.status = RegistrationStatus.APPROVED
            registration.decided_at = now
            registration.save(update_fields=["status", "decided_at"])
            _registration_admit(registration=registration, actor=None, role=Role.VIEWER)
            audit_record(
                actor=None, action="registration.approve", target=registration,
                after={"role": Role.VIEWER.value}, note="the organisation does not require approval",
            )  # fmt: skip
            security_event(
                "registration.approved", request=request, user=user,
                organisation=organisation.slug, role=Role.VIEWER.value, automatic=True,
            )  # fmt: skip
            return registration
        if user.is_active:
            before = model_snapshot(user, USER_FIELDS)
            user.is_active = False
            user.save(update_fields=["is_active"])
            audit_record(
                actor=user, action="user.update", target=user, before=before,
                after=model_snapshot(user, USER_FIELDS), note="waiting for approval",
            )  # fmt: skip
        approvers = [approver.email for approver in organisation_approvers(organisation)]
    if approvers:
        mail_send(
            template="registration_waiting", to=approvers,
            context={"registration": registration,
                     "link": absolute_url(reverse("registration-list"), request)},
        )  # fmt: skip
    return registration


def _registration_admit(*, registration: Registration, actor: Any, role: Role) -> None:
    user = registration.user
    if not user.is_active:
        before = model_snapshot(user, USER_FIELDS)
        user.is_active = True
        user.save(update_fields=["is_active"])
        audit_record(
            actor=actor, action="user.update", target=user, before=before,
            after=model_snapshot(user, USER_FIELDS), note="registration approved",
        )  # fmt: skip
    membership_set(actor=actor, user=user, organisation=registration.organisation, role=role)


class RegistrationError(Exception):
    """A decision that cannot be made; the message is for the admin."""


def registration_decide(
    *,
    actor: User,
    registration: Registration,
    approve: bool,
    role: Role | str = Role.VIEWER,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Registration:
    """Approve (with ``role``) or reject (with ``reason``) a pending registration, and tell the
    applicant by email. ``actor`` must be allowed to decide (see ``registration_can_decide``)."""
    reason = reason.strip()
    role = Role(role)
    if not registration_can_decide(actor, registration.organisation):
        raise RegistrationError("You cannot decide on registrations to this organisation.")
    if not approve and not reason:
        raise RegistrationError("Enter the reason for rejecting this registration.")
    with transaction.atomic():
        registration = Registration.objects.select_for_update().get(pk=registration.pk)
        if registration.status != RegistrationStatus.PENDING:
            raise RegistrationError("This registration has already been decided.")
        registration.status = (
            RegistrationStatus.APPROVED if approve else RegistrationStatus.REJECTED
        )
        registration.reason = reason
        registration.decided_by = actor
        registration.decided_at = timezone.now()
        registration.save()
        if approve:
            _registration_admit(registration=registration, actor=actor, role=role)
        action = "approve" if approve else "reject"
        audit_record(
            actor=actor, action=f"registration.{action}", target=registration,
            before={"status": RegistrationStatus.PENDING.value},
            after={"status": registration.status, "reason": reason,
                   **({"role": role.value} if approve else {})},
        )  # fmt: skip
        security_event(
            f"registration.{registration.status}", request=request, user=actor,
            applicant=registration.user.email, organisation=registration.organisation.slug,
            **({"role": role.value} if approve else {}),
        )  # fmt: skip
    mail_send(
        template=f"registration_{registration.status}", to=[registration.user.email],
        context={"registration": registration, "role": role.label,
                 "link": absolute_url(reverse("account_login"), request)},
    )  # fmt: skip
    return registration


def registration_can_decide(user: Any, organisation: Organisation) -> bool:
    """Platform admins decide for every organisation; an organisation admin for their own."""
    return organisation_can_administer(user, organisation)


def organisation_can_administer(user: Any, organisation: Organisation) -> bool:
    """Whether ``user`` may decide on ``organisation``'s registrations and manage its members
    and their roles: its organisation admins may, and platform admins."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return (
        user.is_superuser
        or user.memberships.filter(organisation=organisation, role=Role.ORG_ADMIN).exists()
    )


def user_profile_update(*, actor: User, user: User, full_name: str) -> User:
    """Change the name ``user`` is shown by."""
    full_name = full_name.strip()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = model_snapshot(user, USER_FIELDS)
        user.full_name = full_name
        user.full_clean(exclude=["password"])
        user.save(update_fields=["full_name"])
        audit_record(
            actor=actor, action="user.update", target=user, before=before,
            after=model_snapshot(user, USER_FIELDS),
        )  # fmt: skip
    return user


class MembershipError(Exception):
    """A membership change that cannot be made; the message is for whoever asked for it."""


def membership_leave(
    *, actor: User, membership: Membership, request: HttpRequest | None = None
) -> None:
    """``membership``'s user leaves the organisation: they lose what its role gave them.

    The organisation's last admin cannot leave: nobody would be left to approve its
    registrations or manage its members. They name another admin first, or a platform admin
    ends the membership in the admin."""
    _membership_end(
        actor=actor, membership=membership, note="left the organisation",
        last_admin_problem=(
            f"You are the only administrator of {membership.organisation.name}. "
            "Make another member an administrator before you leave."
        ),
        request=request,
    )  # fmt: skip


def membership_remove(
    *, actor: User, membership: Membership, request: HttpRequest | None = None
) -> None:
    """An admin of ``membership``'s organisation (or a platform admin) removes its user from it.

    As when leaving, the organisation's last admin cannot be removed."""
    _membership_administrable_checked(actor, membership)
    _membership_end(
        actor=actor, membership=membership, note="removed by an administrator",
        last_admin_problem=_last_admin_problem(actor, membership),
        request=request,
    )  # fmt: skip


def membership_role_change(
    *, actor: User, membership: Membership, role: Role | str, request: HttpRequest | None = None
) -> Membership:
    """An admin of ``membership``'s organisation (or a platform admin) gives its user ``role``
    there (recorded as ``membership_set`` records it). The organisation's last admin keeps the
    admin role."""
    role = Role(role)
    _membership_administrable_checked(actor, membership)
    with transaction.atomic():
        current = (
            Membership.objects.select_for_update()
            .select_related("user", "organisation")
            .filter(pk=membership.pk)
            .first()
        )
        if current is None:
            raise MembershipError(
                f"{membership.user} is no longer a member of {membership.organisation.name}."
            )
        if role != Role.ORG_ADMIN and _membership_is_last_admin(current):
            raise MembershipError(_last_admin_problem(actor, current))
        return membership_set(
            actor=actor, user=current.user, organisation=current.organisation, role=role,
            request=request,
        )  # fmt: skip


def _membership_administrable_checked(actor: User, membership: Membership) -> None:
    if not organisation_can_administer(actor, membership.organisation):
        raise MembershipError(f"You cannot manage the members of {membership.organisation.name}.")


def _membership_is_last_admin(membership: Membership) -> bool:
    """Whether ``membership`` is its organisation's only admin. Locks the admins' memberships
    until the transaction ends, so two admins cannot each demote or remove the other."""
    if membership.role != Role.ORG_ADMIN:
        return False
    admins = list(
        Membership.objects.select_for_update()
        .filter(organisation=membership.organisation, role=Role.ORG_ADMIN)
        .values_list("pk", flat=True)
    )
    return admins == [membership.pk]


def _last_admin_problem(actor: User, membership: Membership) -> str:
    """Why ``membership``, its organisation's only admin, can be neither demoted nor removed."""
    who = "You are" if membership.user_id == actor.pk else f"{membership.user} is"
    return (
        f"{who} the only administrator of {membership.organisation.name}. "
        "Make another member an administrator first."
    )


def _membership_end(
    *,
    actor: User,
    membership: Membership,
    note: str,
    last_admin_problem: str,
    request: HttpRequest | None,
) -> None:
    with transaction.atomic():
        if _membership_is_last_admin(membership):
            raise MembershipError(last_admin_problem)
        audit_record(
            actor=actor, action="membership.delete", target=membership,
            before={"user": membership.user.email, "organisation": membership.organisation.slug,
                    "role": membership.role},
            note=note,
        )  # fmt: skip
        membership.delete()
    security_event(
        "role.changed", request=request, user=actor, subject_id=membership.user.pk,
        subject=membership.user.email, organisation=membership.organisation.slug,
        before=membership.role, after=None,
    )  # fmt: skip


def user_delete(*, actor: User, user: User, request: HttpRequest | None = None) -> User:
    """Delete ``user``'s account at their request.

    What they contributed stays: datasets and features belong to their organisation, and audit
    entries keep the name they were recorded under. The user row stays too, so those records
    still point somewhere, but it is anonymised (no email, name or password), deactivated and
    stripped of memberships, email addresses, single sign-on links, authenticators, tokens and
    sessions.
    """
    from allauth.mfa.models import Authenticator
    from allauth.socialaccount.models import SocialAccount

    from infraplan.tokens.services import user_access_revoke

    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = model_snapshot(user, USER_FIELDS)
        email = user.email
        organisations = list(user.memberships.values_list("organisation__slug", flat=True))
        user.memberships.all().delete()
        EmailAddress.objects.filter(user=user).delete()
        SocialAccount.objects.filter(user=user).delete()
        Authenticator.objects.filter(user=user).delete()
        user_access_revoke(user=user, actor=actor, reason="account deleted")
        user.email = f"deleted-user-{user.pk}@deleted.invalid"
        user.full_name = ""
        user.set_unusable_password()
        user.is_active = user.is_staff = user.is_superuser = False
        user.save()
        audit_record(
            actor=actor, action="user.delete", target=user, before=before,
            after={**model_snapshot(user, USER_FIELDS), "left": organisations},
            note="account deleted and anonymised; contributions stay with the organisations",
        )  # fmt: skip
    security_event(
        "account.deleted", request=request, user=actor, subject_id=user.pk, subject=email
    )
    return user
