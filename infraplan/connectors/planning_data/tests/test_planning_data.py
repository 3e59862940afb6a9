"""The planning.data.gov.uk connector against a local server answering as the entity search
does: GeoJSON pages with ``links`` (first, last, next, prev), empty strings for missing values,
and entities without geometry left out of a page."""

import pytest
import shapely
from django.conf import settings

from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.store import current_features
from infraplan.connectors.base import ConnectorError
from infraplan.connectors.fetch import FetchPolicy
from infraplan.connectors.registry import connector_config, connector_for
from infraplan.connectors.tests.servers import (
    HTML,
    json_answer,
    local_policy,
    replay_server,
    slow,
    source_context,
)
from infraplan.core.testing.data import dataset_make

ORGANISATION = 67  # an organisation entity number


def entity(n: int) -> dict:
    """A conservation area as the entity search writes it (properties with hyphens)."""
    x, y = 1.07 + n / 100, 51.27
    return {
        "type": "Feature",
        "geometry": {"type": "MultiPolygon", "coordinates": [[[
            [x, y], [x + 0.005, y], [x + 0.005, y + 0.005], [x, y + 0.005], [x, y]
        ]]]},
        "properties": {
            "entry-date": "2024-03-01", "start-date": "", "end-date": "",
            "entity": 44000000 + n, "name": f"Conservation area {n}",
            "dataset": "conservation-area", "typology": "geography",
            "reference": f"CA{n:02d}", "prefix": "conservation-area",
            "organisation-entity": str(ORGANISATION),
            "documentation-url": f"https://council.example/ca/{n}",
            "designation-date": "1970-01-01",
        },
    }  # fmt: skip


def search(total: int, without_geometry: set[int] = frozenset()):
    """The entity search over ``total`` entities; those in ``without_geometry`` are counted
    but, as on the real service, left out of GeoJSON pages."""

    def route(path: str, query: dict[str, str]):
        if path != "/entity.geojson":
            return 404, "application/json", b'{"detail": "Not Found"}'
        limit, offset = int(query.get("limit", 10)), int(query.get("offset", 0))
        numbers = range(offset + 1, min(offset + limit, total) + 1)
        base = "http://www.planning.data.gov.uk/entity.geojson?dataset=conservation-area"
        links = {"first": f"{base}&limit={limit}"} if total > limit else {}
        if offset + limit < total:
            links["next"] = f"{base}&limit={limit}&offset={offset + limit}"
        return json_answer({
            "type": "FeatureCollection",
            "features": [entity(n) for n in numbers if n not in without_geometry],
            "links": links,
        }, "application/json")  # fmt: skip

    return route


def read(replay, tmp_path, seen=None, **options):
    config = connector_config(
        "planning_data",
        {"dataset": "conservation-area", "service": replay.url, **options},
    )
    return list(connector_for("planning_data").batches(config, source_context(tmp_path, seen)))


def test_configuration_is_checked_at_the_edge():
    with pytest.raises(ConnectorError, match="dataset: String should match pattern"):
        connector_config("planning_data", {"dataset": "Conservation Areas"})
    with pytest.raises(ConnectorError, match="limit: Input should be less than or equal to 500"):
        connector_config("planning_data", {"dataset": "green-belt", "limit": 1000})
    with pytest.raises(
        ConnectorError, match="organisation_entity: Input should be a valid integer"
    ):
        connector_config("planning_data", {"dataset": "green-belt", "organisation_entity": "67"})
    config = connector_config("planning_data", {"dataset": "green-belt"})
    assert config.service == "https://www.planning.data.gov.uk"
    # The national service is on the default allow-list.
    assert "www.planning.data.gov.uk" in settings.OUTBOUND_ALLOWED_HOSTS


def test_pages_by_offset_until_there_is_no_next_link(tmp_path):
    seen = []
    with replay_server(search(7, without_geometry={5})) as replay:
        batches = read(replay, tmp_path, seen, organisation_entity=ORGANISATION, limit=3)
    assert [
        (q["dataset"], q["organisation_entity"], q["limit"], q["offset"])
        for _, q in replay.requests
    ] == [
        ("conservation-area", "67", "3", "0"),
        ("conservation-area", "67", "3", "3"),
        ("conservation-area", "67", "3", "6"),
    ]  # fmt: skip
    # The second page held two features (entity 5 has no geometry) and more still followed.
    assert [(batch.first_row, len(batch)) for batch in batches] == [(1, 3), (4, 2), (6, 1)]
    assert [ref for batch in batches for ref in batch.fields["reference"]] == [
        "CA01", "CA02", "CA03", "CA04", "CA06", "CA07",
    ]  # fmt: skip
    assert batches[0].fields["end-date"][0] is None  # "" on the service means no value
    assert batches[0].fields["entity"][0] == 44000001
    assert batches[0].crs == "EPSG:4326"
    assert shapely.from_wkb(batches[0].geometry[0]).geom_type == "MultiPolygon"
    assert seen == [(3, "fetching"), (5, "fetching"), (6, "fetching")]


def test_nothing_to_read_says_what_to_check(tmp_path):
    with (
        replay_server(search(0)) as replay,
        pytest.raises(ConnectorError, match="no entities with a geometry in the dataset "
                      "'conservation-area' for organisation 99999: check the dataset's name"),
    ):  # fmt: skip
        read(replay, tmp_path, organisation_entity=99999)


@pytest.mark.parametrize(
    ("answer", "message", "temporary"),
    [
        ((200, "text/html; charset=utf-8", HTML.encode()), "answered with a web page", False),
        ((200, "application/json", b'{"type": "FeatureCollection", "features": [{'),
         "not valid JSON", False),
        ((200, "application/json", b'{"entities": [], "links": {}, "count": 0}'),
         "did not answer with GeoJSON features", False),
        ((422, "application/json", b'{"detail": []}'), "answered HTTP 422", False),
        ((504, "text/plain", b"gateway timeout"), "answered HTTP 504", True),
    ],
)  # fmt: skip
def test_bad_answers_half_way_name_the_page(tmp_path, answer, message, temporary):
    good = search(10)

    def route(path, query):
        return answer if query.get("offset") == "4" else good(path, query)

    with replay_server(route) as replay, pytest.raises(ConnectorError) as raised:
        read(replay, tmp_path, limit=2)
    assert message in str(raised.value)
    assert "(page 3, entities from 5)" in str(raised.value)
    assert raised.value.temporary is temporary


def test_a_timeout_is_temporary_and_a_host_off_the_list_refused(tmp_path):
    with replay_server(lambda path, query: slow(2, json_answer({}))) as replay:
        config = connector_config("planning_data", {"dataset": "green-belt", "service": replay.url})
        context = source_context(tmp_path, policy=local_policy(read_timeout=0.3))
        with pytest.raises(ConnectorError, match="did not answer within the time") as raised:
            list(connector_for("planning_data").batches(config, context))
    assert raised.value.temporary
    config = connector_config("planning_data", {"dataset": "green-belt"})
    context = source_context(tmp_path, policy=FetchPolicy(allowed_hosts=("127.0.0.1",)))
    with pytest.raises(ConnectorError, match=r"www\.planning\.data\.gov\.uk is not on this"):
        list(connector_for("planning_data").batches(config, context))


# Real transactions: the pipeline's staging table lives until its transaction commits.
@pytest.mark.django_db(transaction=True)
def test_end_to_end_and_a_failure_half_way_publishes_nothing(personas, tmp_path):
    areas = dataset_make(slug="conservation-areas", owner=personas.organisation_a,
                         geometry_type="polygon")  # fmt: skip
    state = {"total": 2, "fail": False}

    def route(path, query):
        if state["fail"] and query.get("offset") == "4":
            return 503, "text/plain", b"try later"
        return search(state["total"])(path, query)

    with replay_server(route) as replay:
        ingest = dict(
            actor=None, dataset=areas, connector_key="planning_data",
            config={"dataset": "conservation-area", "service": replay.url, "limit": 2},
            mapping=IngestMapping(reference="reference"), fetch_policy=local_policy(),
        )  # fmt: skip
        first = ingest_run(**ingest)
        state.update(total=5, fail=True)
        with pytest.raises(IngestRejected, match=r"HTTP 503.*\(page 3, entities from 5\)") as no:
            ingest_run(**ingest)
        assert no.value.version.report["temporary"] is True
        first.refresh_from_db()
        assert first.is_current
        assert sorted(current_features(areas).values_list("reference", flat=True)) == [
            "CA01", "CA02",
        ]  # fmt: skip
        state["fail"] = False
        version = ingest_run(**ingest)
    assert version.is_current and version.report["rows_read"] == 5
    features = {f.reference: f for f in current_features(areas)}
    assert sorted(features) == ["CA01", "CA02", "CA03", "CA04", "CA05"]
    assert features["CA01"].properties["entity"] == 44000001
    assert features["CA01"].properties["start-date"] is None
    # About 350 m by 556 m of Canterbury, on the grid.
    assert features["CA01"].geom.srid == 27700
    assert features["CA01"].geom.area == pytest.approx(350 * 556, rel=0.05)


def test_an_entity_with_an_empty_geometry_and_a_point_is_loaded_at_its_point(tmp_path):
    """Entities published as a point only (a tree, a listed building) come with a ``point``
    in WKT and no geometry (null, or one without coordinates): the point is their geometry.
    Empty strings, for dates as for the rest, are missing values."""

    def route(path, query):
        features = [entity(n) for n in (1, 2, 3, 4)]
        features[0]["geometry"] = None
        features[1]["geometry"] = {"type": "MultiPolygon", "coordinates": []}
        features[2]["geometry"] = None
        for feature, point in zip(features, ["POINT (1.08 51.28)", "POINT(1.09 51.29)",
                                             "not a point", ""], strict=True):  # fmt: skip
            feature["properties"]["point"] = point
        features[3]["properties"]["entry-date"] = ""
        return json_answer({"type": "FeatureCollection", "features": features, "links": {}})

    with replay_server(route) as replay:
        (batch,) = read(replay, tmp_path)
    shapes = [shapely.from_wkb(value) if value is not None else None for value in batch.geometry]
    assert [shape.wkt if shape is not None else None for shape in shapes] == [
        "POINT (1.08 51.28)", "POINT (1.09 51.29)", None, shapes[3].wkt,
    ]  # fmt: skip
    assert shapes[3].geom_type == "MultiPolygon"  # its own geometry, with no point
    assert list(batch.fields["point"])[3] is None
    assert list(batch.fields["entry-date"]) == ["2024-03-01"] * 3 + [None]
