"""Who reads what through the OGC API: organisation A's restricted sites as each persona, with
a session and with API tokens (Bearer, and Basic as QGIS and GDAL send it); restricted reads
audited; caching and cross-origin reading only for public data."""

import base64

import pytest

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.models import Feature

from .conftest import body

pytestmark = pytest.mark.django_db

COLLECTION = "/ogcapi/collections/a-only-sites"


def addresses(restricted) -> list[str]:
    station = Feature.objects.get(dataset=restricted, reference="station").pk
    return [COLLECTION, f"{COLLECTION}/queryables", f"{COLLECTION}/items",
            f"{COLLECTION}/items/{station}"]  # fmt: skip


@pytest.mark.parametrize(
    ("persona", "status"),
    [("anonymous", 404), ("member_b", 404), ("platform_admin", 200), ("viewer_a", 200),
     ("data_manager_a", 200)],
)  # fmt: skip
def test_restricted_collection_items_and_item_as_each_persona(
    restricted, personas, client_as, persona, status
):
    client = client_as(getattr(personas, persona))
    for url in addresses(restricted):
        response = client.get(url)
        assert response.status_code == status, url
        if status == 404:  # the same answer as for a collection that does not exist
            assert body(response)["description"] == "There is no collection 'a-only-sites'."


def test_a_members_token_reads_it_and_an_outsiders_does_not(restricted, personas, client, token_of):
    member, outsider = token_of(personas.viewer_a), token_of(personas.member_b)
    basic = base64.b64encode(f"viewer@a.example:{member}".encode()).decode()

    for url in addresses(restricted):
        assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {member}").status_code == 200, url
        assert client.get(url, HTTP_AUTHORIZATION=f"Basic {basic}").status_code == 200, url
        assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {outsider}").status_code == 404, url
    items = body(client.get(f"{COLLECTION}/items", HTTP_AUTHORIZATION=f"Bearer {member}"))
    assert {feature["properties"]["reference"] for feature in items["features"]} == {
        "civic-centre", "station"
    }  # fmt: skip
    bad = client.get(f"{COLLECTION}/items", HTTP_AUTHORIZATION="Bearer ipt_not-a-real-token")
    assert bad.status_code == 401 and "WWW-Authenticate" in bad


def test_restricted_reads_are_audited_once_an_hour_and_public_ones_not(
    restricted, districts, personas, client_as
):
    client = client_as(personas.viewer_a)
    station = Feature.objects.get(dataset=restricted, reference="station").pk
    client.get(f"{COLLECTION}/items")
    client.get(f"{COLLECTION}/items", {"offset": 1})
    client.get(f"{COLLECTION}/items/{station}")
    client.get("/ogcapi/collections/districts/items")

    entries = AuditEntry.objects.filter(action="dataset.read.ogcapi")
    assert [(entry.actor_label, entry.target_label) for entry in entries] == [
        ("viewer@a.example", restricted.title)
    ]


def test_restricted_answers_are_private_and_not_for_other_origins(
    restricted, districts, personas, client_as
):
    member = client_as(personas.viewer_a)
    for url in addresses(restricted):
        response = member.get(url, HTTP_ORIGIN="https://elsewhere.example")
        assert response["Cache-Control"] == "private, max-age=300", url
        assert {"Cookie", "Authorization"} <= {v.strip() for v in response["Vary"].split(",")}
        assert "Access-Control-Allow-Origin" not in response, url
    public = member.get("/ogcapi/collections/districts/items", HTTP_ORIGIN="https://elsewhere.example")  # fmt: skip
    assert public["Cache-Control"] == "public, max-age=300"
    assert public["Access-Control-Allow-Origin"] == "*"
    assert public["Access-Control-Expose-Headers"] == "Content-Crs"
    assert "Access-Control-Allow-Credentials" not in public
