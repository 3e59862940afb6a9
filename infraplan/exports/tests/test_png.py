"""PNG downloads: a map of the chosen features in the dataset's style, framed on the area, with
the date and the attributions in it."""

import io

import numpy
import pytest
from django.utils import timezone
from matplotlib.image import imread
from PIL import Image

from infraplan.catalogue.models import Dataset
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db

RED = (0xD4, 0x35, 0x1C)


def png_text(png: bytes) -> dict[str, str]:
    with Image.open(io.BytesIO(png)) as image:
        return dict(image.text)


def red_pixels(png: bytes) -> int:
    """Red pixels of the map, the legend's key (a strip at the top) left out."""
    pixels = (imread(io.BytesIO(png), format="png")[60:, :, :3] * 255).round().astype(int)
    return int((numpy.abs(pixels - numpy.array(RED)).sum(axis=2) < 30).sum())


def test_a_map_of_schools_in_ashford_with_its_outline_and_attribution(schools, client):
    response = client.get("/datasets/schools/download.png", {"area": "E07000105"})
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="schools-E07000105.png"'
    png = response.getvalue()
    text = png_text(png)
    assert text["Description"].startswith("As published on ")
    # The schools' attribution, and the district boundary's, drawn under them.
    assert " ".join(schools.attribution.split()) in text["Copyright"]
    assert "Contains Ordnance Survey data" in text["Copyright"]
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (1600, 1200)


def test_only_the_chosen_features_are_drawn(personas, client):
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "kind", "type": "string", "title": "Kind"}],
        style={"kind": "simple", "colour": "#d4351c"},
    )  # fmt: skip
    version_publish_points(
        dataset=dataset, points={"a": (601300, 142700), "b": (601650, 142180)},
        properties={"a": {"kind": "school"}, "b": {"kind": "surgery"}},
    )  # fmt: skip
    both = client.get("/datasets/sites/download.png").getvalue()
    one = client.get("/datasets/sites/download.png", {"kind": "school"}).getvalue()
    none = client.get("/datasets/sites/download.png", {"kind": "library"}).getvalue()
    assert red_pixels(both) > red_pixels(one) > 0 == red_pixels(none)
    assert png_text(both)["Comment"] == "Legend: Sites"
    # A choice with nothing in it says so, rather than a map of nothing under its title alone.
    assert png_text(none)["Comment"] == "Legend: Sites: no features here"
    # Below its minimum zoom the map would not draw the layer; a download of it does.
    dataset.min_zoom = 22
    dataset.save(update_fields=["min_zoom"])
    assert red_pixels(client.get("/datasets/sites/download.png").getvalue()) > 0


def test_a_box_on_the_national_grid_frames_the_map(personas, client):
    """The picture of a box given in eastings and northings shows that box: the point inside
    it is drawn, the one a few hundred metres outside it is not chosen."""
    dataset_make(
        slug="sites", owner=personas.organisation_a, style={"kind": "simple", "colour": "#d4351c"}
    )
    version_publish_points(
        dataset=Dataset.objects.get(slug="sites"),
        points={"inside": (601300, 142700), "outside": (602400, 142700)},
    )
    grid = {"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/27700"}
    inside = client.get(
        "/datasets/sites/download.png", {"bbox": "601000,142500,601600,142900", **grid}
    )
    assert inside.status_code == 200
    assert red_pixels(inside.getvalue()) > 0
    empty = client.get(
        "/datasets/sites/download.png", {"bbox": "601700,142500,602300,142900", **grid}
    )
    assert empty.status_code == 200
    assert red_pixels(empty.getvalue()) == 0


def test_a_version_asked_for_by_number_is_named_in_the_picture(personas, client):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    first = version_publish_points(dataset=dataset, points={"a": (601300, 142700)})
    version_publish_points(dataset=dataset, points={"a": (601300, 142700), "b": (601650, 142180)})
    published = timezone.localdate(first.published_at)

    old = png_text(client.get("/datasets/sites/download.png", {"version": "1"}).getvalue())
    current = png_text(client.get("/datasets/sites/download.png", {"version": "2"}).getvalue())
    now = png_text(client.get("/datasets/sites/download.png").getvalue())

    assert old["Description"] == (
        f"Version 1, published {published.day} {published:%B %Y} (not the current version; "
        "the current version is 2)"
    )
    assert current["Description"].startswith("Version 2, published ")
    assert "not the current" not in current["Description"]
    assert now["Description"].startswith("As published on ")
