"""A real client: GDAL (what QGIS reads data with) fetches a restricted vector tile from a live
server with a token as its HTTP Basic password, as its users configure it. ``ogrinfo`` comes
with gdal-bin, which the set-up installs."""

import os
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from infraplan.tokens.services import token_create

TILE = "/tiles/a-only-sites/12/2057/1368.mvt"


def ogrinfo(url: str, userpwd: str | None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GDAL_")}
    if userpwd is not None:
        env["GDAL_HTTP_USERPWD"] = userpwd
    return subprocess.run(
        ["/usr/bin/ogrinfo", "-ro", "-al", "-q", f"MVT:/vsicurl/{url}"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_gdal_reads_a_restricted_tile_with_a_token_as_its_basic_password(
    live_server, personas, restricted
):
    _, member = token_create(
        user=personas.viewer_a, name="GDAL", scope="read",
        expires_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    url = f"{live_server.url}{TILE}"

    with_token = ogrinfo(url, f"viewer@a.example:{member}")
    assert with_token.returncode == 0, with_token.stderr
    assert "reference (String) = civic-centre" in with_token.stdout

    without = ogrinfo(url, None)  # anonymous: the tile is a 404, so GDAL cannot open it
    assert without.returncode != 0
    assert "civic-centre" not in without.stdout

    wrong = ogrinfo(url, "viewer@a.example:not-a-token")
    assert wrong.returncode != 0
    assert "civic-centre" not in wrong.stdout
