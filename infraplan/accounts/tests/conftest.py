import pytest
from django.core.cache import cache

from infraplan.core.testing.personas import PASSWORD


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate limits and lockouts are counted in the cache, which outlives each test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def register(client):
    """Register through the real form; returns the response."""

    def post(email: str, password: str = PASSWORD, full_name: str = "New Officer"):
        return client.post(
            "/accounts/signup/",
            {"full_name": full_name, "email": email, "password1": password, "password2": password},
        )

    return post
