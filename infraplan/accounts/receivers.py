"""Signal receivers: thin adapters from django-allauth's events to our services."""

from allauth.account.models import EmailAddress
from django.db import transaction
from django.http import HttpRequest

from infraplan.audit.security import security_event
from infraplan.audit.services import audit_record

from .selectors import organisation_for_email
from .services import registration_start


def registration_start_on_email_confirmed(
    sender, request: HttpRequest, email_address: EmailAddress, **kwargs
) -> None:
    """A person who registered here has proven their address: their registration starts.

    Accounts that already have a registration or a membership (made by an admin, or a second
    address being verified) are left as they are.
    """
    user = email_address.user
    if user.registrations.exists() or user.memberships.exists():
        return
    organisation = organisation_for_email(email_address.email)
    if organisation is not None:
        registration_start(user=user, organisation=organisation, via="local", request=request)


def _security_change_record(request: HttpRequest | None, user, action: str, **after) -> None:
    """Audit a change to how ``user`` signs in, and report it as a security event."""
    with transaction.atomic():
        audit_record(actor=user, action=action, target=user, after=after or None)
    security_event(action, request=request, user=user, **after)


def password_change_record(sender, request: HttpRequest, user, **kwargs) -> None:
    _security_change_record(request, user, "password.changed")


def password_reset_record(sender, request: HttpRequest, user, **kwargs) -> None:
    _security_change_record(request, user, "password.reset")


def authenticator_added_record(sender, request: HttpRequest, user, authenticator, **kwargs):
    _security_change_record(request, user, "mfa.added", type=authenticator.type)


def authenticator_removed_record(sender, request: HttpRequest, user, authenticator, **kwargs):
    _security_change_record(request, user, "mfa.removed", type=authenticator.type)


def authenticator_reset_record(sender, request: HttpRequest, user, authenticator, **kwargs):
    _security_change_record(request, user, "mfa.reset", type=authenticator.type)


def mfa_failure_record(sender, request: HttpRequest, user, **kwargs) -> None:
    security_event("signin.failed", outcome="failure", request=request, user=user,
                   reason="second factor")  # fmt: skip
