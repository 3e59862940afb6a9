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
