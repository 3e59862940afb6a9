"""Tiles of the real demo data."""

import math

import mapbox_vector_tile
import pytest

from infraplan.core.testing.data import demo_dataset_load

pytestmark = pytest.mark.django_db

# Simon Langton Girls' Grammar School, Canterbury (GIAS URN 118840), at its postcode centroid.
SCHOOL_URN, SCHOOL_LON, SCHOOL_LAT = "118840", 1.096579, 51.264737


def tile_for(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def test_a_real_schools_z14_tile_contains_it(client):
    demo_dataset_load("schools")
    z, x, y = tile_for(SCHOOL_LON, SCHOOL_LAT, 14)
    response = client.get(f"/tiles/schools/{z}/{x}/{y}.mvt")
    assert response.status_code == 200
    layer = mapbox_vector_tile.decode(response.content)["schools"]
    (school,) = [f for f in layer["features"] if f["properties"]["reference"] == SCHOOL_URN]
    assert school["properties"]["name"] == "Simon Langton Girls' Grammar School"
    # The point sits where the tile says: convert its tile position back to lon/lat.
    column, row = school["geometry"]["coordinates"]
    extent = layer["extent"]
    lon = (x + column / extent) / 2**z * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1 - row / extent) / 2**z))))
    assert lon == pytest.approx(SCHOOL_LON, abs=1e-4)
    assert lat == pytest.approx(SCHOOL_LAT, abs=1e-4)
    # Below the layer's minimum zoom the tile is empty rather than dense.
    z, x, y = tile_for(SCHOOL_LON, SCHOOL_LAT, 6)
    assert client.get(f"/tiles/schools/{z}/{x}/{y}.mvt").status_code == 204
