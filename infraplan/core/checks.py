"""System checks for deployment configuration (``infraplan check --deploy``)."""

from django.conf import settings
from django.core import checks

PLACEHOLDER_DOMAINS = ("example.org", "example.com", "example.net")


@checks.register(checks.Tags.security, deploy=True)
def profile_contacts_are_real(app_configs, **kwargs) -> list[checks.CheckMessage]:
    authority = settings.AUTHORITY_PROFILE.authority
    placeholders = [
        name
        for name in ("contact_email", "accessibility_contact_email")
        if getattr(authority, name).rsplit("@", 1)[-1] in PLACEHOLDER_DOMAINS
    ]
    if not placeholders:
        return []
    return [
        checks.Warning(
            f"The authority profile's {', '.join(placeholders)} is a placeholder address.",
            hint="Set real mailboxes in the profile: the accessibility statement and privacy "
            "notice publish them.",
            id="infraplan.W001",
        )
    ]
