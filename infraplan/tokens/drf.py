"""API tokens for Django REST framework views.

The middleware has already checked the token and set the user; this class tells DRF so, which
keeps DRF's session authentication (and its CSRF check) out of token requests and makes DRF
answer a missing credential with 401 and a Bearer challenge rather than 403.
"""

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from .middleware import REALM


class ApiTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request):
        token = getattr(request._request, "api_token", None)
        if token is None:
            return None
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return REALM
