"""The OGC API - Features connector against pygeoapi serving a GeoJSON file on 127.0.0.1
(started by the test with gunicorn), paging by its ``next`` links; bad answers from a local
replaying server."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import shapely
from pyproj import Transformer

from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.store import current_features
from infraplan.connectors.base import ConnectorError
from infraplan.connectors.registry import connector_config, connector_for
from infraplan.connectors.tests.servers import (
    HTML,
    free_port,
    json_answer,
    local_policy,
    replay_server,
    slow,
    source_context,
)
from infraplan.core.testing.data import dataset_make, version_publish_points

# Seven sites along a street in Canterbury, longitude and latitude.
SITES = [(f"OGC{n}", 1.0789 + n / 1000, 51.2802, 10 * n) for n in range(1, 8)]
CRS_URIS = [
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "http://www.opengis.net/def/crs/EPSG/0/4326",
    "http://www.opengis.net/def/crs/EPSG/0/27700",
]


def pygeoapi_config(folder: Path, port: int) -> Path:
    data = folder / "sites.geojson"
    data.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": ref, "properties": {"ref": ref, "homes": homes},
         "geometry": {"type": "Point", "coordinates": [x, y]}}
        for ref, x, y, homes in SITES
    ]}))  # fmt: skip
    address = f"http://127.0.0.1:{port}"
    config = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port}, "url": address,
            "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8",
            "language": "en-GB", "limits": {"default_items": 10, "max_items": 100},
            "map": {"url": f"{address}/{{z}}/{{x}}/{{y}}.png", "attribution": "none"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "Test", "description": "Test", "keywords": ["test"],
                               "terms_of_service": "none", "url": address},
            "license": {"name": "OGL", "url": address},
            "provider": {"name": "Test", "url": address},
            "contact": {"name": "Test"},
        },
        "resources": {"sites": {
            "type": "collection", "title": "Sites", "description": "Sites", "keywords": ["sites"],
            "extents": {"spatial": {"bbox": [-8, 49, 2, 61], "crs": CRS_URIS[0]}},
            "providers": [{"type": "feature", "name": "GeoJSON", "data": str(data),
                           "id_field": "id", "crs": CRS_URIS, "storage_crs": CRS_URIS[0]}],
        }},
    }  # fmt: skip
    path = folder / "pygeoapi.yml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


@contextmanager
def pygeoapi(folder: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """pygeoapi under gunicorn on a free port; yields its address and process."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = pygeoapi_config(folder, port)
    env = {
        **os.environ,
        "PYGEOAPI_CONFIG": str(config),
        "PYGEOAPI_OPENAPI": str(folder / "openapi.yml"),
    }
    subprocess.run(
        [sys.executable, "-c", "from pygeoapi import cli; cli()", "openapi", "generate",
         str(config), "--output-file", str(folder / "openapi.yml")],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--control-socket", str(folder / "gunicorn.ctl"), "pygeoapi.flask_app:APP"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while (
            True
        ):  # wait until it listens (not a timing assertion: it fails only if it never does)
            if process.poll() is not None:
                raise RuntimeError(f"pygeoapi stopped: {(folder / 'server.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    with pygeoapi(tmp_path_factory.mktemp("pygeoapi")) as (address, _):
        yield address


def read(tmp_path, url: str, seen=None, **options):
    config = connector_config("ogcapi", {"url": url, **options})
    return list(connector_for("ogcapi").batches(config, source_context(tmp_path, seen)))


def test_configuration_is_checked_at_the_edge():
    with pytest.raises(ConnectorError, match="url: Value error, must be a collection's address"):
        connector_config("ogcapi", {"url": "https://example.org/sites.json"})
    with pytest.raises(ConnectorError, match="bbox: List should have at least 4 items"):
        connector_config("ogcapi", {"url": "https://example.org/collections/a", "bbox": [1, 2]})
    with pytest.raises(ConnectorError, match="limit: Input should be greater than or equal to 1"):
        connector_config("ogcapi", {"url": "https://example.org/collections/a", "limit": 0})


def test_pages_follow_the_next_links(server, tmp_path):
    seen = []
    batches = read(tmp_path, f"{server}/collections/sites", seen, limit=3)
    assert [(batch.first_row, len(batch)) for batch in batches] == [(1, 3), (4, 3), (7, 1)]
    assert [ref for batch in batches for ref in batch.fields["ref"]] == [s[0] for s in SITES]
    assert list(batches[0].fields["homes"]) == [10, 20, 30]
    assert batches[0].crs == "EPSG:4326"
    point = shapely.from_wkb(batches[2].geometry[0])
    assert (point.x, point.y) == pytest.approx((1.0859, 51.2802))
    assert seen == [(3, "fetching"), (6, "fetching"), (7, "fetching")]


def test_the_items_address_and_a_bbox_are_accepted(server, tmp_path):
    batches = read(tmp_path, f"{server}/collections/sites/items", bbox=[1.0805, 51.0, 1.0825, 52.0])
    assert [ref for batch in batches for ref in batch.fields["ref"]] == ["OGC2", "OGC3"]


def test_epsg_4326_by_uri_comes_latitude_first_and_is_turned_round(server, tmp_path):
    (batch,) = read(tmp_path, f"{server}/collections/sites", crs=CRS_URIS[1], limit=10)
    point = shapely.from_wkb(batch.geometry[0])
    assert (batch.crs, point.x, point.y) == ("EPSG:4326", pytest.approx(1.0799), 51.2802)


def test_british_national_grid_on_request(server, tmp_path):
    (batch,) = read(tmp_path, f"{server}/collections/sites", crs=CRS_URIS[2], limit=10)
    expected = Transformer.from_crs(4326, 27700, always_xy=True).transform(1.0799, 51.2802)
    point = shapely.from_wkb(batch.geometry[0])
    assert batch.crs == "EPSG:27700"
    assert (point.x, point.y) == pytest.approx(expected, abs=0.5)


def test_the_server_going_away_half_way_names_the_page(tmp_path):
    with pygeoapi(tmp_path / "pygeoapi") as (address, process):
        config = connector_config("ogcapi", {"url": f"{address}/collections/sites", "limit": 3})
        batches = connector_for("ogcapi").batches(config, source_context(tmp_path))
        assert len(next(batches)) == 3
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        with pytest.raises(ConnectorError, match=r"\(page 2, from feature 4\)") as raised:
            next(batches)
    assert "failed" in str(raised.value) and raised.value.temporary


@pytest.mark.parametrize(
    ("answer", "message", "temporary"),
    [
        ((200, "text/html", HTML.encode()), "The server answered with a web page, not data", False),
        ((200, "application/json", b"{'type': 'FeatureCollection'"), "not valid JSON", False),
        ((200, "application/json", b'{"collections": []}'), "did not answer with GeoJSON", False),
        ((404, "application/json", b'{"code": "NotFound"}'), "answered HTTP 404", False),
        ((429, "application/json", b"{}"), "answered HTTP 429", True),
    ],
)  # fmt: skip
def test_bad_answers_on_the_second_page(tmp_path, answer, message, temporary):
    def route(path, query):
        if "offset" in query:
            return answer
        return json_answer({
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "id": 1, "properties": {},
                          "geometry": {"type": "Point", "coordinates": [1.08, 51.28]}}],
            "links": [{"rel": "next", "type": "application/geo+json", "href": "items?offset=1"}],
        }, "application/geo+json")  # fmt: skip

    with replay_server(route) as replay, pytest.raises(ConnectorError) as raised:
        read(tmp_path, f"{replay.url}/collections/sites")
    assert message in str(raised.value) and "(page 2, from feature 2)" in str(raised.value)
    assert raised.value.temporary is temporary


def test_a_timeout_is_temporary_and_a_host_off_the_list_refused(tmp_path):
    with replay_server(lambda path, query: slow(2, json_answer({}))) as replay:
        config = connector_config("ogcapi", {"url": f"{replay.url}/collections/sites"})
        context = source_context(tmp_path, policy=local_policy(read_timeout=0.3))
        with pytest.raises(ConnectorError, match="did not answer within the time") as raised:
            list(connector_for("ogcapi").batches(config, context))
    assert raised.value.temporary
    with pytest.raises(ConnectorError, match=r"ogc\.example\.org is not on this platform's list"):
        read(tmp_path, "https://ogc.example.org/collections/sites")


@pytest.mark.django_db
def test_end_to_end_and_a_server_lost_half_way_publishes_nothing(personas, tmp_path):
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    before = version_publish_points(dataset=sites, points={"KEEP": (615000, 157500)})
    with pygeoapi(tmp_path / "pygeoapi") as (address, process):
        ingest = dict(
            actor=None, dataset=sites, connector_key="ogcapi",
            config={"url": f"{address}/collections/sites", "limit": 3},
            mapping=IngestMapping(reference="ref"), fetch_policy=local_policy(),
        )  # fmt: skip

        def stop_after_the_first_page(rows: int, stage: str) -> None:
            if stage == "checking" and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)

        with pytest.raises(IngestRejected, match=r"\(page 2, from feature 4\)"):
            ingest_run(**ingest, progress=stop_after_the_first_page)
    before.refresh_from_db()
    assert before.is_current
    assert list(current_features(sites).values_list("reference", flat=True)) == ["KEEP"]

    with pygeoapi(tmp_path / "pygeoapi-again") as (address, _):
        version = ingest_run(**{**ingest, "config": {"url": f"{address}/collections/sites"}})
    assert version.is_current and version.report["rows_read"] == 7
    assert sorted(current_features(sites).values_list("reference", flat=True)) == [
        s[0] for s in SITES
    ]
    expected = Transformer.from_crs(4326, 27700, always_xy=True).transform(1.0789 + 0.007, 51.2802)
    last = current_features(sites).get(reference="OGC7")
    assert (last.geom.x, last.geom.y) == pytest.approx(expected, abs=0.01)
    assert last.properties["homes"] == 70
