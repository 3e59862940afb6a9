"""The error pages Django would otherwise send bare: 400 (a request the service cannot read),
403 for a failed CSRF check, and 405 (an address used with a method it does not take). Each is
the service's page, in its layout, with its status code kept."""

import pytest
from django.conf import settings
from django.http import HttpResponse, HttpResponseNotAllowed
from django.test import Client, RequestFactory
from django.urls import reverse

from infraplan.core.middleware import MethodNotAllowedPageMiddleware

pytestmark = pytest.mark.django_db
SERVICE = settings.AUTHORITY_PROFILE.authority.service_name
CONTACT = settings.AUTHORITY_PROFILE.authority.contact_email


def assert_service_page(response, title: str) -> str:
    """The page is in the service's layout, titled ``title``; returns its text."""
    page = response.content.decode()
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert f"<title>{title} \u2013 {SERVICE}</title>" in page
    assert f'<h1 class="govuk-heading-l">{title}</h1>' in page
    assert 'id="main-content"' in page and CONTACT in page
    return page


def test_a_form_with_too_many_fields_is_a_400_page(client):
    fields = {f"field{number}": "x" for number in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    response = client.post(reverse("account_login"), fields)
    assert response.status_code == 400
    page = assert_service_page(response, "The service could not accept what was sent")
    assert "nothing has been saved or changed" in page


def test_an_upload_with_a_very_long_file_name_is_a_400_page(client):
    boundary = "infraplan-boundary"
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{"a" * 1100}.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
        "easting,northing\r\n"
        f"--{boundary}--\r\n"
    )
    response = client.post(
        reverse("account_login"), body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 400
    page = assert_service_page(response, "The service could not accept what was sent")
    assert "give it a shorter name first" in page


def test_a_form_without_its_security_token_is_a_403_page_saying_what_to_do(personas):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("account_login"), {"login": "viewer@a.example"})
    assert response.status_code == 403
    page = assert_service_page(response, "Your form could not be sent")
    assert "the form has expired" in page and "your browser blocks cookies" in page
    assert "Reload the page." in page
    assert "DEBUG=True" not in page and "CSRF verification failed" not in page


def test_a_stale_security_token_is_the_same_403_page(personas):
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("account_login"))  # sets the cookie the form's token is checked against
    response = client.post(
        reverse("account_login"),
        {"login": "viewer@a.example", "csrfmiddlewaretoken": "x" * 64},
    )
    assert response.status_code == 403
    assert_service_page(response, "Your form could not be sent")


def test_opening_a_button_s_address_is_a_405_page(personas, client_as):
    response = client_as(personas.admin_a).get(reverse("registration-decide", args=[1]))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    page = assert_service_page(response, "This address is for a button, not a page")
    assert "Go back to the page with the button" in page
    assert "Sign out" in page  # the layout knows who is signed in


@pytest.mark.parametrize("path", ["/", "/map/", "/search/"])
def test_sending_a_form_to_a_page_is_a_405_page(client, path):
    response = client.post(path)
    assert response.status_code == 405
    assert "GET" in response["Allow"] and "POST" not in response["Allow"]
    page = assert_service_page(response, "This page cannot receive a form")
    assert f'<a class="govuk-link" href="{path}">Open the page</a>' in page


def test_a_405_with_its_own_body_is_left_as_it_is():
    def explained(request):
        return HttpResponseNotAllowed(["GET"], content=b'{"detail": "Use GET."}')

    response = MethodNotAllowedPageMiddleware(explained)(RequestFactory().post("/"))
    assert response.status_code == 405 and response["Allow"] == "GET"
    assert response.content == b'{"detail": "Use GET."}'


def test_other_responses_pass_through_untouched():
    def empty(request):
        return HttpResponse(status=204)

    response = MethodNotAllowedPageMiddleware(empty)(RequestFactory().get("/"))
    assert response.status_code == 204 and response.content == b""
