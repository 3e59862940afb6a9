"""The test OpenID Connect provider, configured as the platform's only SSO provider."""

import pytest
import requests
from django.test import Client

from infraplan.sso.models import AllowedTenant
from infraplan.sso.tests.support import (
    CALLBACK,
    TENANT_A,
    callback,
    provider_start,
    providers_setting,
    start,
)
from tests.oidc_provider.provider import Account


@pytest.fixture
def oidc(settings, personas):
    """A running provider, the platform configured for it, and organisation A accepting its
    tenant. Stopped after the test."""
    provider = provider_start(redirect_uri=CALLBACK)
    settings.SOCIALACCOUNT_PROVIDERS = providers_setting(settings.SOCIALACCOUNT_PROVIDERS, provider)
    AllowedTenant.objects.create(organisation=personas.organisation_a, tenant=TENANT_A)
    yield provider
    provider.stop()


@pytest.fixture
def sign_in(oidc):
    """Sign ``account`` in through the provider with ``client`` (a fresh one by default);
    returns the platform's response to the callback."""

    def run(account: Account, client: Client | None = None, browser=None):
        client = client or Client()
        browser = browser or requests.Session()
        url = oidc.authorize(start(client), browser=browser, account=account, until=CALLBACK)
        return callback(client, url)

    return run
