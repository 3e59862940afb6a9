"""The OGC API's documents: landing page, OpenAPI definition, conformance, collections and their
descriptions, queryables, and OGC exceptions for what cannot be answered."""

import json
from importlib import resources

import jsonschema
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import body

pytestmark = pytest.mark.django_db

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"
OPENAPI_TYPE = "application/vnd.oai.openapi+json;version=3.0"


def links(document: dict, rel: str) -> list[dict]:
    return [link for link in document["links"] if link["rel"] == rel]


def test_the_landing_page_names_the_service_and_links_its_parts(client):
    response = client.get("/ogcapi/")
    landing = body(response)

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert landing["title"] == settings.AUTHORITY_PROFILE.authority.service_name
    (desc,) = links(landing, "service-desc")
    assert desc == {
        "href": "http://testserver/ogcapi/openapi", "rel": "service-desc", "type": OPENAPI_TYPE,
        "title": "The API definition (OpenAPI 3.0)",
    }  # fmt: skip
    assert links(landing, "conformance")[0]["href"] == "http://testserver/ogcapi/conformance"
    assert links(landing, "data")[0]["href"] == "http://testserver/ogcapi/collections"
    assert links(landing, "self")[0]["href"] == "http://testserver/ogcapi/"
    for link in landing["links"]:  # every link leads somewhere
        assert client.get(link["href"]).status_code == 200, link


def test_the_openapi_definition_is_valid_openapi_3_0_and_lists_every_path(client):
    response = client.get("/ogcapi/openapi")
    document = body(response)
    # The OpenAPI Initiative's schema of 3.0 documents, as pygeoapi (a test dependency) ships it.
    schema = json.loads(
        resources.files("pygeoapi")
        .joinpath("resources/schemas/openapi/openapi-3.0.x.json")
        .read_text()
    )

    assert response["Content-Type"] == OPENAPI_TYPE
    jsonschema.validate(document, schema)
    assert set(document["paths"]) == {
        "/", "/openapi", "/conformance", "/collections", "/collections/{collectionId}",
        "/collections/{collectionId}/queryables", "/collections/{collectionId}/items",
        "/collections/{collectionId}/items/{featureId}",
    }  # fmt: skip
    assert document["servers"] == [{"url": "http://testserver/ogcapi"}]
    limit = document["components"]["parameters"]["limit"]["schema"]
    assert (limit["default"], limit["maximum"]) == (10, 10_000)
    items = document["paths"]["/collections/{collectionId}/items"]["get"]
    named = {parameter["$ref"].rsplit("/", 1)[1] for parameter in items["parameters"]}
    assert {"bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "as_of"} <= named


def test_conformance_declares_core_geojson_openapi_and_crs(client):
    classes = body(client.get("/ogcapi/conformance"))["conformsTo"]
    for name in ("1/1.0/conf/core", "1/1.0/conf/geojson", "1/1.0/conf/oas30", "2/1.0/conf/crs"):
        assert f"http://www.opengis.net/spec/ogcapi-features-{name}" in classes


@pytest.fixture
def catalogue(personas, districts, restricted):
    """Besides the districts (public) and A's restricted sites: one for anyone signed in, one
    public without geometry, one public never published."""
    signed_in = dataset_make(slug="signed-in-sites", owner=personas.organisation_b,
                             access_level="signed_in")  # fmt: skip
    version_publish_points(dataset=signed_in, points={"b1": (615000, 157500)})
    table = dataset_make(slug="a-table", owner=personas.organisation_b, geometry_type="none")
    version_publish_points(dataset=table, points={})
    dataset_make(slug="never-published", owner=personas.organisation_b)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("anonymous", {"districts"}),
        ("member_b", {"districts", "signed-in-sites"}),
        ("viewer_a", {"districts", "signed-in-sites", "a-only-sites"}),
    ],
)
def test_collections_are_the_spatial_published_datasets_one_may_see(
    catalogue, personas, client_as, persona, expected
):
    response = client_as(getattr(personas, persona)).get("/ogcapi/collections")
    listed = {collection["id"] for collection in body(response)["collections"]}

    assert listed == expected
    assert "Cookie" in response["Vary"] and "Authorization" in response["Vary"]
    if persona == "anonymous":  # everyone's list: any cache may keep it, any page read it
        assert response["Cache-Control"] == "public, max-age=300"
        assert response["Access-Control-Allow-Origin"] == "*"
    else:
        assert response["Cache-Control"] == "private, max-age=300"
        assert "Access-Control-Allow-Origin" not in response


def test_a_token_lists_what_its_owner_may_see(catalogue, personas, client, token_of):
    listed = body(client.get("/ogcapi/collections", HTTP_AUTHORIZATION=f"Bearer {token_of(personas.viewer_a)}"))  # fmt: skip
    assert "a-only-sites" in {collection["id"] for collection in listed["collections"]}


def test_a_collection_describes_its_extent_crs_and_links(schools, client):
    response = client.get("/ogcapi/collections/schools")
    collection = body(response)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent("
            "ST_Transform(geom, 4326)) e FROM catalogue_feature WHERE dataset_id = %s) x",
            [schools.pk],
        )
        extent = cursor.fetchone()

    assert response["Cache-Control"] == "public, max-age=300"
    assert collection["id"] == "schools" and collection["title"] == schools.title
    assert collection["crs"] == [CRS84, "http://www.opengis.net/def/crs/EPSG/0/4326", BNG,
                                 "http://www.opengis.net/def/crs/EPSG/0/3857"]  # fmt: skip
    assert collection["storageCrs"] == BNG
    (bbox,) = collection["extent"]["spatial"]["bbox"]
    assert bbox == pytest.approx(extent, abs=1e-6)
    assert collection["extent"]["spatial"]["crs"] == CRS84
    assert collection["extent"]["temporal"]["interval"] == [
        ["2022-07-06T00:00:00Z", "2022-07-06T23:59:59Z"]
    ]
    (items,) = links(collection, "items")
    assert (items["href"], items["type"]) == (
        "http://testserver/ogcapi/collections/schools/items", "application/geo+json"
    )  # fmt: skip
    (page,) = links(collection, "describedby")
    assert (page["href"], page["type"]) == ("http://testserver/datasets/schools/", "text/html")
    (licence,) = links(collection, "license")
    assert licence["href"].startswith("https://www.nationalarchives.gov.uk/doc/open-government")
    assert {link["href"] for link in links(collection, "enclosure")} == {
        f"http://testserver/datasets/schools/download.{fmt}"
        for fmt in ("csv", "xlsx", "geojson", "gpkg", "png")
    }


def test_a_licence_the_service_does_not_know_links_the_dataset_page(personas, client):
    dataset = dataset_make(slug="own-terms", owner=personas.organisation_a,
                           licence="Kent's own terms of use")  # fmt: skip
    version_publish_points(dataset=dataset, points={"x": (615000, 157500)})
    (licence,) = links(body(client.get("/ogcapi/collections/own-terms")), "license")
    assert licence == {"href": "http://testserver/datasets/own-terms/", "rel": "license",
                       "type": "text/html", "title": "Kent's own terms of use"}  # fmt: skip


def test_queryables_are_the_schema_fields_as_json_schema(schools, client):
    response = client.get("/ogcapi/collections/schools/queryables")
    queryables = body(response)

    assert response["Content-Type"] == "application/schema+json"
    assert list(queryables["properties"]) == [field["name"] for field in schools.field_schema]
    assert queryables["properties"]["is_open"] == {"title": "Open", "type": "boolean"}
    assert queryables["properties"]["onspd_oseast1m"]["type"] == "integer"
    assert queryables["additionalProperties"] is False
    jsonschema.Draft202012Validator.check_schema(queryables)


def test_a_field_named_like_a_parameter_is_no_queryable(personas, client):
    dataset = dataset_make(
        slug="odd-fields", owner=personas.organisation_a,
        field_schema=[{"name": "limit", "type": "integer"}, {"name": "opened", "type": "date"}],
    )  # fmt: skip
    version_publish_points(dataset=dataset, points={"x": (615000, 157500)})
    properties = body(client.get("/ogcapi/collections/odd-fields/queryables"))["properties"]
    assert properties == {"opened": {"title": "opened", "type": "string", "format": "date"}}


@pytest.mark.parametrize(
    "path",
    [
        "/ogcapi/collections/no-such-dataset", "/ogcapi/collections/no-such-dataset/items",
        "/ogcapi/collections/no-such-dataset/queryables",
        "/ogcapi/collections/a-only-sites", "/ogcapi/collections/a-only-sites/items",
        "/ogcapi/collections/never-published/items", "/ogcapi/collections/a-table/items",
    ],
)  # fmt: skip
def test_unknown_restricted_unpublished_and_tables_are_the_same_404(catalogue, client, path):
    response = client.get(path)
    slug = path.split("/")[3]

    assert response.status_code == 404
    assert body(response) == {"code": "NotFound", "description": f"There is no collection {slug!r}."}  # fmt: skip
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/ogcapi/?f=html", "f: 'html' is not a format this service answers in; give f=json"),
        ("/ogcapi/collections?limit=3", "'limit' is not a parameter of this address (it takes f)"),
        ("/ogcapi/conformance?f=json&f=json", "f: given 2 times; give it once"),
        ("/ogcapi/collections/districts?bbox=1,2,3,4", "'bbox' is not a parameter of this"),
        ("/ogcapi/collections/districts/items?f=xml", "f: 'xml' is not a format"),
    ],
)
def test_a_bad_parameter_on_any_address_is_a_400_naming_it(districts, client, path, message):
    response = client.get(path)
    assert response.status_code == 400
    assert body(response)["code"] == "InvalidParameterValue"
    assert message in body(response)["description"]


def test_other_addresses_and_methods_get_ogc_exceptions(districts, client):
    missing = client.get("/ogcapi/collections/districts/tiles")
    posted = client.post("/ogcapi/collections/districts/items", {})
    non_numeric = client.get("/ogcapi/collections/districts/items/abc")

    assert missing.status_code == non_numeric.status_code == 404
    assert body(missing)["description"] == (
        "There is nothing at /ogcapi/collections/districts/tiles: start from the landing page, "
        "/ogcapi/."
    )
    assert posted.status_code == 405 and posted["Allow"] == "GET, HEAD"
    assert body(posted) == {"code": "MethodNotAllowed",
                            "description": "POST is not allowed: this API only reads (GET)."}  # fmt: skip
    # As a real client meets it, with the CSRF check on: still the API's own answer.
    strict = Client(enforce_csrf_checks=True)
    for method in ("post", "put", "patch", "delete"):
        answer = getattr(strict, method)("/ogcapi/collections/districts/items")
        assert answer.status_code == 405, method
        assert body(answer)["code"] == "MethodNotAllowed"


def test_an_api_address_with_a_final_slash_is_sent_to_the_one_without(districts, client):
    listed = client.get("/ogcapi/collections/", {"f": "json"})
    items = client.get("/ogcapi/collections/districts/items/")
    nothing = client.get("/ogcapi/collections/districts/tiles/")
    root = client.get("/ogcapi//")

    assert listed.status_code == items.status_code == 301
    assert listed["Location"] == "/ogcapi/collections?f=json"
    assert items["Location"] == "/ogcapi/collections/districts/items"
    assert nothing.status_code == root.status_code == 404
    assert body(root)["code"] == "NotFound"


def test_head_answers_like_get_and_a_preflight_is_refused(districts, client):
    head = client.head("/ogcapi/collections/districts/items")
    preflight = client.options(
        "/ogcapi/collections/districts/items",
        HTTP_ORIGIN="https://elsewhere.example",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )

    assert head.status_code == 200 and head["Content-Type"] == "application/geo+json"
    assert preflight.status_code == 405 and "Access-Control-Allow-Headers" not in preflight
