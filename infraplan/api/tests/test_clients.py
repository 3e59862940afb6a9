"""Real clients against a live server of the app: GDAL's OGC API driver (what QGIS reads with),
and the platform's own ``ogcapi`` connector loading a collection of the platform, round trip.

GDAL runs in a process of its own (pyogrio bundles it): called in this one, it holds Python's
lock while it waits for the answer, which the live server's thread in this same process could
then never send."""

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from infraplan.catalogue.ingest import IngestMapping, ingest_run
from infraplan.catalogue.store import current_features
from infraplan.connectors.tests.servers import local_policy
from infraplan.core.testing.data import dataset_make, demo_dataset_load
from infraplan.tokens.services import token_create

BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"
GDAL_READ = """
import json, sys
import pyogrio.raw
meta, fids, geometry, fields = pyogrio.raw.read(sys.argv[1], return_fids=True)
import shapely
points = shapely.from_wkb(geometry)
names = list(meta["fields"])
print(json.dumps({
    "crs": meta["crs"], "fields": names,
    "features": {int(fid): [round(p.x, 2), round(p.y, 2), str(fields[names.index("reference")][i])]
                 for i, (fid, p) in enumerate(zip(fids, points))},
}))
"""


def gdal_read(url: str, userpwd: str | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GDAL_HTTP")}
    if userpwd is not None:
        env["GDAL_HTTP_USERPWD"] = userpwd  # a token as Basic's password, as QGIS users set it
    return subprocess.run(
        [sys.executable, "-c", GDAL_READ, f"OAPIF:{url}"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def address(live_server) -> str:
    """The live server on 127.0.0.1, the address the connectors' test policy allows."""
    return f"http://127.0.0.1:{live_server.thread.port}"


@pytest.mark.django_db(transaction=True)
def test_gdal_reads_every_open_school_in_british_national_grid(live_server):
    """Every school the collection serves: those not closed, as the API leaves ended
    features out unless asked."""
    schools = demo_dataset_load("schools")
    stored = {
        feature.pk: [round(feature.geom.x, 2), round(feature.geom.y, 2), feature.reference]
        for feature in current_features(schools).filter(properties__close_date=None)
    }
    assert len(stored) == 822

    read = gdal_read(f"{address(live_server)}/ogcapi/collections/schools")

    assert read.returncode == 0, read.stderr
    result = json.loads(read.stdout)
    # GDAL asks for the storage CRS (EPSG:27700), pages by the next links, keeps the ids.
    assert result["crs"] == "EPSG:27700"
    assert result["features"] == {str(pk): value for pk, value in stored.items()}
    assert result["fields"][:3] == ["reference", "urn", "name"]


@pytest.mark.django_db(transaction=True)
def test_gdal_reads_a_restricted_collection_with_a_token_only(live_server, personas, restricted):
    _, secret = token_create(
        user=personas.viewer_a, name="QGIS", scope="read",
        expires_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    url = f"{address(live_server)}/ogcapi/collections/a-only-sites"

    with_token = gdal_read(url, f"viewer@a.example:{secret}")
    without = gdal_read(url)

    assert with_token.returncode == 0, with_token.stderr
    references = {value[2] for value in json.loads(with_token.stdout)["features"].values()}
    assert references == {"civic-centre", "station"}
    assert without.returncode != 0 and "civic-centre" not in without.stdout


@pytest.mark.django_db(transaction=True)
def test_the_ogcapi_connector_loads_a_collection_of_the_platform_unchanged(live_server, personas):
    schools = demo_dataset_load("schools")
    copy = dataset_make(
        slug="schools-copy", owner=personas.organisation_a, field_schema=schools.field_schema
    )

    version = ingest_run(
        actor=None, dataset=copy, connector_key="ogcapi",
        config={"url": f"{address(live_server)}/ogcapi/collections/schools", "crs": BNG,
                "limit": 400},
        mapping=IngestMapping(reference="reference"), fetch_policy=local_policy(),
    )  # fmt: skip

    # The open schools: the collection leaves closed ones out, as it does ended features.
    assert version.is_current and version.report["rows_read"] == 822
    original = {
        feature.reference: feature
        for feature in current_features(schools).filter(properties__close_date=None)
    }
    copied = {feature.reference: feature for feature in current_features(copy)}
    assert set(copied) == set(original)
    for reference, feature in original.items():
        again = copied[reference]
        # Written to the centimetre in the grid, read back in the grid.
        assert again.geom.distance(feature.geom) < 0.01, reference
        fields = {name: feature.properties.get(name) for name in feature.properties}
        assert {name: again.properties.get(name) for name in fields} == fields, reference
