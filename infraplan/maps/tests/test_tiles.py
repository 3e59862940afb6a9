"""Vector tiles: valid at every zoom, no slivers between districts, behind the one gate."""

import math
from itertools import combinations

import mapbox_vector_tile
import pytest
import shapely
from shapely.geometry import shape

from infraplan.catalogue.models import Dataset
from infraplan.catalogue.sources import FeatureSource, register_source, unregister_source
from infraplan.core.testing.data import dataset_make
from infraplan.maps.tiles import tile_render

pytestmark = pytest.mark.django_db

CANTERBURY = (1.0789, 51.2802)  # lon, lat


def tile_for(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def decode(content: bytes) -> dict:
    return mapbox_vector_tile.decode(content, default_options={"y_coord_down": True})


@pytest.mark.parametrize("z", range(19))
def test_districts_tile_is_valid_at_every_zoom(client, districts, z):
    z, x, y = tile_for(*CANTERBURY, z)
    response = client.get(f"/tiles/districts/{z}/{x}/{y}.mvt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    layer = decode(response.content)["districts"]
    codes = {feature["properties"]["LAD13CD"] for feature in layer["features"]}
    assert "E07000106" in codes  # Canterbury itself is in the tile at every zoom
    if z <= 5:
        assert len(codes) == 13  # the whole of Kent and Medway fits in one tile
    for feature in layer["features"]:
        assert shape(feature["geometry"]).is_valid


def test_empty_tile_is_no_content(client, districts):
    response = client.get("/tiles/districts/10/0/0.mvt")
    assert response.status_code == 204 and response.content == b""


@pytest.mark.parametrize(
    "url",
    [
        "/tiles/no-such-dataset/0/0/0.mvt",
        "/tiles/districts/1/2/0.mvt",
        "/tiles/districts/3/0/8.mvt",
        "/tiles/districts/23/0/0.mvt",
        "/tiles/districts/-1/0/0.mvt",
        "/tiles/districts/0/0/0.png",
    ],
)
def test_unknown_tiles_are_404(client, districts, url):
    assert client.get(url).status_code == 404


NEIGHBOURS = [("E07000106", "E07000108"), ("E07000106", "E07000105"), ("E07000108", "E07000112")]


@pytest.mark.parametrize("z", [3, 5, 7, 8, 9, 11])
def test_no_slivers_open_between_neighbouring_districts(client, districts, z):
    """Simplified for the zoom, neighbours still share their border exactly: independent
    simplification would make the two sides of a border cross, leaving slivers of gap and
    overlap between them."""
    z, x, y = tile_for(1.05, 51.15, z)  # where Canterbury, Dover, Folkestone and Ashford meet
    layer = decode(client.get(f"/tiles/districts/{z}/{x}/{y}.mvt").content)["districts"]
    polygons = {f["properties"]["LAD13CD"]: shape(f["geometry"]) for f in layer["features"]}
    overlap = sum(a.intersection(b).area for a, b in combinations(polygons.values(), 2))
    assert overlap < 1e-4 * shapely.union_all(list(polygons.values())).area
    for first, second in NEIGHBOURS:
        if first in polygons and second in polygons:
            shared = polygons[first].boundary.intersection(polygons[second].boundary)
            assert shared.length > 10, f"{first} and {second} no longer share a border at {z}"


class ValuesSource(FeatureSource):
    """A stand-in for a typed domain source (sites, projects): rows from a VALUES list."""

    key = "test-values"

    def tile_rows(self, dataset, zoom):
        sql = """
            SELECT * FROM (VALUES
                (1, 'one', '{"kind": "typed"}'::jsonb,
                 ST_Transform(ST_SetSRID(ST_MakePoint(601300, 142700), 27700), 3857))
            ) AS rows (id, reference, properties, geom_3857)
            WHERE geom_3857 && %(envelope)s
        """
        return sql, {}

    def features(self, dataset):
        return iter(())

    def version_tag(self, dataset):
        return "1"


def test_a_registered_source_is_served_by_the_same_tiles_and_gate(client_as, personas):
    register_source(ValuesSource())
    try:
        dataset = dataset_make(
            slug="typed-records", owner=personas.organisation_a, access_level="organisations",
            source_key="test-values",
        )  # fmt: skip
        z, x, y = tile_for(0.8727, 51.1465, 12)
        url = f"/tiles/{dataset.slug}/{z}/{x}/{y}.mvt"
        assert client_as(personas.member_b).get(url).status_code == 404
        response = client_as(personas.viewer_a).get(url)
        (feature,) = decode(response.content)["typed-records"]["features"]
        assert feature["properties"] == {"reference": "one", "kind": "typed"}
    finally:
        unregister_source("test-values")


def test_tile_render_refuses_tiles_outside_the_grid(districts):
    with pytest.raises(ValueError, match="does not exist"):
        tile_render(dataset=Dataset.objects.get(slug="districts"), z=2, x=4, y=0)
