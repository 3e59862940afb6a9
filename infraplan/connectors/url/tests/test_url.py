"""The URL connector against a local HTTP server: files downloaded and read exactly as uploads
are, and every bad download (a web page, a cut-off transfer, a timeout, a host not allowed)
a connector error that says so."""

import json

import pytest
import shapely

from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.store import current_features
from infraplan.connectors.base import ConnectorError
from infraplan.connectors.registry import connector_config, connector_for
from infraplan.connectors.tests.servers import (
    HTML,
    local_policy,
    replay_server,
    slow,
    source_context,
)
from infraplan.core.testing.data import dataset_make, version_publish_points

GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"ref": f"U{n}", "homes": n},
     "geometry": {"type": "Point", "coordinates": [1.0789 + n / 1000, 51.2802]}}
    for n in range(1, 6)
]}).encode()  # fmt: skip
CSV_1252 = "ref,cost,Easting,Northing\nP1,£4.5m,615000,157500\nP2,£1m,615100,157600\n".encode(
    "cp1252"
)

FILES = {
    "/data/sites.geojson": (200, "application/geo+json", GEOJSON),
    "/export?format=csv": (200, "text/csv", CSV_1252),
    "/download": (200, "application/octet-stream", GEOJSON),  # no name, no type: sniffed
    "/portal": (200, "text/html; charset=utf-8", HTML.encode()),
    "/damaged.geojson": (200, "application/json", GEOJSON[:-40]),
    # The server promises more than it sends, then closes the connection.
    "/cut-off.geojson": (200, "application/json", GEOJSON[:200],
                         {"Content-Length": str(len(GEOJSON))}),
    "/slow.csv": "slow",
}  # fmt: skip


def route(path, query):
    key = path + (f"?format={query['format']}" if "format" in query else "")
    answer = FILES.get(key, (404, "text/plain", b"not found"))
    return slow(2, FILES["/export?format=csv"]) if answer == "slow" else answer


@pytest.fixture(scope="module")
def server():
    with replay_server(route) as replay:
        yield replay.url


def read(tmp_path, url, seen=None, policy=None, **options):
    config = connector_config("url", {"url": url, **options})
    context = source_context(tmp_path, seen, policy)
    return list(connector_for("url").batches(config, context)), context


def test_configuration_is_checked_at_the_edge():
    with pytest.raises(ConnectorError, match="url: Value error, must be an http or https address"):
        connector_config("url", {"url": "file:///etc/passwd"})
    with pytest.raises(ConnectorError, match="url: Value error, must be an http or https address"):
        connector_config("url", {"url": "/srv/data/sites.csv"})


def test_a_geojson_file_in_batches(server, tmp_path):
    seen = []
    batches, _ = read(tmp_path, f"{server}/data/sites.geojson", seen, batch_size=2)
    assert [(batch.first_row, len(batch)) for batch in batches] == [(1, 2), (3, 2), (5, 1)]
    assert [ref for batch in batches for ref in batch.fields["ref"]] == [
        f"U{n}" for n in range(1, 6)
    ]
    assert batches[0].crs == "EPSG:4326"
    assert shapely.from_wkb(batches[2].geometry[0]).x == pytest.approx(1.0839)
    assert seen == [(0, "fetching"), (2, "reading"), (4, "reading"), (5, "reading")]


def test_a_windows_1252_csv_behind_a_query_is_read_as_an_upload_is(server, tmp_path):
    (batch,), context = read(tmp_path, f"{server}/export?format=csv")
    assert list(batch.fields["cost"]) == ["£4.5m", "£1m"]
    assert batch.crs == "EPSG:27700"
    assert "Read as Windows-1252 text (not UTF-8)." in context.notes


def test_a_file_without_a_name_or_type_is_recognised_by_its_content(server, tmp_path):
    (batch,), _ = read(tmp_path, f"{server}/download")
    assert len(batch) == 5


@pytest.mark.parametrize(
    ("path", "message", "temporary"),
    [
        ("/portal", "The server answered with a web page, not data: check the address", False),
        ("/damaged.geojson", "it may be truncated or damaged", False),
        ("/cut-off.geojson", r"The connection to 127\.0\.0\.1 failed", True),
        ("/missing.csv", "answered HTTP 404", False),
    ],
)
def test_bad_downloads_say_what_went_wrong(server, tmp_path, path, message, temporary):
    with pytest.raises(ConnectorError, match=message) as raised:
        read(tmp_path, f"{server}{path}")
    assert raised.value.temporary is temporary


def test_a_timeout_is_temporary_and_a_host_off_the_list_refused(server, tmp_path):
    with pytest.raises(ConnectorError, match="did not answer within the time") as raised:
        read(tmp_path, f"{server}/slow.csv", policy=local_policy(read_timeout=0.3))
    assert raised.value.temporary
    with pytest.raises(ConnectorError, match=r"data\.example\.org is not on this platform's list"):
        read(tmp_path, "https://data.example.org/sites.csv")


@pytest.mark.django_db
def test_end_to_end_and_a_bad_download_leaves_the_current_version(personas, server, tmp_path):
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    before = version_publish_points(dataset=sites, points={"KEEP": (615000, 157500)})

    def ingest(path: str):
        return ingest_run(
            actor=None, dataset=sites, connector_key="url", config={"url": f"{server}{path}"},
            mapping=IngestMapping(reference="ref"), fetch_policy=local_policy(),
        )  # fmt: skip

    with pytest.raises(IngestRejected, match=r"The connection to 127\.0\.0\.1 failed") as rejected:
        ingest("/cut-off.geojson")
    assert rejected.value.version.report["temporary"] is True
    before.refresh_from_db()
    assert before.is_current
    assert list(current_features(sites).values_list("reference", flat=True)) == ["KEEP"]

    version = ingest("/data/sites.geojson")
    assert version.is_current and version.source == f"{server}/data/sites.geojson"
    assert sorted(current_features(sites).values_list("reference", flat=True)) == [
        f"U{n}" for n in range(1, 6)
    ]
