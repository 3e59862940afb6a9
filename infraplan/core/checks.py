"""System checks for the deployment's configuration: ``infraplan check`` (and ``migrate``,
``runserver``) run those that would break pages; ``infraplan check --deploy`` adds the rest."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
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


@checks.register(checks.Tags.staticfiles)
def profile_logo_is_a_static_file(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Every page shows the logo through the static files' manifest, which refuses (a 500 on
    every page) a file it was not given."""
    logo = settings.AUTHORITY_PROFILE.branding.logo
    if logo is None or finders.find(logo) is not None:
        return []
    folders = ", ".join(str(folder) for folder in settings.STATICFILES_DIRS)
    return [
        checks.Error(
            f"The authority profile's branding logo {logo!r} is not among the static files, "
            "so every page would fail. Static files are looked for in "
            f"{folders} and in each installed app's static/ folder.",
            hint="Put the logo in a folder of the authority's own, name that folder in "
            f"BRANDING_STATIC_DIR (the logo then at BRANDING_STATIC_DIR/{logo}), and run "
            "`infraplan collectstatic`; or correct the profile's logo.",
            id="infraplan.E001",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def site_url_is_the_public_address(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """SITE_URL is published: the identifier and address in every metadata record, the
    attribution of downloads, the links in emails. A local or plain-http one is a mistake."""
    if settings.DEBUG:
        return []
    site_url = settings.SITE_URL
    parts = urlsplit(site_url)
    if parts.scheme == "https" and parts.hostname and not _is_loopback(parts.hostname):
        return []
    return [
        checks.Warning(
            f"SITE_URL is {site_url!r}: not the service's public https address. Metadata "
            "records, downloads and emails would publish it as the service's address.",
            hint="Set SITE_URL to the address people reach the service at, e.g. "
            "https://maps.example.gov.uk.",
            id="infraplan.W002",
        )
    ]


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@checks.register(checks.Tags.security, deploy=True)
def client_address_behind_a_proxy(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Behind a proxy every request comes from the proxy's address: without being told how to
    find the client's, the per-address rate limits would hold for all clients together."""
    if settings.SECURE_PROXY_SSL_HEADER is None:
        return []
    if settings.ALLAUTH_TRUSTED_PROXY_COUNT or settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER:
        return []
    return [
        checks.Warning(
            "TRUST_X_FORWARDED_PROTO says the service is behind a proxy, but neither "
            "TRUSTED_PROXY_COUNT nor TRUSTED_CLIENT_IP_HEADER is set: every client has the "
            "proxy's address, so one client's failed sign-ins lock everyone out, and the "
            "security log names the proxy.",
            hint="Set TRUSTED_PROXY_COUNT to the number of the deployment's proxies that "
            "append to X-Forwarded-For, or TRUSTED_CLIENT_IP_HEADER (README, 'Configuration').",
            id="infraplan.W003",
        )
    ]
