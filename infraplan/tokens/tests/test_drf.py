"""API tokens on Django REST framework views: the same token, the same user, no CSRF for tokens,
401 with a Bearer challenge without credentials. Served through the whole middleware stack from
a URLconf of this module's own."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import path
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from infraplan.tokens.services import token_create

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


class WhoAmI(APIView):
    def get(self, request):
        return Response({"user": request.user.email, "token": bool(request.auth)})

    def post(self, request):
        return Response({"changed_by": request.user.email})


urlpatterns = [path("api/whoami/", WhoAmI.as_view())]


def test_a_drf_view_knows_the_tokens_owner(personas):
    _, secret = token_create(
        user=personas.viewer_a, name="script", scope="read_write",
        expires_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    client = Client(enforce_csrf_checks=True)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    assert client.get("/api/whoami/", **bearer).json() == {
        "user": "viewer@a.example", "token": True,
    }  # fmt: skip
    assert client.post("/api/whoami/", **bearer).json() == {"changed_by": "viewer@a.example"}


def test_a_drf_view_without_credentials_is_401_with_a_bearer_challenge(personas):
    response = Client().get("/api/whoami/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_drf_view_still_checks_csrf_for_sessions(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.viewer_a)
    assert client.get("/api/whoami/").json() == {"user": "viewer@a.example", "token": False}
    assert client.post("/api/whoami/").status_code == 403


def test_a_drf_view_says_how_to_send_a_token_in_the_wrong_scheme(personas):
    _, secret = token_create(
        user=personas.viewer_a, name="script", scope="read",
        expires_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    response = Client().get("/api/whoami/", HTTP_AUTHORIZATION=f"Token {secret}")
    assert response.status_code == 401
    assert "Authorization: Bearer <token>" in response.json()["message"]
