"""One style, two renderers: MapLibre expressions and the PNG's colours agree with the legend."""

from infraplan.catalogue.styles import style_parse
from infraplan.maps.styling import colour_expression, feature_colour

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
        "#b1b4b6",
    ]  # fmt: skip
    colour = lambda value: feature_colour(GRADUATED, {"homes": value}, default_colour=ACCENT)  # noqa: E731
    assert [colour(10), colour(50), colour(199.5), colour(200), colour("n/a")] == [
        "#f3f2f1", "#85994b", "#85994b", "#005a30", "#b1b4b6",
    ]  # fmt: skip
