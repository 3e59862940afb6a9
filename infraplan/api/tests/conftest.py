"""Fixtures and helpers of the OGC API tests."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.http import HttpResponse
from django.utils import timezone

from infraplan.core.testing.data import demo_dataset_load
from infraplan.tokens.services import token_create


def body(response: HttpResponse) -> Any:
    """The JSON of a response, streamed (items) or not; a stream is read once and kept."""
    if not response.streaming:
        return json.loads(response.content)
    if not hasattr(response, "read_json"):
        response.read_json = json.loads(b"".join(response.streaming_content))
    return response.read_json


@pytest.fixture
def schools(db):
    """The real demo schools (1,504 points in Kent and Medway), public."""
    return demo_dataset_load("schools")


@pytest.fixture
def token_of():
    """An API token's secret for a user (read only, a day long)."""

    def make(user) -> str:
        _, secret = token_create(
            user=user, name="OGC API", scope="read", expires_at=timezone.now() + timedelta(days=1)
        )
        return secret

    return make
