"""A dataset served by a registered FeatureSource other than the feature store (typed domain
records) is a collection like any other, read through its stream and the same gate."""

import pytest
from django.contrib.gis.geos import Point
from pyproj import Transformer

from infraplan.catalogue.sources import (
    FeatureRecord,
    FeatureSource,
    register_source,
    unregister_source,
)
from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import body

pytestmark = pytest.mark.django_db

ITEMS = "/ogcapi/collections/projects/items"


class ThreeProjectsSource(FeatureSource):
    """A stand-in for a typed source: three projects in Ashford, not in the feature store."""

    key = "test-three-projects"

    def tile_rows(self, dataset, zoom, fields):
        raise NotImplementedError("the OGC API draws no tiles")

    def features(self, dataset):
        yield FeatureRecord(
            1,
            "p1",
            {"name": "Link road", "cost": 12},
            Point(601000, 142000, srid=27700),
            district="E07000105",
        )
        yield FeatureRecord(
            2, "p2", {"name": "School", "cost": 8}, Point(602000, 143000, srid=27700)
        )
        yield FeatureRecord(3, "p3", {"name": "Old depot", "cost": 3, "end-date": "2001-01-01"},
                            Point(602500, 143500, srid=27700))  # fmt: skip

    def version_tag(self, dataset):
        return "1"


@pytest.fixture
def projects(personas):
    register_source(ThreeProjectsSource())
    dataset = dataset_make(
        slug="projects", owner=personas.organisation_a, source_key="test-three-projects",
        field_schema=[{"name": "name", "type": "string"}, {"name": "cost", "type": "integer"}],
    )  # fmt: skip
    version_publish_points(dataset=dataset, points={})  # published: a collection
    yield dataset
    unregister_source("test-three-projects")


def test_its_features_page_filter_and_transform_like_the_stores(projects, client):
    everything = body(client.get(ITEMS))
    first = body(client.get(ITEMS, {"limit": 1}))
    grid = body(client.get(ITEMS, {"crs": "http://www.opengis.net/def/crs/EPSG/0/27700"}))
    lat_first = body(client.get(f"{ITEMS}/1", {"crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}))  # fmt: skip

    assert [f["id"] for f in everything["features"]] == [1, 2]  # the ended depot left out
    assert everything["numberMatched"] == 2
    assert first["numberReturned"] == 1
    assert [link["rel"] for link in first["links"]] == ["self", "collection", "next"]
    assert grid["features"][0]["geometry"] == {"type": "Point", "coordinates": [601000.0, 142000.0]}
    lon, lat = everything["features"][0]["geometry"]["coordinates"]
    expected = Transformer.from_crs(27700, 4326, always_xy=True).transform(601000, 142000)
    assert (lon, lat) == pytest.approx(expected, abs=1e-7)
    assert len(str(lat).split(".")[1]) <= 7
    assert lat_first["geometry"]["coordinates"] == [lat, lon]
    assert everything["features"][0]["properties"] == {
        "reference": "p1", "name": "Link road", "cost": 12, "district": "E07000105",
        "ward": None,
    }  # fmt: skip
    assert [f["id"] for f in body(client.get(ITEMS, {"cost": "8"}))["features"]] == [2]
    assert [f["id"] for f in body(client.get(ITEMS, {"bbox": "0.871,51.141,0.873,51.143"}))["features"]] == [1]  # fmt: skip
    assert [f["id"] for f in body(client.get(ITEMS, {"datetime": "2000-06-01"}))["features"]] == [1, 2, 3]  # fmt: skip
    assert client.get(f"{ITEMS}/3").status_code == 404  # ended
    assert client.get(f"{ITEMS}/3", {"ended": "show"}).status_code == 200
    assert client.get(f"{ITEMS}/9").status_code == 404


def test_its_collection_has_no_extent_it_cannot_read_cheaply(projects, client):
    collection = body(client.get("/ogcapi/collections/projects"))
    assert "spatial" not in collection.get("extent", {})
    assert collection["id"] == "projects"
