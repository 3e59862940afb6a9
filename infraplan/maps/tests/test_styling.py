"""One style, two renderers: MapLibre expressions and the PNG's colours agree with the legend."""

import html

import pytest

from infraplan.catalogue.models import Dataset
from infraplan.catalogue.styles import style_parse
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points
from infraplan.maps.styling import colour_expression, dataset_style, feature_colour

ACCENT = "#00857c"
FIELDS = ["status", "homes", "open"]
CATEGORISED = style_parse(
    {"kind": "categorised", "field": "status", "other_colour": "#505a5f", "categories": [
        {"value": "allocated", "colour": "#1d70b8", "label": "Allocated"},
        {"value": 3, "colour": "#d4351c", "label": "Three"},
        {"value": True, "colour": "#00703c", "label": "Yes"},
    ]}, fields=FIELDS,
)  # fmt: skip
GRADUATED = style_parse(
    {"kind": "graduated", "field": "homes", "classes": [
        {"minimum": 0, "colour": "#f3f2f1", "label": "Under 50"},
        {"minimum": 50, "colour": "#85994b", "label": "50 to 199"},
        {"minimum": 200, "colour": "#005a30", "label": "200 or more"},
    ]}, fields=FIELDS,
)  # fmt: skip


def test_simple_styles_are_one_colour_defaulting_to_the_accent():
    assert colour_expression(style_parse({}, fields=[]), default_colour=ACCENT) == ACCENT
    simple = style_parse({"kind": "simple", "colour": "#1d70b8"}, fields=[])
    assert colour_expression(simple, default_colour=ACCENT) == "#1d70b8"
    assert feature_colour(simple, {}, default_colour=ACCENT) == "#1d70b8"


def test_categorised_is_a_match_on_the_value_as_text():
    assert colour_expression(CATEGORISED, default_colour=ACCENT) == [
        "match", ["to-string", ["get", "status"]],
        "allocated", "#1d70b8", "3", "#d4351c", "true", "#00703c",
        "#505a5f",
    ]  # fmt: skip
    colour = lambda value: feature_colour(CATEGORISED, {"status": value}, default_colour=ACCENT)  # noqa: E731
    assert [colour("allocated"), colour(3), colour(True), colour("other")] == [
        "#1d70b8", "#d4351c", "#00703c", "#505a5f",
    ]  # fmt: skip
    assert feature_colour(CATEGORISED, {}, default_colour=ACCENT) == "#505a5f"


def test_graduated_is_a_step_from_each_class_minimum():
    assert colour_expression(GRADUATED, default_colour=ACCENT) == [
        "case", ["has", "homes"],
        ["step", ["to-number", ["get", "homes"]], "#f3f2f1", 50.0, "#85994b", 200.0, "#005a30"],
        "#6f777b",
    ]  # fmt: skip
    colour = lambda value: feature_colour(GRADUATED, {"homes": value}, default_colour=ACCENT)  # noqa: E731
    assert [colour(10), colour(50), colour(199.5), colour(200), colour("n/a")] == [
        "#f3f2f1", "#85994b", "#85994b", "#005a30", "#6f777b",
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_style_whose_field_left_the_schema_is_drawn_in_one_colour_not_an_error(
    personas, client_as
):
    """A schema that drops the style's field (a new profile, say) leaves a style that cannot be
    drawn: the map draws the dataset in the default colour, and the dataset page says why."""
    dataset = dataset_make(
        slug="restyled", owner=personas.organisation_a,
        field_schema=[{"name": "name", "type": "string"}, {"name": "kind", "type": "string"}],
        style={"kind": "categorised", "field": "kind",
               "categories": [{"value": "school", "colour": "#1d70b8", "label": "School"}]},
    )  # fmt: skip
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    Dataset.objects.filter(pk=dataset.pk).update(field_schema=[{"name": "name", "type": "string"}])
    dataset.refresh_from_db()

    assert dataset_style(dataset) == style_parse({}, fields=[])
    client = client_as(personas.data_manager_a)
    assert client.get("/tiles/restyled/10/514/342.mvt").status_code == 200
    assert client.get("/map/", {"layers": "restyled"}).status_code == 200
    png = client.get("/map.png", {"layers": "restyled", "bbox": "0.86,51.14,0.89,51.16"})
    assert png.status_code == 200
    page = html.unescape(client.get("/datasets/restyled/").content.decode())
    assert (
        "The map draws every feature in one colour: the saved style cannot be used (field: "
        "'kind' is not one of the dataset's fields (name))." in page
    )
    assert 'href="/datasets/restyled/style/">Change the style</a>' in page
