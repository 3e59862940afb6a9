"""The OGC API's answers hold to their contracts: the JSON Schemas in tests/contracts/."""

import json
from pathlib import Path

import jsonschema
import pytest

from infraplan.catalogue.models import Feature

from .conftest import body

pytestmark = pytest.mark.django_db

CONTRACTS = Path(__file__).resolve().parents[3] / "tests" / "contracts"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"


def contract(name: str, definition: str | None = None) -> jsonschema.Draft202012Validator:
    schema = json.loads((CONTRACTS / f"ogcapi-{name}.schema.json").read_text())
    if definition:  # one of its definitions, with the others it refers to
        schema = {"$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]}
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", ["landing", "conformance", "collections", "items", "exception"])
def test_the_contracts_are_valid_json_schemas(name):
    jsonschema.Draft202012Validator.check_schema(contract(name).schema)


def test_answers_hold_to_their_contracts(schools, districts, restricted, personas, client_as):
    client = client_as(personas.viewer_a)
    school = Feature.objects.filter(dataset=schools, properties__close_date=None).first().pk

    contract("landing").validate(body(client.get("/ogcapi/")))
    contract("conformance").validate(body(client.get("/ogcapi/conformance")))
    collections = body(client.get("/ogcapi/collections"))
    contract("collections").validate(collections)
    assert {c["id"] for c in collections["collections"]} == {"schools", "districts", "a-only-sites"}
    for slug in ("schools", "districts", "a-only-sites"):
        contract("collections", "collection").validate(
            body(client.get(f"/ogcapi/collections/{slug}"))
        )
    for query in ({}, {"limit": 3, "offset": 3, "crs": BNG}, {"bbox": "0,0,0.001,0.001"}):
        contract("items").validate(body(client.get("/ogcapi/collections/schools/items", query)))
    contract("items").validate(body(client.get("/ogcapi/collections/districts/items")))
    contract("items", "feature").validate(
        body(client.get(f"/ogcapi/collections/schools/items/{school}"))
    )
    for bad in ("/ogcapi/collections/schools/items?limit=0", "/ogcapi/collections/nothing",
                "/ogcapi/nothing"):  # fmt: skip
        contract("exception").validate(body(client.get(bad)))
    contract("exception").validate(body(client.delete("/ogcapi/collections")))


def test_a_contract_refuses_what_breaks_it(schools, client):
    """The contracts can fail: a page without its counts, a feature without its links."""
    page = body(client.get("/ogcapi/collections/schools/items", {"limit": 1}))
    del page["numberMatched"]
    with pytest.raises(jsonschema.ValidationError, match="'numberMatched' is a required"):
        contract("items").validate(page)
    feature = page["features"][0]
    feature["links"] = []
    with pytest.raises(jsonschema.ValidationError):
        contract("items", "feature").validate(feature)
