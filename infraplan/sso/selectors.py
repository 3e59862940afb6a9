"""Reads for single sign-on: which organisation a sign-in belongs to."""

from typing import Any

from infraplan.accounts.models import Organisation

MFA_AMR = {"mfa", "otp", "hwk"}


def tenant_of(claims: dict[str, Any]) -> str:
    """The sign-in's tenant: Entra ID's ``tid``, or the issuer for a provider without tenants."""
    return str(claims.get("tid") or claims["iss"])


def organisation_for_sign_in(*, tenant: str, email: str) -> Organisation | None:
    """The active organisation that accepts ``tenant``; where several share a tenant, the one
    whose email domains hold ``email``'s. None when no organisation (or more than one) fits."""
    candidates = list(
        Organisation.objects.filter(is_active=True, allowed_tenants__tenant=tenant).distinct()
    )
    if len(candidates) > 1:
        domain = email.rsplit("@", 1)[-1].lower()
        candidates = [org for org in candidates if domain in org.email_domains]
    return candidates[0] if len(candidates) == 1 else None


def claims_show_mfa(claims: dict[str, Any], *, mfa_acr_values: list[str]) -> bool:
    """Whether the provider says this sign-in used more than one factor: ``amr`` holds
    ``mfa``, ``otp`` or ``hwk`` (Entra ID sends ``mfa``), or ``acr`` is one the provider's
    settings name as multi-factor."""
    amr = claims.get("amr") or []
    if isinstance(amr, str):
        amr = [amr]
    return bool(MFA_AMR.intersection(amr)) or claims.get("acr") in mfa_acr_values
