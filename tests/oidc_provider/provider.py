"""Start the test OpenID Connect provider (server.mjs, the certified ``oidc-provider``) on a free
127.0.0.1 port, drive its sign-in form over HTTP, and make it misbehave."""

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests

HERE = Path(__file__).resolve().parent
TIMEOUT = 10


@dataclass(frozen=True)
class Account:
    sub: str
    email: str
    password: str
    tid: str
    oid: str
    name: str
    amr: tuple[str, ...] = ("pwd",)

    def as_config(self) -> dict:
        return {**self.__dict__, "amr": list(self.amr)}


class OIDCTestProvider:
    """A running provider. ``issuer`` is its URL; stop it with ``stop()``."""

    def __init__(self, *, client_id: str, client_secret: str, redirect_uris: list[str],
                 accounts: list[Account]) -> None:  # fmt: skip
        if not (HERE / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError(
                f"{HERE}/node_modules is missing: run `npm ci` there (scripts/lib.sh does)"
            )
        self._config = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)  # noqa: SIM115
        json.dump(
            {
                "clients": [{"client_id": client_id, "client_secret": client_secret,
                             "redirect_uris": redirect_uris}],
                "accounts": [account.as_config() for account in accounts],
            },
            self._config,
        )  # fmt: skip
        self._config.close()
        self.process = subprocess.Popen(
            ["node", str(HERE / "server.mjs"), self._config.name],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        line = self.process.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError("the test OpenID Connect provider did not start")
        self.issuer = json.loads(line)["issuer"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=TIMEOUT)
        Path(self._config.name).unlink(missing_ok=True)

    def disable(self, account: Account) -> None:
        """The account is disabled at the provider (a leaver)."""
        requests.post(f"{self.issuer}/_test/accounts/{account.sub}/disable", timeout=TIMEOUT)

    def misbehave(self, mode: str) -> None:
        """Spoil later ID tokens: issuer, audience, nonce, expired, signature, or none."""
        response = requests.post(
            f"{self.issuer}/_test/misbehave", params={"mode": mode}, timeout=TIMEOUT
        )
        response.raise_for_status()

    def authorize(self, url: str, *, browser: requests.Session, account: Account | None = None,
                  until: str) -> str:  # fmt: skip
        """Follow the authorisation request ``url`` as ``browser`` (which keeps the provider's
        cookies), signing in as ``account`` when the provider asks, and return the first
        redirect that starts with ``until`` (the relying party's callback)."""
        for _ in range(10):
            response = browser.get(url, allow_redirects=False, timeout=TIMEOUT)
            if response.status_code == 200 and "/interaction/" in response.url:
                if account is None:
                    raise AssertionError("the provider asked for a sign-in")
                action = re.search(r'action="([^"]+)"', response.text).group(1)
                response = browser.post(
                    urljoin(response.url, action),
                    data={"email": account.email, "password": account.password},
                    allow_redirects=False,
                    timeout=TIMEOUT,
                )
                if response.status_code == 200:
                    raise AssertionError("the provider refused the sign-in")
            location = response.headers.get("Location")
            if location is None:
                raise AssertionError(f"no redirect from {url}: {response.status_code}")
            url = urljoin(response.url, location)
            if url.startswith(until):
                return url
        raise AssertionError("too many redirects at the provider")
