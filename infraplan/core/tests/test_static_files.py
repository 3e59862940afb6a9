"""Static files: served with long-lived caching, from an index read once per process."""

from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpResponse
from django.test import override_settings

from infraplan.core.middleware import StaticFilesMiddleware


def not_static(request) -> HttpResponse:
    return HttpResponse("not a static file")


def test_a_collected_file_is_served_for_a_year_under_its_hashed_name(client):
    url = staticfiles_storage.url("js/map.mjs")

    response = client.get(url)

    assert response.status_code == 200
    assert (
        "immutable" in response["Cache-Control"]
        and "max-age=315360000" in response["Cache-Control"]
    )


def test_the_files_are_read_once_for_each_set_of_settings():
    url = staticfiles_storage.url("js/map.mjs")
    first, second = StaticFilesMiddleware(not_static), StaticFilesMiddleware(not_static)
    with override_settings(WHITENOISE_MAX_AGE=5):
        other = StaticFilesMiddleware(not_static)

    assert first.files[url] is second.files[url]  # read once, used by both
    assert other.files[url] is not first.files[url]  # settings that change the headers: read again
    assert len(first.files) == len(other.files) > 100
