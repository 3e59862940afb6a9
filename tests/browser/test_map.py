"""The map viewer in a real browser: the districts are drawn from our vector tiles, the layer
list works, the page makes sense without JavaScript, and restricted data stays restricted."""

import base64
import json
import struct
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from .conftest import PageWatch, sign_in

pytestmark = pytest.mark.browser

DISTRICT_CODES = {"E06000035"} | {f"E07000{number}" for number in range(105, 117)}
FOLKESTONE_AND_HYTHE = "E07000112"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def open_map(page: Page) -> None:
    page.goto("/map/")
    page.locator('#map[data-map-idle="true"]').wait_for()


def map_idle(page: Page) -> None:
    """Wait until the map has drawn its latest change (asking for a frame, so it cannot miss
    an idle event that came before the wait began)."""
    page.evaluate(
        "() => new Promise(resolve => { const map = window.infraplanMap;"
        " map.once('idle', resolve); map.triggerRepaint(); })"
    )


def rendered_districts(page: Page) -> dict[str, str]:
    """District code -> name, for every district feature drawn in the current view."""
    features = page.evaluate(
        """() => window.infraplanMap.queryRenderedFeatures({layers: ["districts-fill"]})
            .map(feature => [feature.properties.LAD13CD, feature.properties.LAD13NM])"""
    )
    return dict(features)


def map_screenshot(page: Page, path: Path) -> bytes:
    png = page.locator("#map").screenshot(path=path)
    assert png.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png[16:24])  # from the IHDR chunk
    box = page.locator("#map").bounding_box()
    assert (width, height) == (round(box["width"]), round(box["height"]))
    return png


def pixels_like(page: Page, png: bytes, colour: str) -> int:
    """How many pixels of ``png`` are within a small distance of ``colour`` (#rrggbb), decoded
    by the browser (no imaging library in the stack)."""
    return page.evaluate(
        """async ([base64, colour]) => {
            const bytes = Uint8Array.from(atob(base64), character => character.charCodeAt(0));
            const bitmap = await createImageBitmap(new Blob([bytes], {type: "image/png"}));
            const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
            const context = canvas.getContext("2d");
            context.drawImage(bitmap, 0, 0);
            const data = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
            const target = [1, 3, 5].map(i => parseInt(colour.slice(i, i + 2), 16));
            let count = 0;
            for (let i = 0; i < data.length; i += 4) {
                const distance = Math.abs(data[i] - target[0]) + Math.abs(data[i + 1] - target[1])
                    + Math.abs(data[i + 2] - target[2]);
                if (distance <= 24) count++;
            }
            return count;
        }""",
        [base64.b64encode(png).decode(), colour],
    )


def test_map_draws_every_district(page, districts, tmp_path):
    open_map(page)

    drawn = rendered_districts(page)

    assert set(drawn) == DISTRICT_CODES
    assert drawn[FOLKESTONE_AND_HYTHE] == "Folkestone and Hythe"
    assert "Shepway" not in drawn.values()
    png = map_screenshot(page, tmp_path / "map.png")
    assert len(png) > 20_000  # an empty map (background and controls) is a few kilobytes
    # The district outlines are drawn in the authority's accent colour.
    accent = settings.AUTHORITY_PROFILE.branding.accent_colour
    assert pixels_like(page, png, accent) > 2_000
    # The attribution (always shown in full) leaves the scale bar legible.
    scale = page.locator(".maplibregl-ctrl-scale").bounding_box()
    attribution = page.locator(".maplibregl-ctrl-attrib").bounding_box()
    assert scale["x"] + scale["width"] <= attribution["x"] or (
        attribution["y"] + attribution["height"] <= scale["y"]
    )


def test_unticking_a_layer_hides_it(page, districts, tmp_path):
    open_map(page)
    checkbox = page.get_by_role("checkbox", name="Local authority districts")
    expect(checkbox).to_be_checked()
    expect(checkbox).to_be_enabled()  # the script enables the toggles it can honour

    checkbox.uncheck()
    map_idle(page)

    visibility = "layer => window.infraplanMap.getLayoutProperty(layer, 'visibility')"
    assert page.evaluate(visibility, "districts-fill") == "none"
    assert page.evaluate(visibility, "districts-line") == "none"
    assert rendered_districts(page) == {}
    accent = settings.AUTHORITY_PROFILE.branding.accent_colour
    assert pixels_like(page, map_screenshot(page, tmp_path / "hidden.png"), accent) == 0

    checkbox.check()
    map_idle(page)

    assert set(rendered_districts(page)) == DISTRICT_CODES


def test_map_without_javascript_lists_the_districts(browser, live_server, districts):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page_watch = PageWatch()
    page = page_watch.attach(context.new_page())
    try:
        page.goto("/map/")

        expect(page.get_by_role("heading", name="What the map shows, as lists")).to_be_visible()
        page.get_by_text("Local authority districts (13)").click()  # open the details
        table = page.get_by_role("table", name="Local authority districts")
        expect(table.get_by_role("row")).to_have_count(1 + 13)
        expect(table.get_by_role("row", name="E07000112 Folkestone and Hythe")).to_be_visible()
        expect(table).not_to_contain_text("Shepway")
        # Without the script the toggles stay disabled: they could not do anything.
        expect(page.get_by_role("checkbox", name="Local authority districts")).to_be_disabled()
        page_watch.assert_clean()
    finally:
        context.close()


def layer_list(page: Page) -> dict[str, str]:
    """The layers offered on the map page: slug -> label, from the checkboxes."""
    return dict(
        page.locator("[data-layer-toggle]").evaluate_all(
            "boxes => boxes.map(box => [box.value, box.labels[0].textContent.trim()])"
        )
    )


@pytest.mark.parametrize(
    ("email", "sees_it"),
    [(None, False), ("member@b.example", False), ("viewer@a.example", True)],
    ids=["anonymous", "outsider", "organisation-member"],
)
def test_restricted_dataset_only_on_its_organisations_map(
    page, districts, restricted, email, sees_it
):
    if email:
        sign_in(page, email)
    open_map(page)

    layers = layer_list(page)
    config = json.loads(page.locator("#map-config").text_content())
    listed = page.locator(".govuk-details summary").all_text_contents()
    tile = page.request.get("/tiles/a-only-sites/0/0/0.mvt")  # with the page's cookies
    drawn = page.evaluate(
        "() => window.infraplanMap.getLayer('a-only-sites-point') ? window.infraplanMap"
        ".queryRenderedFeatures({layers: ['a-only-sites-point']}).map(f => f.properties.name) : []"
    )

    assert "districts" in layers
    if sees_it:
        assert layers["a-only-sites"].startswith("A only sites")
        assert "a-only-sites" in [layer["slug"] for layer in config["layers"]]
        assert any(summary.startswith("A only sites (2)") for summary in listed)
        assert sorted(drawn) == ["civic-centre", "station"]
        assert tile.status == 200
    else:
        assert "a-only-sites" not in layers
        assert "a-only-sites" not in page.content() and "A only sites" not in page.content()
        assert not any("A only sites" in summary for summary in listed)
        assert drawn == []
        assert tile.status == 404
