"""The error pages are the service's own (GOV.UK layout, the authority's name, what to do next)."""

import pytest
from django.conf import settings
from django.test import RequestFactory

from infraplan.core.views import server_error

pytestmark = pytest.mark.django_db
SERVICE = settings.AUTHORITY_PROFILE.authority.service_name


def test_not_found_says_what_to_do(client_as, personas):
    response = client_as(personas.anonymous).get("/no-such-page/")
    content = response.content.decode()
    assert response.status_code == 404
    assert f"<title>Page not found \u2013 {SERVICE}</title>" in content
    assert "sign in</a>" in content and 'href="/datasets/"' in content


def test_forbidden_names_who_to_ask(client_as, personas):
    response = client_as(personas.viewer_a).get("/datasets/national/")
    content = response.content.decode()
    assert response.status_code == 403
    assert "You do not have permission to see this page" in content
    assert settings.AUTHORITY_PROFILE.authority.contact_email in content


def test_the_server_error_page_needs_no_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = server_error(RequestFactory().get("/"))
    content = response.content.decode()
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in content and SERVICE in content
