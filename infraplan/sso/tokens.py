"""Verifying an OpenID Connect ID token: signature, issuer, audience, expiry and nonce.

django-allauth 65's openid_connect provider skips the signature when the token came straight
from the token endpoint (OpenID Connect Core allows that over TLS) and sends no nonce at all.
We always check both: a signature check costs one cached key fetch, and the nonce binds the
token to the browser session that started the sign-in.
"""

import hmac
from typing import Any

import jwt
import requests
from allauth.socialaccount import app_settings as socialaccount_settings
from django.core.cache import cache

from .errors import SignInRefused

# Asymmetric algorithms only: "none" and the HMAC family (keyed with the client secret) are
# never accepted for ID tokens here.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
TENANT_PLACEHOLDER = "{tenantid}"
LEEWAY_SECONDS = 60


def jwks_fetch(url: str, *, refresh: bool = False) -> dict:
    """The provider's signing keys (JWKS), cached for ten minutes; ``refresh`` skips the cache
    (keys rotate, so an unknown key id is looked up once more before a token is refused)."""
    key = f"sso:jwks:{url}"
    keys = None if refresh else cache.get(key)
    if keys is None:
        response = requests.get(url, timeout=socialaccount_settings.REQUESTS_TIMEOUT)
        response.raise_for_status()
        keys = response.json()
        cache.set(key, keys, 600)
    return keys


def _signing_key(keys: dict, kid: str | None, alg: str) -> Any:
    for entry in keys.get("keys", []):
        if entry.get("kid") == kid and entry.get("use", "sig") == "sig":
            return jwt.PyJWK(entry, algorithm=alg).key
    return None


def id_token_verify(
    *, token: str, keys_url: str, issuer: str, client_id: str, nonce: str | None
) -> dict:
    """Verify ``token`` and return its claims, or raise ``SignInRefused`` naming what failed.

    ``issuer`` may hold Entra ID's ``{tenantid}`` placeholder (the multi-tenant
    ``organizations`` endpoint): the token's ``iss`` must then be the issuer with its own
    ``tid`` in place, and which tenants are welcome is decided afterwards by the allow-list.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise SignInRefused("token", "The sign-in service sent an unreadable ID token.") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise SignInRefused(
            "signature", "The ID token is not signed with a key we accept.", alg=alg
        )
    key = _signing_key(jwks_fetch(keys_url), header.get("kid"), alg)
    if key is None:
        key = _signing_key(jwks_fetch(keys_url, refresh=True), header.get("kid"), alg)
    if key is None:
        raise SignInRefused("signature", "The ID token is signed with an unknown key.")
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=client_id,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "sub", "aud", "exp", "iat"], "verify_iss": False},
        )
    except jwt.InvalidSignatureError:
        raise SignInRefused("signature", "The ID token's signature is not valid.") from None
    except jwt.InvalidAudienceError:
        raise SignInRefused("audience", "The ID token was issued for another service.") from None
    except jwt.ExpiredSignatureError:
        raise SignInRefused("expired", "The ID token has expired.") from None
    except jwt.PyJWTError as error:
        raise SignInRefused("token", "The ID token is not valid.", error=str(error)) from None
    expected_issuer = issuer
    if TENANT_PLACEHOLDER in issuer:
        expected_issuer = issuer.replace(TENANT_PLACEHOLDER, str(claims.get("tid", "")))
    if claims["iss"] != expected_issuer:
        raise SignInRefused(
            "issuer", "The ID token was issued by another service.", iss=claims["iss"]
        )
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SignInRefused("audience", "The ID token was issued for another service.")
    if not nonce or not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise SignInRefused("nonce", "The ID token does not belong to this sign-in.")
    return claims
