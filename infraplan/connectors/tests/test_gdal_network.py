"""GDAL requests nothing itself (``connectors/gdal_network.py``): an address a file names, as a
GeoJSON ``crs`` link, a GML schema or a coordinate system given as a URL, is never fetched, in
pyogrio's GDAL or in GeoDjango's; the file still loads, its coordinates telling their system."""

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pyogrio
import pytest
from django.contrib.gis.gdal import SpatialReference
from django.contrib.gis.gdal.error import GDALException

from infraplan.catalogue.ingest import IngestMapping, ingest_run
from infraplan.catalogue.store import current_features
from infraplan.connectors.gdal_network import gdal_network_refuse, loaded_gdal_libraries
from infraplan.connectors.upload.files import CRS_ADDRESS_NOT_FETCHED
from infraplan.core.testing.data import dataset_make

WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]'
)


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 that answers any GET with a coordinate system (what a crs link
    would fetch) and records the paths asked for."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(WGS84_WKT.encode())

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def geojson_with_crs(path: Path, crs: dict) -> Path:
    path.write_text(
        json.dumps({
            "type": "FeatureCollection",
            "crs": crs,
            "features": [{
                "type": "Feature", "properties": {"ref": "S1"},
                "geometry": {"type": "Point", "coordinates": [615000, 157500]},
            }],
        })
    )  # fmt: skip
    return path


def test_every_gdal_the_process_loaded_has_its_network_refused():
    libraries = loaded_gdal_libraries()
    assert any("pyogrio" in path for path in libraries)  # pyogrio's own GDAL
    assert len(libraries) >= 2  # and the system's, which GeoDjango loads
    assert sorted(gdal_network_refuse()) == libraries  # done at start-up; again changes nothing


@pytest.mark.parametrize("kind", ["link", "url"])
def test_a_geojson_crs_address_is_not_fetched(tmp_path, listener, kind, caplog):
    url, asked = listener
    member = {"href": f"{url}/crs"} if kind == "link" else {"url": f"{url}/crs"}
    path = geojson_with_crs(tmp_path / "sites.geojson", {"type": kind, "properties": member})

    info = pyogrio.read_info(f"GeoJSON:{path}")

    assert asked == []
    assert "GEOGCS" not in (info["crs"] or "")  # what the address would have answered
    assert f"GDAL asked for {url}/crs; refused." in caplog.text


def test_a_coordinate_system_named_by_url_is_not_fetched_by_geodjangos_gdal(listener):
    url, asked = listener
    with pytest.raises(GDALException):
        SpatialReference(f"{url}/srs")
    assert asked == []


@pytest.mark.django_db
def test_a_geojson_whose_crs_links_to_an_address_loads_from_its_coordinates(
    tmp_path, listener, personas
):
    url, asked = listener
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    path = geojson_with_crs(
        tmp_path / "sites.geojson", {"type": "link", "properties": {"href": f"{url}/crs"}}
    )

    version = ingest_run(
        actor=None, dataset=sites, connector_key="upload", config={"path": str(path)},
        mapping=IngestMapping(reference="ref"),
    )  # fmt: skip

    assert asked == []
    assert version.is_current
    assert version.report["notes"][:2] == [
        CRS_ADDRESS_NOT_FETCHED,
        "The GeoJSON declares no coordinate system but holds British National Grid coordinates: "
        "read as EPSG:27700.",
    ]
    (feature,) = current_features(sites)
    assert (feature.reference, round(feature.geom.x), round(feature.geom.y)) == (
        "S1",
        615000,
        157500,
    )
