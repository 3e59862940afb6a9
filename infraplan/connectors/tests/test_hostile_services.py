"""Services that misbehave, answered by a real HTTP server on 127.0.0.1: one that pages without
end stops the load with a message instead of holding a worker for ever; JSON no reader should
take is refused with a message, and features of the wrong shape are problems of their rows."""

import json

import pytest

from infraplan.connectors.arcgis import esri_crs
from infraplan.connectors.base import ConnectorError
from infraplan.connectors.registry import connector_config, connector_for
from infraplan.connectors.remote import crs_parse
from infraplan.connectors.wfs import _geojson_batch as wfs_geojson_batch

from .servers import json_answer, replay_server, source_context

POINT = {"type": "Point", "coordinates": [1.08, 51.28]}
SAME_FEATURES = [
    {"type": "Feature", "id": f"S{number}", "properties": {"ref": f"S{number}"}, "geometry": POINT}
    for number in range(2)
]


def read_all(key: str, config: dict, tmp_path) -> int:
    connector = connector_for(key)
    batches = connector.batches(connector_config(key, config), source_context(tmp_path))
    return sum(len(batch) for batch in batches)


def test_an_ogc_api_whose_next_link_changes_only_a_meaningless_parameter(tmp_path):
    def route(path, query):
        turn = int(query.get("junk", "0")) + 1
        return json_answer(
            {"type": "FeatureCollection", "features": SAME_FEATURES,
             "links": [{"rel": "next", "href": f"{path}?junk={turn}"}]},
            "application/geo+json",
        )  # fmt: skip

    with (
        replay_server(route) as server,
        pytest.raises(ConnectorError, match=r"sent the same features again \(page 2"),
    ):
        read_all("ogcapi", {"url": f"{server.url}/collections/sites"}, tmp_path)
    assert len(server.requests) == 2


def test_an_arcgis_layer_that_ignores_the_offset(tmp_path):
    def route(path, query):
        if path.endswith("/query"):
            return json_answer(
                {"type": "FeatureCollection", "features": SAME_FEATURES,
                 "properties": {"exceededTransferLimit": True}}
            )  # fmt: skip
        return json_answer(
            {"type": "Feature Layer", "supportedQueryFormats": "JSON, geoJSON", "fields": []}
        )

    url = "/arcgis/rest/services/Sites/FeatureServer/0"
    with (
        replay_server(route) as server,
        pytest.raises(ConnectorError, match=r"sent the same features again \(page 2"),
    ):
        read_all("arcgis", {"url": f"{server.url}{url}"}, tmp_path)


def test_planning_data_pages_without_features_that_say_there_are_more(tmp_path):
    def route(path, query):
        offset = int(query.get("offset", "0"))
        return json_answer(
            {"type": "FeatureCollection", "features": [],
             "links": {"next": f"{path}?offset={offset + 500}"}}
        )  # fmt: skip

    with (
        replay_server(route) as server,
        pytest.raises(ConnectorError, match="4 pages in a row without features"),
    ):
        read_all("planning_data", {"dataset": "green-belt", "service": server.url}, tmp_path)
    assert len(server.requests) == 4


def ogcapi_answering(body: bytes, tmp_path) -> list:
    """The batches an OGC API collection yields when its items page answers ``body``."""
    with replay_server(lambda path, query: (200, "application/geo+json", body)) as server:
        connector = connector_for("ogcapi")
        config = connector_config("ogcapi", {"url": f"{server.url}/collections/sites"})
        return list(connector.batches(config, source_context(tmp_path)))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply to read"),
        (b'{"type": "FeatureCollection", "numberMatched": ' + b"9" * 5000 + b"}",
         "not valid JSON"),
    ],
)  # fmt: skip
def test_json_no_reader_should_take_is_refused_with_a_message(body, message, tmp_path):
    with pytest.raises(ConnectorError, match=message):
        ogcapi_answering(body, tmp_path)


def test_features_of_the_wrong_shape_are_problems_of_their_rows(tmp_path):
    features = [
        {"type": "Feature", "properties": ["not", "an", "object"], "geometry": POINT},
        {"type": "Feature", "properties": {"ref": "S2"},
         "geometry": {"type": "Point", "coordinates": [10**400, 51]}},
        {"type": "Feature", "properties": {"ref": "S3"}, "geometry": POINT},
    ]  # fmt: skip
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    [batch] = ogcapi_answering(body, tmp_path)
    assert [(problem.row, problem.field, problem.reason) for problem in batch.problems] == [
        (1, "properties", "are not a JSON object"),
        (2, "geometry", "is not a GeoJSON geometry"),
    ]
    assert batch.geometry[2] is not None


@pytest.mark.parametrize(
    ("links", "outcome"),
    [
        (5, None),  # not a list: no next page
        ([{"rel": "next", "href": ["a", "b"]}], None),  # an href that is not text: no link
        ([{"rel": "next", "href": "http://[::1/items"}], "next link is not a valid address"),
    ],
)
def test_an_ogc_api_next_link_of_the_wrong_shape(links, outcome, tmp_path):
    body = json.dumps({"type": "FeatureCollection", "features": SAME_FEATURES, "links": links})
    if outcome is None:
        [batch] = ogcapi_answering(body.encode(), tmp_path)
        assert len(batch) == 2
    else:
        with pytest.raises(ConnectorError, match=outcome):
            ogcapi_answering(body.encode(), tmp_path)


def test_an_arcgis_page_of_the_wrong_shape(tmp_path):
    """Attributes that are not an object, and a date field without a name, in Esri JSON."""
    page = {
        "fields": [{"type": "esriFieldTypeDate"}, {"name": "built", "type": "esriFieldTypeDate"}],
        "features": [
            {"attributes": ["S1"], "geometry": {"x": 615000, "y": 157500}},
            {"attributes": {"ref": "S2", "built": 0}, "geometry": {"x": 615100, "y": 157600}},
        ],
        "spatialReference": {"wkid": 27700},
    }  # fmt: skip

    def route(path, query):
        if path.endswith("/query"):
            return json_answer(page)
        return json_answer({"type": "Feature Layer", "supportedQueryFormats": "JSON", "fields": []})

    with replay_server(route) as server:
        connector = connector_for("arcgis")
        url = f"{server.url}/arcgis/rest/services/Sites/FeatureServer/0"
        config = connector_config("arcgis", {"url": url})
        [batch] = list(connector.batches(config, source_context(tmp_path)))
    assert [(problem.row, problem.field) for problem in batch.problems] == [(1, "properties")]
    assert batch.fields["built"][1] == "1970-01-01T00:00:00Z"


def test_coordinate_systems_named_in_the_wrong_shape_are_refused_with_a_message():
    with pytest.raises(ConnectorError, match="gives no well-known id"):
        esri_crs("EPSG:27700")
    with pytest.raises(ConnectorError, match="is not one the platform knows"):
        crs_parse("EPSG:" + "9" * 5000)
    body = json.dumps({"type": "FeatureCollection", "features": [], "crs": "EPSG:27700"})
    batch, _ = wfs_geojson_batch(body.encode(), 1, "page 1")  # a string: WGS84, as GeoJSON says
    assert batch.crs == "EPSG:4326"
    body = json.dumps(
        {"type": "FeatureCollection", "features": [], "crs": {"properties": {"name": 27700}}}
    )
    with pytest.raises(ConnectorError, match="names its coordinate system as 27700"):
        wfs_geojson_batch(body.encode(), 1, "page 1")


def test_a_page_of_json_too_large_to_parse_whole_asks_for_smaller_pages(tmp_path, settings):
    settings.OUTBOUND_JSON_MAX_BYTES = 50_000
    features = [
        {"type": "Feature", "id": f"S{number}", "properties": {"ref": f"S{number}"},
         "geometry": POINT}
        for number in range(1_000)
    ]  # fmt: skip
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    assert len(body) > 50_000
    with pytest.raises(ConnectorError) as refused:
        ogcapi_answering(body, tmp_path)
    assert str(refused.value) == (
        f"The response is {len(body):,} bytes, over the limit of 50,000. (page 1, from feature 1)"
        " A page of JSON is read whole, so it may be at most 50,000 bytes: ask for fewer "
        "features per request (the source's page size)."
    )
    assert not refused.value.temporary
    # A small page is read as ever under the same limit.
    assert (
        sum(
            len(batch)
            for batch in ogcapi_answering(
                json.dumps({"type": "FeatureCollection", "features": features[:10]}).encode(),
                tmp_path,
            )
        )
        == 10
    )
