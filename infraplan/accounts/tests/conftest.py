import pytest

from infraplan.core.testing.personas import PASSWORD


@pytest.fixture
def register(client):
    """Register through the real form; returns the response."""

    def post(email: str, password: str = PASSWORD, full_name: str = "New Officer"):
        return client.post(
            "/accounts/signup/",
            {"full_name": full_name, "email": email, "password1": password, "password2": password},
        )

    return post
