"""ID token checks that the test provider cannot be made to exercise: Entra ID's multi-tenant
issuer (``https://login.microsoftonline.com/{tenantid}/v2.0``) and unaccepted algorithms.

Tokens are signed here with a key whose public half a real HTTP server on 127.0.0.1 publishes.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import cache

from infraplan.sso.errors import SignInRefused
from infraplan.sso.tokens import id_token_verify

TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0"
TENANT = "4f1d0c8e-7a3b-4c2e-9d61-2b8e5f0a9c11"
OTHER = "9a7e3b21-0c4d-4f8a-b5e6-7d2c1f0e8a33"
CLIENT = "app-id"
NONCE = "a-nonce"


@pytest.fixture(scope="module")
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def keys_url(key):
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/keys"
    yield url
    server.shutdown()
    cache.delete(f"sso:jwks:{url}")


def token(key, **claims) -> str:
    now = int(time.time())
    payload = {
        "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "sub": "s", "aud": CLIENT,
        "iat": now, "exp": now + 600, "tid": TENANT, "oid": "o", "nonce": NONCE, **claims,
    }  # fmt: skip
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})


def verify(keys_url, credential):
    return id_token_verify(
        token=credential, keys_url=keys_url, issuer=TEMPLATE, client_id=CLIENT, nonce=NONCE
    )


def test_the_multi_tenant_issuer_is_the_template_with_the_tokens_own_tenant(key, keys_url):
    assert verify(keys_url, token(key))["tid"] == TENANT


def test_an_issuer_of_another_tenant_than_the_token_names_is_refused(key, keys_url):
    with pytest.raises(SignInRefused) as refusal:
        verify(keys_url, token(key, tid=OTHER))
    assert refusal.value.reason == "issuer"


def test_a_token_for_several_audiences_must_name_us_as_its_party(key, keys_url):
    with pytest.raises(SignInRefused) as refusal:
        verify(keys_url, token(key, aud=[CLIENT, "another"], azp="another"))
    assert refusal.value.reason == "audience"
    assert verify(keys_url, token(key, aud=[CLIENT, "another"], azp=CLIENT))["sub"] == "s"


def test_unsigned_and_secret_keyed_tokens_are_refused(keys_url):
    now = int(time.time())
    claims = {"iss": "x", "sub": "s", "aud": CLIENT, "iat": now, "exp": now + 60}
    for credential in (
        jwt.encode(claims, None, algorithm="none"),
        jwt.encode(claims, "the-client-secret-at-least-32-bytes!", algorithm="HS256"),
    ):
        with pytest.raises(SignInRefused) as refusal:
            verify(keys_url, credential)
        assert refusal.value.reason == "signature"
