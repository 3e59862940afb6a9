"""A page for the one error response Django's views send without one."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.template.loader import render_to_string


class MethodNotAllowedPageMiddleware:
    """Give a 405 from ``require_http_methods`` (or a class-based view) the service's page.

    Those responses have an empty body, which a browser shows as a blank page. The response
    keeps its status and ``Allow`` header; one with a body of its own is left as it is, and
    every other response costs one comparison.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 405
            and isinstance(response, HttpResponseNotAllowed)
            and not response.content
        ):
            allowed = {method.strip() for method in response["Allow"].split(",")}
            response.content = render_to_string(
                "405.html", {"page_can_be_opened": "GET" in allowed}, request=request
            )
        return response


PRIVATE_DEFAULT = "private, no-store"


class PrivateByDefaultMiddleware:
    """Keep what a signed-in person is answered out of every cache, unless the view said how
    it may be cached.

    A page made for one person (their account, their tokens, an organisation's members) must
    not be kept by a shared proxy, nor left in the browser's cache of a shared office computer.
    Views whose answers may be kept (tiles, downloads, the map picture, the OGC API) set
    ``Cache-Control`` themselves and are left as they are.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            response["Cache-Control"] = PRIVATE_DEFAULT
        return response
