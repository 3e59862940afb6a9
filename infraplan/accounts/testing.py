"""Test helpers for signing in as a person would be after a full sign-in."""

import re
import time

from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.test import Client

# django-allauth keeps, beside the session's methods, whose they are (the user's id as text).
AUTHENTICATION_USER_SESSION_KEY = "account_authentication_methods_user"


def session_two_factor_record(client: Client, user) -> None:
    """Record in ``client``'s session that ``user`` signed in with a password and a TOTP code,
    as django-allauth does, so admins pass the two-factor check as after a real sign-in."""
    session = client.session
    now = time.time()
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": now, "email": user.email},
        {"method": "mfa", "at": now, "type": "totp"},
    ]
    session[AUTHENTICATION_USER_SESSION_KEY] = str(user.pk)
    session.save()


def link_in(message, path_prefix: str) -> str:
    """The path of the first link in an email (``message``) that starts with ``path_prefix``."""
    match = re.search(rf"https?://[^/\s]+({re.escape(path_prefix)}[^\s]*)", message.body)
    if match is None:
        raise AssertionError(f"no {path_prefix} link in:\n{message.body}")
    return match.group(1)


def totp_code(secret: str, periods_ahead: int = 0) -> str:
    """The code an authenticator app shows now (or ``periods_ahead`` periods from now)."""
    counter = int(time.time()) // mfa_settings.TOTP_PERIOD + periods_ahead
    return format_hotp_value(hotp_value(secret, counter))
