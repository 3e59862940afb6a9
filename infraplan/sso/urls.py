"""The OpenID Connect routes allauth mounts under /accounts/ (same names and paths as its own
openid_connect provider's, served by our views)."""

from allauth.socialaccount import app_settings
from django.urls import include, path

from . import oidc

urlpatterns = [
    path(
        f"{app_settings.OPENID_CONNECT_URL_PREFIX}/<str:provider_id>/",
        include(
            [
                path("login/", oidc.login, name="openid_connect_login"),
                path("login/callback/", oidc.callback, name="openid_connect_callback"),
            ]
        ),
    )
]
