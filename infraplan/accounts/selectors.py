"""Reads about people, organisations and registrations."""

from django.db.models import Q, QuerySet

from .models import Membership, Organisation, Registration, RegistrationStatus, Role, User


def organisation_for_email(email: str) -> Organisation | None:
    """The active organisation whose email domains include ``email``'s domain, if any."""
    domain = email.rsplit("@", 1)[-1].strip().lower()
    if not domain:
        return None
    return Organisation.objects.filter(is_active=True, email_domains__contains=[domain]).first()


def registrations_decidable_by(user: User) -> QuerySet[Registration]:
    """Registrations ``user`` may decide, decided or not, oldest first (in a fixed order, so
    pages of them neither repeat nor skip one): all for platform admins, else their
    organisations' as an organisation admin."""
    registrations = Registration.objects.select_related("user", "organisation").order_by(
        "created_at", "pk"
    )
    if user.is_superuser:
        return registrations
    return registrations.filter(
        organisation__memberships__user=user, organisation__memberships__role=Role.ORG_ADMIN
    )


def registrations_pending_for(user: User) -> QuerySet[Registration]:
    """The registrations ``user`` may decide that wait for a decision, oldest first."""
    return registrations_decidable_by(user).filter(status=RegistrationStatus.PENDING)


def registration_pending_position(user: User, registration: Registration) -> int:
    """How many of the registrations ``user`` may decide come before ``registration``."""
    return (
        registrations_pending_for(user)
        .filter(
            Q(created_at__lt=registration.created_at)
            | Q(created_at=registration.created_at, pk__lt=registration.pk)
        )
        .count()
    )


def registration_latest(user: User) -> Registration | None:
    return user.registrations.select_related("organisation").order_by("-created_at").first()


def memberships_administrable_by(user: User) -> QuerySet[Membership]:
    """The memberships whose role ``user`` may change and which they may end: all for platform
    admins, else those of the organisations they administer; by organisation, then email."""
    memberships = Membership.objects.select_related("user", "organisation").order_by(
        "organisation__name", "user__email", "pk"
    )
    if user.is_superuser:
        return memberships
    administered = Organisation.objects.filter(
        memberships__user=user, memberships__role=Role.ORG_ADMIN
    )
    return memberships.filter(organisation__in=administered)
