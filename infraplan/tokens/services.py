"""Making and revoking API tokens, and taking every kind of access away from a person.

A token is ``ipt_`` followed by 43 characters of URL-safe base64 (32 random bytes): the prefix
makes a leaked token recognisable to secret scanners and to people. The database keeps the first
12 characters (``ipt_`` and 8 more, not secret: shown on the tokens page and used to find the
row) and the SHA-256 of the whole token.

Why SHA-256 and not a password hasher: a password hasher is slow on purpose because people choose
guessable passwords; a token holds 256 random bits, which no amount of hashing speed makes
guessable, so a fast hash is as safe and keeps every API request (QGIS fetches tiles by the
hundred) cheap. A copy of the database alone never lets anyone use a token.
"""

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from infraplan.accounts.models import User
from infraplan.audit.security import security_event
from infraplan.audit.services import audit_record, model_snapshot

from .models import ApiToken, Scope

TOKEN_PREFIX = "ipt_"  # noqa: S105 (the public marker every token starts with)
TOKEN_PATTERN = re.compile(rf"^{TOKEN_PREFIX}[A-Za-z0-9_-]{{43}}$")
DISPLAY_LENGTH = 12  # "ipt_" and the first 8 random characters
TOKEN_FIELDS = ["name", "scope", "prefix", "expires_at", "revoked_at"]
LAST_USED_PRECISION = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def token_create(
    *, user: User, name: str, scope: Scope | str, expires_at: datetime, actor: Any = None
) -> tuple[ApiToken, str]:
    """Make a token for ``user`` and return it with its secret, which is never seen again.

    Refuses (ValidationError, nothing saved) a blank or over-long name, an unknown scope, an
    expiry in the past or beyond ``API_TOKEN_MAX_DAYS``, and an inactive user.
    """
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "Enter a name for the token, so you can tell it apart later"
    elif len(name) > ApiToken._meta.get_field("name").max_length:
        errors["name"] = "The name must be 100 characters or fewer"
    if scope not in Scope.values:
        errors["scope"] = "Choose whether the token may only read, or read and write"
    now = timezone.now()
    if expires_at <= now:
        errors["expires_at"] = "The expiry must be in the future"
    elif expires_at > now + timedelta(days=settings.API_TOKEN_MAX_DAYS):
        errors["expires_at"] = f"A token can last at most {settings.API_TOKEN_MAX_DAYS} days"
    if not user.is_active:
        errors["user"] = "This account is not active, so it cannot have tokens"
    if errors:
        raise ValidationError(errors)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            scope=scope,
            prefix=secret[:DISPLAY_LENGTH],
            secret_hash=token_hash(secret),
            expires_at=expires_at,
        )
        audit_record(
            actor=actor or user, action="token.create", target=token,
            after={"user": user.email, **model_snapshot(token, TOKEN_FIELDS)},
        )  # fmt: skip
    return token, secret


def token_revoke(*, token: ApiToken, actor: Any, note: str = "") -> ApiToken:
    """Revoke ``token`` from now on (revoking a revoked token changes nothing)."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        before = model_snapshot(token, TOKEN_FIELDS)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor, action="token.revoke", target=token, before=before,
            after=model_snapshot(token, TOKEN_FIELDS), note=note,
        )  # fmt: skip
    return token


def token_mark_used(*, token: ApiToken) -> None:
    """Note that ``token`` was used: at most one write a minute per token, whatever the traffic
    (a map pans through dozens of tiles a second). Not audited: it changes no data or access."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_PRECISION:
        return
    stale = ApiToken.objects.filter(pk=token.pk).exclude(
        last_used_at__gte=now - LAST_USED_PRECISION
    )
    stale.update(last_used_at=now)
    token.last_used_at = now


def user_sessions(user: User) -> list[Session]:
    """The live sessions in which ``user`` is signed in.

    Sessions are found by reading each live one rather than from a record of keys kept at
    sign-in: a session's key changes after sign-in (password change, re-authentication), so such
    a record goes stale, while the session's own data always says whose it is. The scan reads
    only unexpired sessions (they last ``SESSION_COOKIE_AGE``, eight hours by default) and runs
    only when access is taken away, which is rare.
    """
    user_id = str(user.pk)
    return [
        session
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(session.get_decoded().get("_auth_user_id")) == user_id
    ]


def user_access_revoke(*, user: User, actor: Any, reason: str) -> dict:
    """Revoke all of ``user``'s live tokens and end all their sessions, in one transaction.

    Returns what was taken away, for the caller's audit entry and security event.
    """
    with transaction.atomic():
        tokens = list(ApiToken.objects.live().filter(user=user).select_for_update())
        for token in tokens:
            token_revoke(token=token, actor=actor, note=reason)
        sessions = user_sessions(user)
        Session.objects.filter(session_key__in=[s.session_key for s in sessions]).delete()
        audit_record(
            actor=actor, action="user.access_revoke", target=user,
            after={"tokens_revoked": len(tokens), "sessions_ended": len(sessions)}, note=reason,
        )  # fmt: skip
    return {"tokens_revoked": len(tokens), "sessions_ended": len(sessions)}


def user_deactivate(*, user: User, actor: Any, request: HttpRequest | None = None) -> User:
    """Deactivate ``user``: they cannot sign in, their tokens are revoked and their sessions end.

    Deactivating an inactive user still revokes whatever tokens and sessions remain.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.is_active:
            before = {"is_active": True}
            user.is_active = False
            user.save(update_fields=["is_active"])
            audit_record(
                actor=actor, action="user.deactivate", target=user, before=before,
                after={"is_active": False},
            )  # fmt: skip
        revoked = user_access_revoke(user=user, actor=actor, reason="deactivated")
    security_event(
        "user.deactivated", request=request, user=actor,
        subject_id=user.pk, subject=user.email, **revoked,
    )  # fmt: skip
    return user
