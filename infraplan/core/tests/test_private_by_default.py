"""What a signed-in person is answered is kept out of caches unless its view says otherwise."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url", ["/accounts/tokens/", "/accounts/email/", "/accounts/profile/", "/datasets/"]
)
def test_pages_made_for_a_signed_in_person_are_not_stored(url, personas, client_as):
    response = client_as(personas.viewer_a).get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_views_that_say_how_they_may_be_cached_keep_their_own_rule(districts, personas, client_as):
    viewer = client_as(personas.viewer_a)
    download = viewer.get("/datasets/districts/download.csv")
    assert download["Cache-Control"] == "public, max-age=300"  # the same for everyone
    assert viewer.get("/healthz")["Cache-Control"].startswith("max-age=0, no-cache")


def test_pages_for_nobody_in_particular_are_left_as_they_are(client):
    assert not client.get("/datasets/").has_header("Cache-Control")
