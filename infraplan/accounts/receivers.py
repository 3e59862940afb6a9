"""Signal receivers: thin adapters from django-allauth's events to our services."""

from allauth.account.models import EmailAddress
from django.http import HttpRequest

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
