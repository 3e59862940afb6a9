"""The project's own middleware: static files indexed once per process, a page for the one
error response Django's views send without one, and private caching by default."""

from collections.abc import Callable
from typing import Any, ClassVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.template.loader import render_to_string
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, reading the collected static files once per process.

    WhiteNoise reads every collected file (about 700, with their compressed copies) when the
    middleware is made, to answer later requests from memory. Django makes the middleware once
    for each handler: once in a web process, but once for every test client, where the reading
    took 0.14 s each time and most of a page test's time. The files do not change while a
    process runs (they are collected before it starts), so what was read of a folder is kept, for
    the same settings, and used again. ``WHITENOISE_AUTOREFRESH`` (development) reads nothing
    ahead and is unchanged.
    """

    _indexes: ClassVar[dict[tuple, dict[str, Any]]] = {}

    def update_files_dictionary(self, root: str, prefix: str) -> None:
        key = (
            root, prefix, self.max_age, self.allow_all_origins, self.charset, self.index_file,
            repr(getattr(settings, "WHITENOISE_MIMETYPES", None)), self.add_headers_function,
            repr(getattr(settings, "WHITENOISE_IMMUTABLE_FILE_TEST", None)),
            settings.STORAGES["staticfiles"]["BACKEND"],
        )  # fmt: skip
        index = self._indexes.get(key)
        if index is None:
            kept, self.files = self.files, {}
            super().update_files_dictionary(root, prefix)
            index, self.files = self.files, kept
            self._indexes[key] = index
        self.files.update(index)


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
