"""Who may download what, and how bad requests are answered: the one gate's 404s, API tokens,
audit entries and security events for restricted data, plain-text 400s naming the parameter,
the 413 of a download too large to make whole, the dataset page's form and the usage count."""

from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django.utils.html import escape

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.models import Dataset
from infraplan.core.heavy import LOCK_SPACE
from infraplan.core.testing.data import (
    ASHFORD_POINTS,
    dataset_make,
    days_ago,
    published_days_ago,
    version_publish_points,
)
from infraplan.insights.models import UsageRecord
from infraplan.insights.usage import buffer
from infraplan.tokens.services import token_create

from .conftest import csv_rows

pytestmark = pytest.mark.django_db

FORMATS = ("csv", "xlsx", "geojson", "gpkg", "png")


def token_of(user) -> str:
    _, secret = token_create(
        user=user, name="Downloads", scope="read", expires_at=timezone.now() + timedelta(days=1)
    )
    return secret


@pytest.mark.parametrize("key", FORMATS)
def test_a_restricted_dataset_is_a_404_to_outsiders_and_a_file_to_members(
    restricted, personas, client_as, key
):
    url = f"/datasets/a-only-sites/download.{key}"
    for outsider in (personas.anonymous, personas.member_b):
        response = client_as(outsider).get(url)
        assert response.status_code == 404
        # The same answer as for a dataset that does not exist.
        assert client_as(outsider).get(f"/datasets/no-such/download.{key}").status_code == 404
    response = client_as(personas.viewer_a).get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="a-only-sites.{key}"'
    # Only the browser may keep it, for this person.
    assert response["Cache-Control"] == "private, max-age=300"
    assert {"Cookie", "Authorization"} <= {v.strip() for v in response["Vary"].split(",")}


def test_a_members_api_token_downloads_it_and_an_outsiders_does_not(restricted, personas, client):
    url = "/datasets/a-only-sites/download.csv"
    member, outsider = token_of(personas.viewer_a), token_of(personas.member_b)
    rows = csv_rows(client.get(url, HTTP_AUTHORIZATION=f"Bearer {member}"))
    assert [row["reference"] for row in rows] == ["civic-centre", "station"]
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {outsider}").status_code == 404
    assert client.get(url, HTTP_AUTHORIZATION="Bearer ipt_not-a-token").status_code == 401


def test_a_restricted_download_is_audited_and_a_security_event(
    restricted, personas, client_as, security_events
):
    client_as(personas.viewer_a).get("/datasets/a-only-sites/download.gpkg")
    (entry,) = AuditEntry.objects.filter(action="dataset.read.download")
    assert entry.actor_id == personas.viewer_a.pk and entry.target_id == str(restricted.pk)
    (event,) = security_events("export.restricted")
    assert event["format"] == "gpkg" and event["datasets"] == ["a-only-sites"]
    assert event["user"] == "viewer@a.example" and event["via"] == "web"


def test_a_restricted_area_boundary_makes_a_public_download_private_and_is_audited(
    districts, personas, client_as, security_events
):
    """The features of a public dataset chosen by a restricted district boundary: the answer
    (which shows that boundary, or what it chose) is private to the person and audited; to
    anyone who may not see the boundary, the area is not available."""
    public = dataset_make(slug="public-sites", owner=personas.organisation_a)
    version_publish_points(dataset=public, points=ASHFORD_POINTS)
    districts.access_level = "organisations"
    districts.owner = personas.organisation_a
    districts.save(update_fields=["access_level", "owner"])
    url = "/datasets/public-sites/download.csv"
    member = client_as(personas.viewer_a).get(url, {"area": "E07000105"})
    assert member.status_code == 200
    assert member["Cache-Control"] == "private, max-age=300"
    assert {"Cookie", "Authorization"} <= {v.strip() for v in member["Vary"].split(",")}
    (entry,) = AuditEntry.objects.filter(action="dataset.read.download")
    assert entry.target_id == str(districts.pk)
    (event,) = security_events("export.restricted")
    assert event["datasets"] == ["districts"]
    outsider = client_as(personas.member_b).get(url, {"area": "E07000105"})
    assert outsider.status_code == 400
    # Without an area, the public dataset is public.
    assert client_as(personas.viewer_a).get(url)["Cache-Control"] == "public, max-age=300"


def test_a_public_download_is_neither_audited_nor_a_security_event(
    districts, client, security_events
):
    assert client.get("/datasets/districts/download.csv").status_code == 200
    assert not AuditEntry.objects.filter(action="dataset.read.download").exists()
    assert security_events("export.restricted") == []


def refusal(response) -> str:
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    # A refusal may name a restricted dataset's fields or dates: never kept by a cache.
    assert response["Cache-Control"] == "no-store"
    return response.content.decode().removeprefix("Cannot make this download: ")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"bbox": "0.8,51.1"},
            "bbox: expected four numbers minlon,minlat,maxlon,maxlat, got 2 part(s).",
        ),
        ({"bbox": "a,b,c,d"}, "bbox: 'a,b,c,d' is not four comma-separated numbers."),
        (
            {"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/27700"},
            "bbox-crs: it names the coordinate system of bbox, which is not given; give bbox "
            "too, or leave bbox-crs out.",
        ),
        (
            {"bbox": "600000,140000,610000,150000", "bbox-crs": "EPSG:27700"},
            "bbox-crs: 'EPSG:27700' is not a coordinate reference system this service offers; "
            "give one of http://www.opengis.net/def/crs/OGC/1.3/CRS84, "
            "http://www.opengis.net/def/crs/EPSG/0/4326, "
            "http://www.opengis.net/def/crs/EPSG/0/27700, "
            "http://www.opengis.net/def/crs/EPSG/0/3857.",
        ),
        (
            {
                "bbox": "610000,140000,600000,150000",
                "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/27700",
            },
            "bbox: '610000,140000,600000,150000' in EPSG:27700 must be minimum x, minimum y, "
            "maximum x, maximum y, each minimum below its maximum (a box across the antimeridian "
            "is not supported).",
        ),
        (
            {
                "bbox": "-9000000,-9000000,-8000000,-8000000",
                "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/27700",
            },
            "bbox: '-9000000,-9000000,-8000000,-8000000' in EPSG:27700 lies outside Great "
            "Britain and its waters, where every feature is: the grid's eastings run from 0 to "
            "700,000 and its northings from 0 to 1,300,000 metres.",
        ),
        (
            {"bbox": "1,51,0,52"},
            "bbox: the west edge (1) must be less than the east edge (0): ",
        ),
        (
            {"area": "E99999999"},
            "area: 'E99999999' is not an area of this service; its areas are: E10000016 (Kent), ",
        ),
        (
            {"area": "aoi-0f8fad5b-d9cb-469f-a165-70867728950e"},
            "area: 'aoi-0f8fad5b-d9cb-469f-a165-70867728950e' names a saved area of interest, "
            "and saved areas cannot be downloaded yet; use the code of one of this service's "
            "areas, such as E07000105, or a bbox.",
        ),
        ({"area": ["E07000105", "E07000106"]}, "area: given 2 times; give it once."),
        ({"as_of": "2026-02-30"}, "as_of: '2026-02-30' is not a real date: "),
        (
            {"as_of": "27/03/2026"},
            "as_of: Enter the date as year-month-day with numbers, for example 2026-03-27.",
        ),
        (
            {"ended": "yes"},
            "ended: 'yes' is not a choice; ended=show includes the features whose source says "
            "they have ended, ended=hide (the default) leaves them out.",
        ),
        (
            {"colour": "red"},
            "'colour' is neither a parameter of this address (area, as_of, bbox, bbox-crs, ended, "
            "version) nor a "
            "field of A only sites (its fields: none).",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter_the_value_and_why(
    restricted, personas, client_as, query, message
):
    response = client_as(personas.viewer_a).get("/datasets/a-only-sites/download.csv", query)
    assert response.status_code == 400
    assert refusal(response).startswith(message)


def test_a_value_of_the_wrong_type_is_a_400(personas, client):
    dataset = dataset_make(
        slug="typed", owner=personas.organisation_a,
        field_schema=[{"name": "capacity", "type": "integer", "title": "Capacity"},
                      {"name": "is_open", "type": "boolean", "title": "Open"}],
    )  # fmt: skip
    version_publish_points(dataset=dataset, points={"a": (601300, 142700)})
    response = client.get("/datasets/typed/download.csv", {"capacity": "lots"})
    assert response.status_code == 400
    assert refusal(response) == "capacity: 'lots' is not a whole number."
    response = client.get("/datasets/typed/download.geojson", {"is_open": "maybe"})
    assert refusal(response) == "is_open: 'maybe' is not true or false."


def test_a_list_without_geometry_is_a_table_only(client):
    demo_load(only={"conservation-areas"})
    title = "Conservation areas (list, no boundaries)"
    for key in ("geojson", "gpkg", "png"):
        response = client.get(f"/datasets/conservation-areas/download.{key}")
        assert response.status_code == 400
        assert refusal(response).startswith(f"the dataset {title} has no geometry, so it cannot be downloaded as ")  # fmt: skip
        assert refusal(response).endswith(": download it as CSV or XLSX.")
    for key in ("csv", "xlsx"):
        assert client.get(f"/datasets/conservation-areas/download.{key}").status_code == 200
    response = client.get("/datasets/conservation-areas/download.csv", {"bbox": "0,51,1,52"})
    assert response.status_code == 400
    assert refusal(response).startswith(f"bbox: {title} has no geometry, so its features")


def test_an_unknown_format_is_a_404(districts, client):
    for suffix in ("shp", "json", "CSV", "csv/"):
        assert client.get(f"/datasets/districts/download.{suffix}").status_code == 404


def test_too_many_features_for_a_file_made_whole_is_a_413_saying_how_to_get_them(districts, client):
    with override_settings(EXPORT_MAX_FEATURES=12):
        response = client.get("/datasets/districts/download.gpkg")
        assert response.status_code == 413
        assert refusal(response) == (
            "it would hold 13 features, more than the 12 a download as GeoPackage may hold; "
            "narrow it with area, bbox or attribute filters, download it as CSV or GeoJSON "
            "(which have no limit), or ask for it on the command line (infraplan export "
            "districts --format gpkg)."
        )
        for key in ("xlsx", "png"):
            assert client.get(f"/datasets/districts/download.{key}").status_code == 413
        # Narrowed, it fits; streamed formats have no limit.
        narrowed = client.get("/datasets/districts/download.gpkg", {"area": "E07000114"})
        assert narrowed.status_code == 200
        assert client.get("/datasets/districts/download.csv").status_code == 200
        assert client.get("/datasets/districts/download.geojson").status_code == 200


def test_the_dataset_pages_form_goes_on_to_the_download(restricted, personas, client_as):
    client = client_as(personas.viewer_a)
    query = {"format": "gpkg", "area": "E07000105", "as_of": "", "ended": "show"}
    response = client.get("/datasets/a-only-sites/download/", query)
    assert response.status_code == 302
    assert response["Location"] == "/datasets/a-only-sites/download.gpkg?area=E07000105&ended=show"
    # With "All of the dataset" nothing but the format.
    response = client.get("/datasets/a-only-sites/download/", {"format": "csv", "area": ""})
    assert response["Location"] == "/datasets/a-only-sites/download.csv"
    response = client.get("/datasets/a-only-sites/download/", {"format": "shp"})
    assert response.status_code == 400
    assert refusal(response) == "format: 'shp' is not a download format."
    outsider = client_as(personas.member_b).get("/datasets/a-only-sites/download/", query)
    assert outsider.status_code == 404


def test_the_dataset_page_offers_the_formats_that_apply(restricted, personas, client_as):
    content = client_as(personas.viewer_a).get("/datasets/a-only-sites/").content.decode()
    section = content.split('id="download"')[1]
    for key in FORMATS:
        assert f'value="{key}"' in section
        assert f'href="/datasets/a-only-sites/download.{key}"' in section
    assert '<option value="E07000105">Ashford (E07000105)</option>' in section
    assert 'name="as_of"' not in section
    # For GIS software, the OGC API and its collection; restricted, read with a token.
    assert '<a class="govuk-link" href="/ogcapi/">http://testserver/ogcapi/</a>' in section
    assert "its collection <code>a-only-sites</code>" in section
    assert 'href="/accounts/tokens/">API token</a>' in section
    # As of a date, the date goes with the form and the links.
    published_days_ago(restricted.versions.get(), 10)
    dated = client_as(personas.viewer_a).get("/datasets/a-only-sites/", {"as_of": days_ago(5)})
    section = dated.content.decode().split('id="download"')[1]
    assert f'<input type="hidden" name="as_of" value="{days_ago(5)}">' in section
    assert f'href="/datasets/a-only-sites/download.csv?as_of={days_ago(5)}"' in section
    demo_load(only={"conservation-areas"})
    listing = client_as(None).get("/datasets/conservation-areas/").content.decode()
    offered = listing.split('id="download"')[1]
    assert 'value="csv"' in offered and 'value="xlsx"' in offered
    assert 'value="gpkg"' not in offered and "download.png" not in offered
    assert "OGC API" not in offered  # a list without geometry is no collection
    # A CSV file holds only its table: the page gives its attribution and licence to keep with
    # it, and says the other files carry their own.
    dataset = Dataset.objects.get(slug="conservation-areas")
    csv_hint = offered.split('id="download-format-csv-hint"')[1].split("</div>")[0]
    assert (
        f"Keep its attribution with it: “{escape(dataset.attribution)}” "
        f"({escape(dataset.licence)})." in csv_hint
    )
    assert (
        "Keep its attribution"
        not in offered.split('id="download-format-xlsx-hint"')[1].split("</div>")[0]
    )
    assert "but for a CSV file, which holds only the table" in offered


def test_downloads_are_counted_by_format_for_the_usage_figures(districts, client):
    buffer.flush()
    UsageRecord.objects.all().delete()
    client.get("/datasets/districts/download.csv")
    client.get("/datasets/districts/download.gpkg")
    buffer.flush()
    assert sorted(UsageRecord.objects.values_list("kind", "dataset", "status")) == [
        ("dataset-download-csv", "districts", 200),
        ("dataset-download-gpkg", "districts", 200),
    ]


def test_head_answers_as_get_would_without_making_the_file(
    restricted, personas, client_as, settings
):
    """A link checker or download manager asks HEAD: the status and headers GET would give,
    no file made (no slot taken: it answers even when every slot is busy), nothing read out."""
    settings.HEAVY_REQUEST_SLOTS = 1
    member = client_as(personas.viewer_a)
    url = "/datasets/a-only-sites/download.gpkg"
    # Every slot taken by another process's download (a session of its own).
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, 0)", [LOCK_SPACE])
        asked = member.head(url)
        assert asked.status_code == 200 and asked.content == b""
        assert asked["Content-Disposition"] == 'attachment; filename="a-only-sites.gpkg"'
        assert asked["Content-Type"] == "application/geopackage+sqlite3"
        assert asked["Cache-Control"] == "private, max-age=300"
        assert not AuditEntry.objects.filter(action="dataset.read.download").exists()
        assert member.head(url, {"bbox": "1,2,3"}).status_code == 400
        assert client_as(personas.member_b).head(url).status_code == 404
        assert member.get(url).status_code == 503  # GET would make the file: it needs a slot
