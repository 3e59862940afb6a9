"""Vector tiles: valid at every zoom, no slivers between districts, behind the one gate."""

import gzip
import math
import time
from itertools import combinations

import mapbox_vector_tile
import pytest
import shapely
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from shapely.geometry import shape

from infraplan.catalogue.models import Dataset
from infraplan.catalogue.sources import FeatureSource, register_source, unregister_source
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points
from infraplan.maps.ended import END_DATE_PROPERTIES
from infraplan.maps.tile_cache import ENTRY_OVERHEAD, TileCache
from infraplan.maps.tiles import tile_cache, tile_render, tile_version

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
    codes = {feature["properties"]["reference"] for feature in layer["features"]}
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
    polygons = {f["properties"]["reference"]: shape(f["geometry"]) for f in layer["features"]}
    overlap = sum(a.intersection(b).area for a, b in combinations(polygons.values(), 2))
    assert overlap < 1e-4 * shapely.union_all(list(polygons.values())).area
    for first, second in NEIGHBOURS:
        if first in polygons and second in polygons:
            shared = polygons[first].boundary.intersection(polygons[second].boundary)
            assert shared.length > 10, f"{first} and {second} no longer share a border at {z}"


class ValuesSource(FeatureSource):
    """A stand-in for a typed domain source (sites, projects): rows from a VALUES list."""

    key = "test-values"

    def tile_rows(self, dataset, zoom, fields):
        # The dataset's label field, and the end dates by which ended features are left out.
        assert fields == {"kind", *END_DATE_PROPERTIES}
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
            source_key="test-values", field_schema=[{"name": "kind", "type": "string"}],
            label_field="kind",
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


def test_tiles_carry_only_the_fields_for_style_and_label(client, personas):
    dataset = dataset_make(
        slug="styled-points", owner=personas.organisation_a,
        field_schema=[{"name": n, "type": "string"} for n in ("name", "kind", "secret")],
        style={"kind": "categorised", "field": "kind",
               "categories": [{"value": "school", "colour": "#1d70b8", "label": "School"}]},
        label_field="name",
    )  # fmt: skip
    version_publish_points(
        dataset=dataset, points=ASHFORD_POINTS,
        properties={"civic-centre": {"kind": "school", "secret": "not for tiles"}},
    )  # fmt: skip
    z, x, y = tile_for(0.8727, 51.1465, 10)  # both points

    features = decode(client.get(f"/tiles/styled-points/{z}/{x}/{y}.mvt").content)["styled-points"][
        "features"
    ]

    by_reference = {feature["properties"]["reference"]: feature for feature in features}
    assert by_reference["civic-centre"]["properties"] == {
        "reference": "civic-centre", "name": "civic-centre", "kind": "school",
    }  # fmt: skip
    # A feature without the style's field just lacks it (no nulls in the tile).
    assert by_reference["station"]["properties"] == {"reference": "station", "name": "station"}
    assert all(isinstance(feature["id"], int) for feature in features)


def test_tiles_below_the_datasets_minimum_zoom_are_empty(client, districts):
    Dataset.objects.filter(slug="districts").update(min_zoom=8)
    assert (
        client.get("/tiles/districts/{}/{}/{}.mvt".format(*tile_for(*CANTERBURY, 7))).status_code
        == 204
    )
    assert (
        client.get("/tiles/districts/{}/{}/{}.mvt".format(*tile_for(*CANTERBURY, 8))).status_code
        == 200
    )


def test_tiles_are_gzipped_for_clients_that_accept_it(client, districts):
    url = "/tiles/districts/{}/{}/{}.mvt".format(*tile_for(*CANTERBURY, 8))

    plain = client.get(url)
    zipped = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})

    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert len(zipped.content) < len(plain.content)
    assert "Accept-Encoding" in zipped["Vary"] and "Accept-Encoding" in plain["Vary"]
    assert zipped["ETag"] != plain["ETag"]  # different bytes, different tags
    assert zipped["Cache-Control"] == "public, max-age=300"


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("GZIP", True),  # coding names are case-insensitive
        ("deflate, x-gzip", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),  # q=0: not acceptable
        ("gzip;q=0.0, *;q=1", False),
        ("*;q=0", False),
        ("deflate, br", False),
        ("", False),
    ],
)
def test_gzip_is_negotiated_by_the_header_s_codings_and_weights(
    client, districts, accept_encoding, gzipped
):
    url = "/tiles/districts/{}/{}/{}.mvt".format(*tile_for(*CANTERBURY, 8))
    response = client.get(url, headers={"Accept-Encoding": accept_encoding})
    assert response.status_code == 200
    assert (response.get("Content-Encoding") == "gzip") is gzipped
    assert response["ETag"].endswith('-gzip"') is gzipped


def test_etag_is_the_version_and_tile_and_a_match_is_304_without_making_the_tile(client, districts):
    z, x, y = tile_for(*CANTERBURY, 8)
    url = f"/tiles/districts/{z}/{x}/{y}.mvt"
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    etag = first["ETag"]
    assert etag.startswith('"districts-1-') and etag.endswith(f'-{z}-{x}-{y}-gzip"')
    assert client.get(url.replace(f"/{y}.mvt", f"/{y + 1}.mvt"))["ETag"] != etag

    with CaptureQueriesContext(connection) as queries:
        again = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})

    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag and again["Cache-Control"] == "public, max-age=300"
    assert not [query for query in queries if "ST_AsMVT" in query["sql"]]
    time.sleep(1.1)  # made again in another second: the same bytes all the same
    tile_cache.clear()
    stale = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.content == first.content


def test_a_weak_etag_in_if_none_match_matches_too(client, districts):
    """If-None-Match compares weakly (RFC 9110): a proxy may have marked the ETag weak."""
    url = "/tiles/districts/{}/{}/{}.mvt".format(*tile_for(*CANTERBURY, 8))
    etag = client.get(url)["ETag"]

    again = client.get(url, headers={"If-None-Match": f'"other", W/{etag}'})

    assert again.status_code == 304 and again["ETag"] == etag


def test_a_weak_etag_names_the_tile_in_either_encoding_but_a_strong_one_does_not(client, districts):
    """A proxy that gzips (nginx) marks the plain tile's ETag weak; the browser then asks with
    that tag and gzip accepted. The features are the same, so it is answered 304."""
    url = "/tiles/districts/{}/{}/{}.mvt".format(*tile_for(*CANTERBURY, 8))
    plain = client.get(url)["ETag"]
    gzip = {"Accept-Encoding": "gzip"}

    weak = client.get(url, headers={**gzip, "If-None-Match": f"W/{plain}"})
    strong = client.get(url, headers={**gzip, "If-None-Match": plain})
    other = client.get(url, headers={**gzip, "If-None-Match": 'W/"districts-0-other"'})

    assert weak.status_code == 304 and weak["ETag"] == plain.removesuffix('"') + '-gzip"'
    assert strong.status_code == 200 and other.status_code == 200


def test_a_new_version_changes_the_etag(client, personas):
    dataset = dataset_make(slug="versioned-points", owner=personas.organisation_a)
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    url = "/tiles/versioned-points/{}/{}/{}.mvt".format(*tile_for(0.8727, 51.1465, 10))
    etag = client.get(url)["ETag"]

    version_publish_points(dataset=dataset, points={"station": ASHFORD_POINTS["station"]})

    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 200 and response["ETag"] != etag
    assert len(decode(response.content)["versioned-points"]["features"]) == 1


def test_a_dataset_made_again_under_the_same_slug_has_other_etags(client, personas):
    """Its versions start again at 1: a browser holding the old dataset's tile must not be told
    it is still good. (The old one is renamed here rather than deleted: deleting a partition
    within the test's transaction is refused.)"""
    url = "/tiles/remade/{}/{}/{}.mvt".format(*tile_for(0.8727, 51.1465, 10))
    first = dataset_make(slug="remade", owner=personas.organisation_a)
    version_publish_points(dataset=first, points=ASHFORD_POINTS)
    etag = client.get(url)["ETag"]
    first.slug = "replaced"
    first.save()
    again = dataset_make(slug="remade", owner=personas.organisation_a)
    version_publish_points(dataset=again, points={"station": ASHFORD_POINTS["station"]})

    response = client.get(url, headers={"If-None-Match": etag})

    assert response.status_code == 200 and response["ETag"] != etag
    assert len(decode(response.content)["remade"]["features"]) == 1


def test_a_changed_style_field_changes_the_tile_urls_and_etags(client, personas):
    dataset = dataset_make(
        slug="restyled", owner=personas.organisation_a,
        field_schema=[{"name": "kind", "type": "string"}],
    )  # fmt: skip
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    before = tile_version(dataset)
    dataset.label_field = "kind"
    dataset.save()
    assert tile_version(dataset) != before


def test_a_changed_minimum_zoom_changes_the_tile_urls_and_what_a_tile_holds(client, personas):
    dataset = dataset_make(slug="dense-points", owner=personas.organisation_a)
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    url = "/tiles/dense-points/{}/{}/{}.mvt".format(*tile_for(0.8727, 51.1465, 10))
    before = client.get(url)
    assert before.status_code == 200
    version = tile_version(dataset)

    dataset.min_zoom = 12
    dataset.save()

    assert tile_version(dataset) != version
    after = client.get(url, headers={"If-None-Match": before["ETag"]})
    assert after.status_code == 204 and after["ETag"] != before["ETag"]


def test_a_tile_made_once_is_served_to_the_next_request_without_its_sql(client, districts):
    url = "/tiles/districts/{}/{}/{}.mvt".format(*tile_for(*CANTERBURY, 9))
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and len(tile_cache) == 1

    with CaptureQueriesContext(connection) as queries:
        again = Client().get(url, headers={"Accept-Encoding": "gzip"})  # another officer

    assert again.status_code == 200 and again.content == first.content
    assert again["Content-Encoding"] == "gzip" and again["ETag"] == first["ETag"]
    assert not [query for query in queries if "ST_AsMVT" in query["sql"]]
    plain = client.get(url)  # the other encoding is another tile, made and kept on its own
    assert gzip.decompress(first.content) == plain.content and len(tile_cache) == 2


def test_the_tile_cache_never_answers_for_the_gate(client_as, personas, restricted):
    url = "/tiles/a-only-sites/{}/{}/{}.mvt".format(*tile_for(0.8727, 51.1465, 10))
    member = client_as(personas.viewer_a).get(url)
    assert member.status_code == 200 and len(tile_cache) == 1

    assert client_as(personas.member_b).get(url).status_code == 404
    assert client_as(None).get(url).status_code == 404

    restricted.owner = personas.organisation_b
    restricted.save()
    assert client_as(personas.viewer_a).get(url).status_code == 404


def test_the_tile_cache_keeps_to_its_size_dropping_the_least_recently_used():
    entry = 40 + ENTRY_OVERHEAD  # a 1-byte key and 39 bytes, and what holding them costs
    cache = TileCache(max_bytes=2 * entry + 20)
    cache.put("a", b"x" * 39)
    cache.put("b", b"x" * 39)
    assert cache.get("a") is not None  # "a" is now the more recently used
    cache.put("c", b"x" * 39)
    assert cache.get("b") is None and cache.get("a") and cache.get("c")
    assert cache.size == 2 * entry and len(cache) == 2
    cache.put("big", b"x" * 500)  # larger than the whole cache: not kept, nothing dropped
    assert cache.get("big") is None and len(cache) == 2
    cache.put("a", b"")  # replaced, not counted twice
    assert cache.size == entry + 1 + ENTRY_OVERHEAD and cache.get("a") == b""


def test_empty_tiles_count_what_holding_them_costs():
    """Most tiles at high zoom are empty (204): each still costs memory to hold."""
    cache = TileCache(max_bytes=10 * (2 + ENTRY_OVERHEAD))
    for number in range(100):
        cache.put(f"{number:02}", b"")
    assert len(cache) == 10
