"""The ArcGIS REST connector against a local server answering in ArcGIS's own formats: a layer
description, GeoJSON pages, Esri JSON pages (Web Mercator points, British National Grid
polygons with holes, paths) with ``exceededTransferLimit``, errors sent with HTTP 200, a layer
read by object ids whose server sends fewer features than asked for, and a layer with dates in
an unknown time zone, which refuses a query that does not say it takes them as stored."""

import json
from collections import deque

import pytest
import shapely
from pyproj import Transformer

from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.models import VersionState
from infraplan.catalogue.store import current_features
from infraplan.connectors.arcgis import _id_chunk
from infraplan.connectors.base import ConnectorError
from infraplan.connectors.registry import connector_config, connector_for
from infraplan.connectors.tests.servers import (
    HTML,
    json_answer,
    local_policy,
    replay_server,
    slow,
    source_context,
)
from infraplan.core.testing.data import dataset_make, version_publish_points

LAYER = "/arcgis/rest/services/Planning/Sites/FeatureServer/0"
TO_MERCATOR = Transformer.from_crs(27700, 3857, always_xy=True)
FIELDS = [
    {"name": "OBJECTID", "type": "esriFieldTypeOID", "alias": "OBJECTID"},
    {"name": "SITE_REF", "type": "esriFieldTypeString", "alias": "Site reference", "length": 20},
    {"name": "HOMES", "type": "esriFieldTypeInteger", "alias": "Homes"},
    {"name": "ALLOCATED", "type": "esriFieldTypeDate", "alias": "Allocated", "length": 8},
]


def layer_description(formats: str = "JSON, geoJSON, PBF", max_records: int = 2000) -> dict:
    return {
        "currentVersion": 11.1, "id": 0, "name": "Sites", "type": "Feature Layer",
        "geometryType": "esriGeometryPoint", "objectIdField": "OBJECTID",
        "maxRecordCount": max_records, "supportedQueryFormats": formats,
        "extent": {"xmin": 110000, "ymin": 5830000, "xmax": 120000, "ymax": 5840000,
                   "spatialReference": {"wkid": 102100, "latestWkid": 3857}},
        "fields": FIELDS,
    }  # fmt: skip


def esri_point_page(start: int, count: int, more: bool) -> dict:
    """An f=json page of Web Mercator points, as a FeatureServer writes it."""
    features = []
    for n in range(start, start + count):
        x, y = TO_MERCATOR.transform(615000 + n * 10, 157500)
        features.append({
            "attributes": {"OBJECTID": n + 1, "SITE_REF": f"S{n + 1}", "HOMES": 10 * (n + 1),
                           "ALLOCATED": 1704067200000},
            "geometry": {"x": x, "y": y},
        })  # fmt: skip
    page = {
        "objectIdFieldName": "OBJECTID",
        "uniqueIdField": {"name": "OBJECTID", "isSystemMaintained": True},
        "globalIdFieldName": "", "geometryType": "esriGeometryPoint",
        "spatialReference": {"wkid": 102100, "latestWkid": 3857},
        "fields": FIELDS, "features": features,
    }  # fmt: skip
    if more:
        page["exceededTransferLimit"] = True
    return page


def geojson_page(start: int, count: int, more: bool) -> dict:
    """An f=geojson page: WGS84, the transfer limit under the collection's properties."""
    page = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": n + 1,
             "geometry": {"type": "Point", "coordinates": [1.0789 + n / 1000, 51.2802]},
             "properties": {"OBJECTID": n + 1, "SITE_REF": f"S{n + 1}", "HOMES": n,
                            "ALLOCATED": 1704067200000}}
            for n in range(start, start + count)
        ],
    }  # fmt: skip
    if more:
        page["properties"] = {"exceededTransferLimit": True}
    return page


def paged(page_of, total: int, formats: str = "JSON, geoJSON, PBF", max_records: int = 2000):
    """A layer whose query answers ``page_of`` pages over ``total`` features."""

    def route(path: str, query: dict[str, str]):
        if path == LAYER:
            return json_answer(layer_description(formats, max_records))
        if path == f"{LAYER}/query":
            offset, count = int(query["resultOffset"]), int(query["resultRecordCount"])
            count = max(0, min(count, total - offset))
            return json_answer(page_of(offset, count, offset + count < total))
        return 404, "text/plain", b"not found"

    return route


def read(replay, tmp_path, seen=None, **options):
    config = connector_config("arcgis", {"url": replay.url + LAYER, **options})
    return list(connector_for("arcgis").batches(config, source_context(tmp_path, seen)))


def test_configuration_is_checked_at_the_edge():
    with pytest.raises(ConnectorError, match=r"url: Value error, must be a layer's address"):
        connector_config("arcgis", {"url": "https://example.org/arcgis/rest/services/Sites"})
    with pytest.raises(ConnectorError, match="without a query"):
        connector_config("arcgis", {"url": "https://example.org/x/FeatureServer/0?f=json"})
    with pytest.raises(ConnectorError, match="format: Input should be 'geojson' or 'json'"):
        connector_config("arcgis", {"url": "https://example.org/x/MapServer/3", "format": "pbf"})


def test_esri_json_pages_follow_the_transfer_limit(tmp_path):
    seen = []
    with replay_server(paged(esri_point_page, 5, formats="JSON", max_records=2)) as replay:
        batches = read(replay, tmp_path, seen)
    queries = [query for path, query in replay.requests if path.endswith("/query")]
    # The page size is capped by the layer's maxRecordCount; f=json as only JSON is offered.
    assert [(q["resultOffset"], q["resultRecordCount"], q["f"]) for q in queries] == [
        ("0", "2", "json"), ("2", "2", "json"), ("4", "2", "json"),
    ]  # fmt: skip
    assert queries[0]["where"] == "1=1" and queries[0]["outFields"] == "*"
    assert [(batch.first_row, len(batch)) for batch in batches] == [(1, 2), (3, 2), (5, 1)]
    assert {batch.crs for batch in batches} == {"EPSG:3857"}
    assert batches[2].fields["SITE_REF"][0] == "S5"
    assert batches[0].fields["ALLOCATED"][0] == "2024-01-01T00:00:00Z"
    point = shapely.from_wkb(batches[2].geometry[0])
    assert (point.x, point.y) == pytest.approx(TO_MERCATOR.transform(615040, 157500))
    assert seen == [(2, "fetching"), (4, "fetching"), (5, "fetching")]


def test_geojson_is_used_where_the_layer_offers_it(tmp_path):
    with replay_server(paged(geojson_page, 3, max_records=2)) as replay:
        batches = read(replay, tmp_path)
    queries = [query for path, query in replay.requests if path.endswith("/query")]
    assert [(q["f"], q["outSR"]) for q in queries] == [("geojson", "4326"), ("geojson", "4326")]
    assert [len(batch) for batch in batches] == [2, 1]
    assert batches[0].crs == "EPSG:4326"
    assert list(batches[1].fields["SITE_REF"]) == ["S3"]
    # Dates are declared by the layer's description (GeoJSON pages carry no field list).
    assert batches[1].fields["ALLOCATED"][0] == "2024-01-01T00:00:00Z"
    assert "id" not in batches[0].fields  # the OBJECTID is already a property


def test_esri_lines_and_polygons_with_holes_in_the_grid(tmp_path):
    page = {
        "geometryType": "esriGeometryPolygon",
        "spatialReference": {"wkid": 27700, "latestWkid": 27700},
        "fields": FIELDS[:2],
        "features": [
            {"attributes": {"OBJECTID": 1, "SITE_REF": "ring-with-hole"},
             "geometry": {"rings": [
                 [[615000, 157000], [615000, 158000], [616000, 158000], [616000, 157000],
                  [615000, 157000]],  # clockwise: the outer boundary
                 [[615200, 157200], [615400, 157200], [615400, 157400], [615200, 157400],
                  [615200, 157200]],  # anticlockwise: a hole
             ]}},
            {"attributes": {"OBJECTID": 2, "SITE_REF": "two-parts"},
             "geometry": {"rings": [
                 [[617000, 157000], [617000, 157500], [617500, 157500], [617000, 157000]],
                 [[618000, 157000], [618000, 157500], [618500, 157500], [618000, 157000]],
             ]}},
            {"attributes": {"OBJECTID": 3, "SITE_REF": "road"},
             "geometry": {"paths": [[[615000, 157000], [616000, 158000]]]}},
            {"attributes": {"OBJECTID": 4, "SITE_REF": "broken"}, "geometry": {"lines": [[0, 0]]}},
            {"attributes": {"OBJECTID": 5, "SITE_REF": "none"}, "geometry": None},
        ],
    }  # fmt: skip

    def route(path, query):
        return json_answer(layer_description("JSON") if path == LAYER else page)

    with replay_server(route) as replay:
        (batch,) = read(replay, tmp_path)
    assert batch.crs == "EPSG:27700"
    shapes = [shapely.from_wkb(value) if value else None for value in batch.geometry]
    assert shapes[0].geom_type == "Polygon" and len(shapes[0].interiors) == 1
    assert shapes[0].area == pytest.approx(1_000_000 - 40_000)
    assert shapes[1].geom_type == "MultiPolygon" and len(shapes[1].geoms) == 2
    assert shapes[2].geom_type == "LineString"
    assert shapes[3:] == [None, None]
    assert [(p.row, p.field, p.reason) for p in batch.problems] == [
        (4, "geometry", "is not an Esri geometry")
    ]


def test_an_error_sent_with_http_200_is_a_connector_error(tmp_path):
    error = {"error": {"code": 400, "message": "Unable to complete operation.",
                       "details": ["'where' parameter is invalid"]}}  # fmt: skip

    def route(path, query):
        return json_answer(layer_description() if path == LAYER else error)

    with replay_server(route) as replay, pytest.raises(ConnectorError) as raised:
        read(replay, tmp_path, where="HOMES >")
    assert str(raised.value) == (
        "The ArcGIS server reported error 400: Unable to complete operation. ('where' parameter "
        "is invalid) (page 1, from feature 1)."
    )
    assert not raised.value.temporary


def test_a_layer_that_needs_a_token_says_so(tmp_path):
    needs_token = {"error": {"code": 499, "message": "Token Required", "details": []}}
    with (
        replay_server(lambda path, query: json_answer(needs_token)) as replay,
        pytest.raises(
            ConnectorError, match=r"secured .*add an ArcGIS token on the source.s settings"
        ),
    ):
        read(replay, tmp_path)


@pytest.mark.parametrize(
    ("answer", "message", "temporary"),
    [
        ((200, "text/html; charset=utf-8", HTML.encode()), "answered with a web page, not data",
         False),
        ((200, "application/json", b'{"features": [1, 2'), "not valid JSON", False),
        ((503, "text/plain", b"busy"), "answered HTTP 503", True),
        ((500, "text/plain", b"broken"), "answered HTTP 500", True),
        ((404, "text/plain", b"gone"), "answered HTTP 404", False),
    ],
)  # fmt: skip
def test_bad_answers_half_way_through_paging_name_the_page(tmp_path, answer, message, temporary):
    good = paged(esri_point_page, 10, formats="JSON", max_records=3)

    def route(path, query):
        if path.endswith("/query") and query["resultOffset"] == "3":
            return answer
        return good(path, query)

    with replay_server(route) as replay, pytest.raises(ConnectorError) as raised:
        read(replay, tmp_path)
    assert message in str(raised.value)
    assert "(page 2, from feature 4)" in str(raised.value)
    assert raised.value.temporary is temporary


def test_a_server_that_does_not_answer_in_time_is_temporary(tmp_path):
    with replay_server(lambda path, query: slow(2, json_answer({}))) as replay:
        config = connector_config("arcgis", {"url": replay.url + LAYER})
        context = source_context(tmp_path, policy=local_policy(read_timeout=0.3))
        with pytest.raises(ConnectorError, match="did not answer within the time") as raised:
            list(connector_for("arcgis").batches(config, context))
    assert raised.value.temporary


def test_a_host_not_on_the_allow_list_is_refused(tmp_path):
    config = connector_config("arcgis", {"url": "https://services.example.org/x/FeatureServer/0"})
    context = source_context(tmp_path, policy=local_policy())
    with pytest.raises(
        ConnectorError, match=r"services\.example\.org is not on this platform's list"
    ):
        list(connector_for("arcgis").batches(config, context))


@pytest.fixture
def sites(personas):
    return dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "SITE_REF", "type": "string", "title": "Reference", "required": True},
                      {"name": "HOMES", "type": "integer", "title": "Homes"}],
    )  # fmt: skip


@pytest.mark.django_db
def test_end_to_end_into_a_dataset_and_a_failure_half_way_publishes_nothing(sites, tmp_path):
    before = version_publish_points(dataset=sites, points={"KEEP": (615000, 157500)})
    good = paged(esri_point_page, 5, formats="JSON", max_records=2)
    broken = {"fail": True}

    def route(path, query):
        if broken["fail"] and path.endswith("/query") and query["resultOffset"] == "4":
            return 502, "text/plain", b"bad gateway"
        return good(path, query)

    with replay_server(route) as replay:
        ingest = dict(
            actor=None, dataset=sites, connector_key="arcgis",
            config={"url": replay.url + LAYER}, mapping=IngestMapping(reference="SITE_REF"),
            fetch_policy=local_policy(),
        )  # fmt: skip
        with pytest.raises(IngestRejected, match=r"answered HTTP 502.*\(page 3, from feature 5\)"):
            ingest_run(**ingest)
        # Four features had been read and staged: none of them is published.
        failed = sites.versions.order_by("-number").first()
        assert failed.state == VersionState.FAILED and failed.report["temporary"] is True
        before.refresh_from_db()
        assert before.is_current
        assert list(current_features(sites).values_list("reference", flat=True)) == ["KEEP"]

        broken["fail"] = False
        version = ingest_run(**ingest)
    assert version.is_current and version.report["rows_read"] == 5
    features = {f.reference: f for f in current_features(sites)}
    assert sorted(features) == ["S1", "S2", "S3", "S4", "S5"]
    assert features["S5"].properties["HOMES"] == 50
    assert (features["S5"].geom.x, features["S5"].geom.y) == pytest.approx(
        (615040, 157500), abs=0.01
    )


def load_into(dataset, replay):
    """The replayed layer loaded into ``dataset`` through the whole pipeline."""
    return ingest_run(
        actor=None, dataset=dataset, connector_key="arcgis", config={"url": replay.url + LAYER},
        mapping=IngestMapping(reference="SITE_REF"), fetch_policy=local_policy(),
    )  # fmt: skip


@pytest.mark.django_db
def test_nan_in_esri_json_is_stored_as_unknown(sites, tmp_path):
    """ArcGIS servers write an unset double as a bare ``NaN`` in f=json (not valid JSON, which
    Python reads as a float). It is stored as null, unknown, not as a number or a failed load."""

    def page_with_nan(start: int, count: int, more: bool) -> dict:
        page = esri_point_page(start, count, more)
        for number, feature in enumerate(page["features"], start=start + 1):
            feature["attributes"]["AREA_HA"] = float("nan") if number == 2 else 1.5
        return page

    assert b'"AREA_HA": NaN' in json_answer(page_with_nan(0, 3, more=False))[2]
    with replay_server(paged(page_with_nan, 3, formats="JSON")) as replay:
        version = load_into(sites, replay)
    assert version.is_current and version.report["rows_rejected"] == 0
    areas = {f.reference: f.properties["AREA_HA"] for f in current_features(sites)}
    assert areas == {"S1": 1.5, "S2": None, "S3": 1.5}


@pytest.mark.django_db
def test_nul_characters_in_attributes_are_removed_and_reported(sites, tmp_path):
    """JSON can carry a NUL (``\\u0000``), which PostgreSQL cannot store in text: it is taken
    out of names, values and references alike, and the report says in how many rows."""

    def page_with_nul(start: int, count: int, more: bool) -> dict:
        page = esri_point_page(start, count, more)
        if start == 0:
            first = page["features"][0]["attributes"]
            first["SITE_REF"], first["NOTE\x00"] = "S\x001", "before\x00after"
        return page

    assert b"\\u0000" in json_answer(page_with_nul(0, 2, more=False))[2]
    with replay_server(paged(page_with_nul, 2, formats="JSON")) as replay:
        version = load_into(sites, replay)
    assert version.is_current
    # The attribute's name is in both rows (null in the second), so both held one.
    assert any("2 rows held NUL characters" in note for note in version.report["notes"])
    notes = dict(current_features(sites).values_list("reference", "properties__NOTE"))
    assert notes == {"S1": "beforeafter", "S2": None}


def test_a_date_no_calendar_has_is_a_row_problem_and_nan_is_unknown(tmp_path):
    def page_with_odd_dates(start: int, count: int, more: bool) -> dict:
        page = esri_point_page(start, count, more)
        page["features"][1]["attributes"]["ALLOCATED"] = 1e20  # beyond the year 9999
        page["features"][2]["attributes"]["ALLOCATED"] = float("nan")
        return page

    with replay_server(paged(page_with_odd_dates, 3, formats="JSON")) as replay:
        (batch,) = read(replay, tmp_path)
    assert list(batch.fields["ALLOCATED"]) == ["2024-01-01T00:00:00Z", None, None]
    assert [problem.as_dict() for problem in batch.problems] == [
        {"row": 2, "field": "ALLOCATED", "value": "1e+20",
         "problem": "is not a date (milliseconds since 1970 out of range)"},
    ]  # fmt: skip


@pytest.mark.parametrize(("flag", "pages"), [("false", 1), ("true", 3), (" TRUE ", 3), (1, 1)])
@pytest.mark.parametrize("page_of", [esri_point_page, geojson_page])
def test_a_transfer_limit_written_as_text_is_read_as_what_it_says(tmp_path, page_of, flag, pages):
    """Some servers and proxies write the flag as text: "false" must not read as more to come.
    Only true (the boolean or its text) follows the next page."""

    def with_flag_as(offset: int, count: int, more: bool) -> dict:
        page = page_of(offset, count, False)
        if more:
            holder = page.setdefault("properties", {}) if page_of is geojson_page else page
            holder["exceededTransferLimit"] = flag
        return page

    formats = "JSON" if page_of is esri_point_page else "JSON, geoJSON"
    with replay_server(paged(with_flag_as, 5, formats=formats, max_records=2)) as replay:
        batches = read(replay, tmp_path)
    assert len(batches) == pages
    assert [len(batch) for batch in batches] == [2, 2, 1][:pages]


def square(west: float, south: float, east: float, north: float, clockwise: bool = True) -> list:
    """A closed square ring, clockwise (an outer boundary in Esri JSON) or not (a hole)."""
    ring = [[west, south], [west, north], [east, north], [east, south], [west, south]]
    return ring if clockwise else ring[::-1]


def one_esri_page(features: list, spatial_reference: dict | None = None):
    """A layer offering only Esri JSON whose query answers ``features`` in one page."""
    page = {
        "geometryType": "esriGeometryPolygon",
        "spatialReference": spatial_reference or {"wkid": 27700, "latestWkid": 27700},
        "fields": FIELDS[:2], "features": features,
    }  # fmt: skip

    def route(path, query):
        return json_answer(layer_description("JSON") if path == LAYER else page)

    return route


def test_an_island_in_a_lake_keeps_its_own_hole_and_empty_parts_are_left_out(tmp_path):
    """Several outer rings with holes in one feature: each hole belongs to the smallest outer
    ring around it, so the hole of an island inside another ring's hole is the island's (not a
    hole nested in a hole, an invalid polygon the load would count as repaired). Unclosed
    rings are closed; empty rings and paths, which some servers write, are left out."""
    lake_and_island = [
        square(615000, 157000, 616000, 158000),  # the land around the lake
        square(615100, 157100, 615900, 157900, clockwise=False),  # the lake
        square(615200, 157200, 615800, 157800),  # an island in the lake
        square(615400, 157400, 615600, 157600, clockwise=False),  # a pond on the island
    ]
    unclosed = square(617000, 157000, 617500, 157500)[:-1]
    features = [
        {"attributes": {"OBJECTID": 1, "SITE_REF": "lake"}, "geometry": {"rings": lake_and_island}},
        {"attributes": {"OBJECTID": 2, "SITE_REF": "unclosed"},
         "geometry": {"rings": [[], unclosed]}},
        {"attributes": {"OBJECTID": 3, "SITE_REF": "road"},
         "geometry": {"paths": [[], [[615000, 157000], [616000, 158000]]]}},
        {"attributes": {"OBJECTID": 4, "SITE_REF": "nothing"}, "geometry": {"rings": [[]]}},
    ]  # fmt: skip
    with replay_server(one_esri_page(features)) as replay:
        (batch,) = read(replay, tmp_path)
    assert batch.problems == []
    lake, closed, road, nothing = (
        shapely.from_wkb(value) if value else None for value in batch.geometry
    )
    assert lake.geom_type == "MultiPolygon" and lake.is_valid
    assert sorted((len(part.interiors), part.area) for part in lake.geoms) == [
        (1, 600**2 - 200**2), (1, 1000**2 - 800**2),
    ]  # fmt: skip
    assert closed.geom_type == "Polygon" and closed.is_valid and closed.area == 500**2
    assert road.wkt == "LINESTRING (615000 157000, 616000 158000)"
    assert nothing is None


def test_true_curves_the_server_was_asked_not_to_send_are_named_as_such(tmp_path):
    curved = {
        "curveRings": [
            [
                [615000, 157000],
                [615000, 158000],
                {"c": [[616000, 158000], [615500, 158200]]},
                [615000, 157000],
            ]
        ]
    }
    features = [{"attributes": {"OBJECTID": 1, "SITE_REF": "curved"}, "geometry": curved}]
    with replay_server(one_esri_page(features)) as replay:
        (batch,) = read(replay, tmp_path)
    [query] = [query for path, query in replay.requests if path.endswith("/query")]
    assert query["returnTrueCurves"] == "false"
    assert batch.geometry[0] is None
    assert [(p.row, p.reason) for p in batch.problems] == [
        (1, "has true curves (Esri curveRings or curvePaths), which the server was asked to "
            "draw as straight segments (returnTrueCurves=false) but did not"),
    ]  # fmt: skip


BNG_WKT = (
    'PROJCS["British_National_Grid",GEOGCS["GCS_OSGB_1936",DATUM["D_OSGB_1936",SPHEROID['
    '"Airy_1830",6377563.396,299.3249646]],PRIMEM["Greenwich",0.0],UNIT["Degree",'
    '0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",400000.0],'
    'PARAMETER["False_Northing",-100000.0],PARAMETER["Central_Meridian",-2.0],PARAMETER['
    '"Scale_Factor",0.9996012717],PARAMETER["Latitude_Of_Origin",49.0],UNIT["Meter",1.0]]'
)
LOCAL_WKT = BNG_WKT.replace("-2.0", "-2.5").replace("British_National_Grid", "Site_Grid")


def test_a_coordinate_system_given_only_as_wkt_is_matched_to_its_epsg_code(tmp_path):
    features = [{"attributes": {"OBJECTID": 1, "SITE_REF": "S1"},
                 "geometry": {"rings": [square(615000, 157000, 616000, 158000)]}}]  # fmt: skip
    with replay_server(one_esri_page(features, {"wkt": BNG_WKT})) as replay:
        (batch,) = read(replay, tmp_path)
    assert batch.crs == "EPSG:27700"
    with (
        replay_server(one_esri_page(features, {"wkt": LOCAL_WKT})) as replay,
        pytest.raises(ConnectorError, match=r"given only as WKT, matches no EPSG coordinate "
                      r"system .*PROJCS\[\"Site_Grid\""),
    ):  # fmt: skip
        read(replay, tmp_path)


STATUS = {"type": "codedValue", "name": "SiteStatus", "codedValues": [
    {"name": "Allocated", "code": 1}, {"name": "Under construction", "code": 2},
]}  # fmt: skip
GREEN_STATUS = {"type": "codedValue", "name": "GreenStatus", "codedValues": [
    {"name": "Protected open space", "code": 1},
]}  # fmt: skip


@pytest.mark.parametrize("page_of", [esri_point_page, geojson_page])
def test_coded_values_are_loaded_as_the_names_arcgis_shows(tmp_path, page_of):
    """A coded-value domain's codes become their names; a subtype's own domain wins over the
    field's, an inherited one falls back to it, and a code outside the domain is kept."""
    description = layer_description("JSON, geoJSON" if page_of is geojson_page else "JSON")
    description["fields"] = [*FIELDS, {"name": "STATUS", "type": "esriFieldTypeSmallInteger",
                                       "domain": STATUS},
                             {"name": "KIND", "type": "esriFieldTypeSmallInteger"}]  # fmt: skip
    description["typeIdField"] = "KIND"
    description["types"] = [
        {"id": 1, "name": "Housing", "domains": {"STATUS": {"type": "inherited"}}},
        {"id": 2, "name": "Green space", "domains": {"STATUS": GREEN_STATUS}},
    ]

    def route(path, query):
        if path == LAYER:
            return json_answer(description)
        page = page_of(0, 4, more=False)
        for number, feature in enumerate(page["features"]):
            values = feature["attributes"] if page_of is esri_point_page else feature["properties"]
            values["STATUS"], values["KIND"] = [(1, 1), (2, None), (1, 2), (9, 1)][number]
        return json_answer(page)

    with replay_server(route) as replay:
        (batch,) = read(replay, tmp_path)
    assert list(batch.fields["STATUS"]) == [
        "Allocated", "Under construction", "Protected open space", 9,
    ]  # fmt: skip
    assert list(batch.fields["KIND"]) == [1, None, 2, 1]


@pytest.mark.parametrize(
    "description",
    [
        {"advancedQueryCapabilities": {"supportsPagination": False}},
        {"currentVersion": 10.22},  # before resultOffset, no advancedQueryCapabilities
    ],
)
def test_a_layer_that_cannot_page_by_offset_is_read_by_object_ids(tmp_path, description):
    """Such a server ignores resultOffset and answers its first features every time; their
    object ids (all of them, in one answer) are asked for instead, a page at a time."""
    total = 7
    layer = {**layer_description("JSON", max_records=3), **description}

    def route(path, query):
        if path == LAYER:
            return json_answer(layer)
        if query.get("returnIdsOnly") == "true":
            # Not in order, as servers answer them.
            return json_answer({"objectIdFieldName": "OBJECTID",
                                "objectIds": [5, 2, 7, 1, 3, 6, 4]})  # fmt: skip
        wanted = [int(i) for i in query["objectIds"].split(",")] if "objectIds" in query else []
        page = esri_point_page(0, 0, more=False)
        page["features"] = [
            f for n in wanted for f in esri_point_page(n - 1, 1, more=False)["features"]
        ]
        if not wanted:  # what resultOffset gets from such a server: the first page again
            page = esri_point_page(0, 3, more=True)
        return json_answer(page)

    seen = []
    with replay_server(route) as replay:
        batches = read(replay, tmp_path, seen)
    queries = [query for path, query in replay.requests if path.endswith("/query")]
    assert [(q.get("returnIdsOnly"), q.get("objectIds")) for q in queries] == [
        ("true", None), (None, "1,2,3"), (None, "4,5,6"), (None, "7"),
    ]  # fmt: skip
    assert all("resultOffset" not in query for query in queries)
    assert [(batch.first_row, len(batch)) for batch in batches] == [(1, 3), (4, 3), (7, 1)]
    assert [ref for batch in batches for ref in batch.fields["SITE_REF"]] == [
        f"S{n}" for n in range(1, total + 1)
    ]
    assert seen == [(3, "fetching"), (6, "fetching"), (7, "fetching")]


def capped_by_object_ids(page_of, total: int, cap: int, never=(), max_records: int = 25):
    """A layer that cannot page by offset, with ``total`` features, whose queries send the
    first ``cap`` of the ids asked for, whatever its description says of its maximum, and
    never those in ``never``."""
    description = {**layer_description(formats_of(page_of), max_records=max_records),
                   "advancedQueryCapabilities": {"supportsPagination": False}}  # fmt: skip

    def route(path, query):
        if path == LAYER:
            return json_answer(description)
        if query.get("returnIdsOnly") == "true":
            return json_answer({"objectIdFieldName": "OBJECTID",
                                "objectIds": list(range(total, 0, -1))})  # fmt: skip
        asked = sorted(int(n) for n in query["objectIds"].split(","))
        sent = [n for n in asked if n not in never][:cap]
        page = page_of(0, 0, more=False)
        page["features"] = [f for n in sent for f in page_of(n - 1, 1, more=False)["features"]]
        return json_answer(page)

    return route


@pytest.mark.parametrize("page_of", [esri_point_page, geojson_page])
def test_ids_a_server_did_not_send_are_asked_for_again(tmp_path, page_of):
    """A server sending at most 20 features a query, where its description says 25: the 5 ids
    of a page it did not send are asked for again, first in the next query."""
    seen = []
    with replay_server(capped_by_object_ids(page_of, 60, cap=20)) as replay:
        batches = read(replay, tmp_path, seen)
    queries = [q["objectIds"].split(",") for p, q in replay.requests if "objectIds" in q]
    assert [(ids[0], ids[-1], len(ids)) for ids in queries] == [
        ("1", "25", 25), ("21", "45", 25), ("41", "60", 20),
    ]  # fmt: skip
    assert [(batch.first_row, len(batch)) for batch in batches] == [(1, 20), (21, 20), (41, 20)]
    assert [ref for batch in batches for ref in batch.fields["SITE_REF"]] == [
        f"S{n}" for n in range(1, 61)
    ]
    assert seen == [(20, "fetching"), (40, "fetching"), (60, "fetching")]


def test_ids_a_server_never_sends_fail_the_load_naming_them(tmp_path):
    route = capped_by_object_ids(esri_point_page, 30, cap=20, never={7, 23, 24})
    with replay_server(route) as replay, pytest.raises(ConnectorError) as raised:
        read(replay, tmp_path)
    assert str(raised.value) == (
        "The ArcGIS server listed 30 features but did not return 3 of them when asked for "
        "them by object id (object ids 7, 23, 24): loading stopped rather than publish the "
        "layer without them. They may have been deleted while it was being read."
    )
    assert raised.value.temporary
    queries = [q["objectIds"] for p, q in replay.requests if "objectIds" in q]
    # Each query sent some of the ids it asked for but the last, which sent none of them.
    assert queries[-1] == "7,23,24"
    many = capped_by_object_ids(esri_point_page, 40, cap=40, never=set(range(2, 40)))
    with replay_server(many) as replay, pytest.raises(ConnectorError) as raised:
        read(replay, tmp_path)
    assert "did not return 38 of them" in str(raised.value)
    assert "(object ids 2, 3, 4, 5, 6, 33 more)" in str(raised.value)


def test_an_answer_without_object_ids_cannot_be_checked_and_fails(tmp_path):
    route = capped_by_object_ids(esri_point_page, 3, cap=3)

    def without_object_ids(path, query):
        status, content_type, body = route(path, query)
        if "objectIds" in query:
            page = json.loads(body)
            for feature in page["features"]:
                del feature["attributes"]["OBJECTID"]
            body = json.dumps(page).encode()
        return status, content_type, body

    with replay_server(without_object_ids) as replay, pytest.raises(ConnectorError) as raised:
        read(replay, tmp_path)
    assert str(raised.value) == (
        "The ArcGIS server's answer does not give its features' object ids (OBJECTID), so it "
        "cannot be told which of those asked for it sent (page 1, from feature 1, by object id)."
    )


@pytest.mark.django_db
def test_a_capped_server_read_by_object_ids_replaces_the_whole_version_or_none(sites):
    """With 30 sites published, a server sending 20 features a query where 25 were asked
    publishes all 30 (none "removed"), and one that never sends one of them publishes
    nothing."""
    before = version_publish_points(
        dataset=sites, points={f"S{n}": (615000 + n * 10, 157500) for n in range(1, 31)}
    )
    never = {"ids": {17}}

    def route(path, query):
        return capped_by_object_ids(esri_point_page, 30, cap=20, never=never["ids"])(path, query)

    with replay_server(route) as replay:
        with pytest.raises(IngestRejected, match=r"did not return 1 of them .*object ids 17\)"):
            load_into(sites, replay)
        before.refresh_from_db()
        assert before.is_current and current_features(sites).count() == 30
        never["ids"] = set()
        version = load_into(sites, replay)
    assert version.is_current and version.report["rows_read"] == 30
    assert sorted(current_features(sites).values_list("reference", flat=True)) == sorted(
        f"S{n}" for n in range(1, 31)
    )


def test_object_ids_are_asked_for_in_pages_a_web_server_accepts():
    """A GET query with thousands of ids would pass the limits of the web servers in front of
    ArcGIS (IIS: 2,048 characters), so a page by id holds fewer than the page size then."""
    pending = deque(range(1_000_000, 1_001_000))
    chunks = []
    while pending:
        chunks.append(_id_chunk(pending, 1000))
    assert sum(len(chunk) for chunk in chunks) == 1000
    assert max(len("%2C".join(map(str, chunk))) for chunk in chunks) <= 1500
    pending = deque([1, 2, 3, 4, 5])
    assert [_id_chunk(pending, 2) for _ in range(3)] == [[1, 2], [3, 4], [5]]


def test_a_geojson_page_with_a_feature_that_is_not_an_object_reports_its_row(tmp_path):
    def route(path, query):
        if path == LAYER:
            return json_answer(layer_description("JSON, geoJSON"))
        page = geojson_page(0, 2, more=False)
        page["features"].insert(1, "not a feature")
        return json_answer(page)

    with replay_server(route) as replay:
        (batch,) = read(replay, tmp_path)
    assert len(batch) == 3
    assert [(p.row, p.reason) for p in batch.problems] == [(2, "is not a feature")]
    assert batch.fields["ALLOCATED"][2] == "2024-01-01T00:00:00Z"


@pytest.fixture
def new_sites(personas):
    """A dataset as the page that adds one leaves it: no fields, no version."""
    return dataset_make(slug="new-sites", owner=personas.organisation_a)


# Esri's date fields hold UTC milliseconds since 1970. A day picked in the UK is stored as its
# midnight in London, in UTC: a winter day at 00:00, a summer one at 23:00 the day before, and one
# in 1969 at 23:00 too (British Standard Time, an hour ahead of UTC all year from 1968 to 1971).
ALLOCATED_DAYS = {
    "S1": (1704067200000, "2024-01-01"),  # 2024-01-01T00:00:00Z
    "S2": (1719788400000, "2024-07-01"),  # 2024-06-30T23:00:00Z
    "S3": (-90000000, "1969-12-31"),  # 1969-12-30T23:00:00Z
}
INSPECTED_MOMENTS = {  # times of day: one a London midnight in summer (23:00 UTC the day before)
    "S1": (1718838000000, "2024-06-19T23:00:00Z"),
    "S2": (1704119400250, "2024-01-01T14:30:00.250Z"),
    "S3": (None, None),
}


@pytest.mark.django_db
@pytest.mark.parametrize("page_of", [esri_point_page, geojson_page])
def test_a_first_load_makes_an_esri_date_field_of_whole_days_a_date_field(new_sites, page_of):
    """A layer's date field whose values are all whole days, midnights in the platform's time
    zone stored in UTC as ArcGIS stores a day picked in the UK, gives a new dataset a date field
    holding those days (1 July, not 30 June, for 2024-06-30T23:00:00Z); one with a real time of
    day stays text, each value its moment in UTC, as a date field holds only a day."""
    description = layer_description("JSON, geoJSON" if page_of is geojson_page else "JSON")
    description["fields"] = [*FIELDS, {"name": "INSPECTED", "type": "esriFieldTypeDate"}]

    def route(path, query):
        if path == LAYER:
            return json_answer(description)
        page = page_of(0, 3, more=False)
        for number, feature in enumerate(page["features"], start=1):
            values = feature["attributes"] if page_of is esri_point_page else feature["properties"]
            values["ALLOCATED"] = ALLOCATED_DAYS[f"S{number}"][0]
            values["INSPECTED"] = INSPECTED_MOMENTS[f"S{number}"][0]
        return json_answer(page)

    with replay_server(route) as replay:
        version = load_into(new_sites, replay)
    new_sites.refresh_from_db()
    types = {entry["name"]: entry["type"] for entry in new_sites.field_schema}
    assert (types["ALLOCATED"], types["INSPECTED"]) == ("date", "string")
    stored = {
        f.reference: (f.properties["ALLOCATED"], f.properties["INSPECTED"])
        for f in current_features(new_sites)
    }
    assert stored == {
        reference: (ALLOCATED_DAYS[reference][1], INSPECTED_MOMENTS[reference][1])
        for reference in ("S1", "S2", "S3")
    }
    assert any(
        "ALLOCATED (dates)" in note and "INSPECTED holds times of day" in note
        for note in version.report["notes"]
    )


# A layer with dates in an unknown time zone (datesInUnknownTimeZone) stores wall-clock times,
# which ArcGIS answers as the milliseconds since 1970 they would be in UTC.
WALL_CLOCK = [
    (1719876600000, "2024-07-01T23:30:00"),  # a summer evening: 2 July at 00:30 in London
    (1704119400250, "2024-01-01T14:30:00.250"),
    (1719792000000, "2024-07-01T00:00:00"),
]
UNKNOWN_TIME_ZONE_ERROR = {"error": {"code": 400, "message": "Unable to complete operation.",
                                     "details": ["'timeReferenceUnknownClient' must be set to "
                                                 "true for layers with unknown time zone."]}}  # fmt: skip


def in_unknown_time_zone(route):
    """``route``'s layer with its dates in an unknown time zone, answered as ArcGIS does: its
    description says so, and a query without timeReferenceUnknownClient=true is an error."""

    def answer(path, query):
        if path == LAYER:
            description = json.loads(route(path, query)[2])
            return json_answer({**description, "datesInUnknownTimeZone": True})
        if path.endswith("/query") and query.get("timeReferenceUnknownClient") != "true":
            return json_answer(UNKNOWN_TIME_ZONE_ERROR)
        return route(path, query)

    return answer


def with_wall_clock_dates(page_of):
    """``page_of`` with each feature's ALLOCATED the wall-clock time of its place in WALL_CLOCK."""

    def page(start: int, count: int, more: bool) -> dict:
        page = page_of(start, count, more)
        for number, feature in enumerate(page["features"], start=start):
            values = feature["attributes"] if page_of is esri_point_page else feature["properties"]
            values["ALLOCATED"] = WALL_CLOCK[number][0]
        return page

    return page


def formats_of(page_of) -> str:
    return "JSON, geoJSON" if page_of is geojson_page else "JSON"


@pytest.mark.parametrize("page_of", [esri_point_page, geojson_page])
def test_dates_in_an_unknown_time_zone_are_asked_for_and_written_as_stored(tmp_path, page_of):
    """Every query says the connector takes the dates as stored, which ArcGIS requires of such
    a layer, and each is written without a zone: a wall-clock time, not a moment in UTC."""
    route = paged(with_wall_clock_dates(page_of), 3, formats_of(page_of), max_records=2)
    with replay_server(in_unknown_time_zone(route)) as replay:
        batches = read(replay, tmp_path)
    queries = [query for path, query in replay.requests if path.endswith("/query")]
    assert [q["timeReferenceUnknownClient"] for q in queries] == ["true", "true"]
    assert [value for batch in batches for value in batch.fields["ALLOCATED"]] == [
        written for _, written in WALL_CLOCK
    ]


def test_a_layer_in_an_unknown_time_zone_read_by_object_ids_says_so_in_every_query(tmp_path):
    description = {**layer_description("JSON", max_records=2),
                   "advancedQueryCapabilities": {"supportsPagination": False}}  # fmt: skip
    page_of = with_wall_clock_dates(esri_point_page)

    def route(path, query):
        if path == LAYER:
            return json_answer(description)
        if query.get("returnIdsOnly") == "true":
            return json_answer({"objectIdFieldName": "OBJECTID", "objectIds": [3, 1, 2]})
        page = page_of(0, 0, more=False)
        page["features"] = [
            feature
            for n in map(int, query["objectIds"].split(","))
            for feature in page_of(n - 1, 1, more=False)["features"]
        ]
        return json_answer(page)

    with replay_server(in_unknown_time_zone(route)) as replay:
        batches = read(replay, tmp_path)
    queries = [query for path, query in replay.requests if path.endswith("/query")]
    assert [(q.get("returnIdsOnly"), q.get("objectIds")) for q in queries] == [
        ("true", None), (None, "1,2"), (None, "3"),
    ]  # fmt: skip
    assert [q["timeReferenceUnknownClient"] for q in queries] == ["true", "true", "true"]
    assert [value for batch in batches for value in batch.fields["ALLOCATED"]] == [
        written for _, written in WALL_CLOCK
    ]


@pytest.fixture
def dated_sites(personas):
    return dataset_make(
        slug="dated-sites", owner=personas.organisation_a,
        field_schema=[{"name": "SITE_REF", "type": "string", "title": "Reference", "required": True},
                      {"name": "ALLOCATED", "type": "date", "title": "Allocated"}],
    )  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("page_of", [esri_point_page, geojson_page])
def test_a_date_field_keeps_the_day_written_in_an_unknown_time_zone(dated_sites, page_of):
    """A wall-clock 23:30 on 1 July is stored as 1 July: read as UTC, it would be 00:30 on
    2 July in the platform's time zone in summer."""
    route = paged(with_wall_clock_dates(page_of), 3, formats_of(page_of))
    with replay_server(in_unknown_time_zone(route)) as replay:
        version = load_into(dated_sites, replay)
    assert version.is_current and version.report["rows_rejected"] == 0
    stored = dict(current_features(dated_sites).values_list("reference", "properties__ALLOCATED"))
    assert stored == {"S1": "2024-07-01", "S2": "2024-01-01", "S3": "2024-07-01"}


@pytest.mark.django_db
@pytest.mark.parametrize("page_of", [esri_point_page, geojson_page])
def test_a_first_load_makes_whole_days_in_an_unknown_time_zone_a_date_field(new_sites, page_of):
    """Whole days as stored (midnights as written) give a new dataset a date field of those
    days; wall-clock times of day stay text, as written."""
    description = layer_description(formats_of(page_of))
    description["fields"] = [*FIELDS, {"name": "INSPECTED", "type": "esriFieldTypeDate"}]
    days = {"S1": (1719792000000, "2024-07-01"), "S2": (1704067200000, "2024-01-01"),
            "S3": (-86400000, "1969-12-31")}  # fmt: skip

    def route(path, query):
        if path == LAYER:
            return json_answer(description)
        page = page_of(0, 3, more=False)
        for number, feature in enumerate(page["features"], start=1):
            values = feature["attributes"] if page_of is esri_point_page else feature["properties"]
            values["ALLOCATED"] = days[f"S{number}"][0]
            values["INSPECTED"] = WALL_CLOCK[number - 1][0]
        return json_answer(page)

    with replay_server(in_unknown_time_zone(route)) as replay:
        load_into(new_sites, replay)
    new_sites.refresh_from_db()
    types = {entry["name"]: entry["type"] for entry in new_sites.field_schema}
    assert (types["ALLOCATED"], types["INSPECTED"]) == ("date", "string")
    stored = {
        f.reference: (f.properties["ALLOCATED"], f.properties["INSPECTED"])
        for f in current_features(new_sites)
    }
    assert stored == {
        f"S{number}": (days[f"S{number}"][1], WALL_CLOCK[number - 1][1]) for number in (1, 2, 3)
    }
