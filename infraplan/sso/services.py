"""Writes for single sign-on: the tenant allow-list and first sign-ins, each audited."""

from typing import Any

from allauth.socialaccount.models import SocialLogin
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from infraplan.accounts.models import Organisation, User
from infraplan.accounts.services import registration_start, user_create
from infraplan.audit.services import audit_record

from .models import AllowedTenant


def allowed_tenants_sync(*, actor: Any = None) -> None:
    """Make each organisation's allowed tenants those its profile entry lists (``sso_tenants``).

    Organisations missing from the database are skipped: ``organisations_sync_from_profile``
    creates them first.
    """
    with transaction.atomic():
        for entry in settings.AUTHORITY_PROFILE.organisations:
            organisation = Organisation.objects.filter(slug=entry.slug).first()
            if organisation is None:
                continue
            wanted = set(entry.sso_tenants)
            current = {row.tenant: row for row in organisation.allowed_tenants.all()}
            for tenant in sorted(wanted - set(current)):
                row = AllowedTenant.objects.create(organisation=organisation, tenant=tenant)
                audit_record(
                    actor=actor, action="sso.tenant.allow", target=row,
                    after={"organisation": organisation.slug, "tenant": tenant},
                )  # fmt: skip
            for tenant in sorted(set(current) - wanted):
                row = current[tenant]
                audit_record(
                    actor=actor, action="sso.tenant.remove", target=row,
                    before={"organisation": organisation.slug, "tenant": tenant},
                )  # fmt: skip
                row.delete()


def sso_account_create(
    *,
    sociallogin: SocialLogin,
    organisation: Organisation,
    email: str,
    full_name: str,
    request: HttpRequest | None = None,
) -> User:
    """Create the account for a first sign-in, keyed on the provider's identity, and start its
    registration with ``organisation`` (which leaves it inactive while approval is needed).

    The account has no password: it signs in only through its provider.
    """
    provider_id = sociallogin.account.provider
    with transaction.atomic():
        user = user_create(actor=None, email=email, password=None, full_name=full_name)
        sociallogin.account.user = user
        sociallogin.account.save()
        sociallogin.user = user
        audit_record(
            actor=None, action="sso.account.create", target=sociallogin.account,
            after={"user": user.email, "provider": provider_id,
                   "uid": sociallogin.account.uid, "organisation": organisation.slug},
        )  # fmt: skip
        registration_start(
            user=user, organisation=organisation, via=f"sso:{provider_id}", request=request
        )
        user.refresh_from_db()
    return user
