"""The picture's legend names every layer it draws: a layer of classes gives up classes first,
then the legend takes more columns, and only more layers than could ever be keyed at the
picture's size are named in a line of text instead."""

import pytest

from infraplan.catalogue.demo import demo_manifest
from infraplan.catalogue.models import Dataset
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points
from infraplan.maps.legend import Key, LegendLayer, LegendLayout, LegendRow, legend_layout
from infraplan.maps.render import legend_layers

from .test_render import ASHFORD_BBOX, pixels_like, png_region

# The layers of a planner's map of the country east of Canterbury, in the order asked for.
MANY = [
    "districts", "wards", "schools", "gp-practices", "brownfield-land", "aonb", "ancient-woodland",
    "scheduled-monuments", "listed-buildings", "agricultural-land-classification",
    "tree-preservation-zones", "local-nature-reserves", "world-heritage-sites", "article-4-areas",
]  # fmt: skip
ACCENT = "#00857c"


def demo_layers(slugs: list[str]) -> list[LegendLayer]:
    """The demo datasets' legends, every class of each (a harder legend than any view's)."""
    specs = {spec.slug: spec for spec in demo_manifest().datasets}
    datasets = [
        Dataset(
            slug=slug,
            title=specs[slug].title,
            geometry_type=specs[slug].geometry_type.value,
            style=specs[slug].style,
            field_schema=[f.model_dump() for f in specs[slug].fields],
        )
        for slug in slugs
    ]
    return legend_layers(datasets, ACCENT)


def keyed_titles(layout: LegendLayout) -> list[str]:
    """The layers' titles the legend names, each with a key of its own: on its row, or on its
    first class's row beneath it."""
    rows = [row for column in layout.columns for row in column]
    return [
        row.text
        for row, after in zip(rows, [*rows[1:], None], strict=True)
        if row.title and (row.key or (after and after.key and not after.title))
    ]


def test_every_layer_of_a_many_layer_report_map_is_keyed_with_all_its_classes():
    layers = demo_layers(MANY)
    layout = legend_layout(layers, [], width=1600, height=1200, bottom=80)

    assert keyed_titles(layout) == [layer.title for layer in layers]
    texts = layout.texts()
    assert not any("more class" in text or text.startswith("Also drawn") for text in texts)
    classes = sum(len(layer.classes) for layer in layers if layer.classed)
    assert len(texts) == len(layers) + classes
    assert "Grade 3 (good to moderate)" in texts and "Not permissioned" in texts


@pytest.mark.parametrize(("width", "height", "bottom"), [(960, 640, 140), (800, 600, 150)])
def test_at_the_maps_own_sizes_every_layer_is_still_keyed(width, height, bottom):
    """The picture for people without the map (960 x 640) and the map's own size: classes
    give way or the legend takes more columns, but no layer goes unnamed or unkeyed."""
    layers = demo_layers(MANY)
    layout = legend_layout(layers, [], width=width, height=height, bottom=bottom)

    assert keyed_titles(layout) == [layer.title for layer in layers]
    assert not any(text.startswith("Also drawn") for text in layout.texts())
    assert layout.width <= width * 0.7 and layout.height <= height - bottom


def classes(count: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"#{index:02x}3070", f"Class {index}") for index in range(count))


def test_classes_give_way_before_the_legend_takes_a_second_column():
    layers = [LegendLayer(f"Layer {n}", "polygon", 0.6, classes(6)) for n in range(5)]

    def named(shown: int) -> list[str]:
        """Each layer's title, its first ``shown`` classes, and how many more it has."""
        listed = [f"Class {index}" for index in range(shown)]
        return [
            text
            for n in range(5)
            for text in (f"Layer {n}", *listed, f"and {6 - shown} more classes")
        ]

    # Room for about 25 rows in one column: each layer's classes cut to three, in one column.
    layout = legend_layout(layers, [], width=800, height=25 * 16 + 40, bottom=0)
    assert len(layout.columns) == 1 and layout.texts() == named(3)
    # Too little room in one column for each title, a class and the rest said: two columns,
    # with as many classes as they hold.
    layout = legend_layout(layers, [], width=800, height=12 * 16 + 40, bottom=0)
    assert len(layout.columns) == 2 and layout.texts() == named(2)


def test_one_class_more_is_named_rather_than_counted():
    (layer,) = [LegendLayer("Sites", "point", 1.0, classes(3))]
    assert [row.text for row in layer.rows(2)] == ["Sites", "Class 0", "Class 1", "Class 2"]
    assert [row.text for row in layer.rows(1)] == ["Sites", "Class 0", "and 2 more classes"]


def test_only_more_layers_than_could_ever_be_keyed_are_named_in_a_line_of_text():
    layers = [LegendLayer(f"Layer {n}", "line", 1.0, (("#1d70b8", ""),)) for n in range(200)]
    marker = LegendRow("Search result: CT1 2EH", Key("marker"))
    layout = legend_layout(layers, [marker], width=960, height=640, bottom=60)

    texts = layout.texts()
    keyed = [text for text in texts if text.startswith("Layer ")]
    assert 20 < len(keyed) < 200 and keyed == [f"Layer {n}" for n in range(len(keyed))]
    note = next(text for text in texts if text.startswith("Also drawn: "))
    assert note == "Also drawn: " + ", ".join(f"Layer {n}" for n in range(len(keyed), 199)) + (
        " and Layer 199."
    )
    assert texts[-1] == "Search result: CT1 2EH"  # kept, last
    assert layout.height <= 640 - 60


@pytest.mark.django_db
def test_the_picture_keys_every_layer_it_draws(personas, client):
    """Fourteen layers, each in a colour of its own: each colour is in the legend's panel at
    the top right, where once the thirteenth and later were "and 2 more"."""
    colours = [
        "#1d70b8", "#d4351c", "#00703c", "#f47738", "#4c2c92", "#b58840", "#d53880",
        "#28a197", "#912b88", "#85994b", "#003078", "#5694ca", "#6f72af", "#f499be",
    ]  # fmt: skip
    slugs = []
    for number, colour in enumerate(colours):
        dataset = dataset_make(
            slug=f"layer-{number}", owner=personas.organisation_a, title=f"Layer {number}",
            style={"kind": "simple", "colour": colour},
        )  # fmt: skip
        version_publish_points(dataset=dataset, points={"only": ASHFORD_POINTS["civic-centre"]})
        slugs.append(dataset.slug)
    query = {"bbox": ASHFORD_BBOX, "width": 960, "height": 640, "layers": ",".join(slugs)}
    png = client.get("/map.png", query).content
    panel = png_region(png, rows=slice(0, 400), columns=slice(600, 960))
    assert [colour for colour in colours if pixels_like(panel, colour) < 10] == []
