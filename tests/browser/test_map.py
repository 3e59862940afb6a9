"""The map viewer in a real browser: the districts are drawn from our vector tiles with labels,
layers toggle and fade, a click opens a feature's pop-up, the URL restores the view, the page
makes sense without JavaScript or WebGL, and restricted data stays restricted."""

import base64
import json
import re
import struct
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from .conftest import PageWatch, assert_accessible, assert_page_sound, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def context(served_context):
    """Every test here only reads: all run against the demo server (``page`` opens in this
    context too)."""
    return served_context


DISTRICT_CODES = {"E06000035"} | {f"E07000{number}" for number in range(105, 117)}
FOLKESTONE_AND_HYTHE = "E07000112"
FOCUS_YELLOW = "#ffdd00"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def open_map(page: Page, query: str = "") -> None:
    page.goto(f"/map/{query}")
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
            .map(feature => [feature.properties.reference, feature.properties.LAD13NM])"""
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


def test_map_draws_every_district_with_its_name(page, tmp_path):
    open_map(page)

    drawn = rendered_districts(page)

    assert set(drawn) == DISTRICT_CODES
    assert drawn[FOLKESTONE_AND_HYTHE] == "Folkestone and Hythe"
    assert "Shepway" not in drawn.values()
    png = map_screenshot(page, tmp_path / "map.png")
    assert len(png) > 20_000  # an empty map (background and controls) is a few kilobytes
    # The district outlines are drawn in the authority's accent colour (the default style).
    accent = settings.AUTHORITY_PROFILE.branding.accent_colour
    assert pixels_like(page, png, accent) > 2_000
    # The attribution (always shown in full) leaves the scale bar legible.
    scale = page.locator(".maplibregl-ctrl-scale").bounding_box()
    attribution = page.locator(".maplibregl-ctrl-attrib").bounding_box()
    assert scale["x"] + scale["width"] <= attribution["x"] or (
        attribution["y"] + attribution["height"] <= scale["y"]
    )
    # Each district is labelled with its name, as HTML text over the map.
    labels = page.locator('.app-map-label[data-label-layer="districts"]')
    expect(labels).to_have_count(13)
    expect(labels.filter(has_text="Folkestone and Hythe")).to_have_count(1)
    # The legend comes from the dataset's style; the search box is there for the search script.
    expect(page.get_by_role("list", name="Legend: Local authority districts")).to_be_visible()
    expect(page.get_by_role("search").get_by_label("Search for a place")).to_be_visible()
    assert_accessible(page)


def test_labels_that_would_overlap_are_hidden_so_those_shown_can_be_read(page):
    """Thanet's wards at zoom 11 are smaller than their names: of two labels that would
    overlap, one is hidden; those shown do not touch."""
    open_map(page, "?layers=wards&center=1.38000,51.36000&zoom=11")
    labels = page.locator('.app-map-label[data-label-layer="wards"]')
    expect(labels.first).to_be_attached()
    map_idle(page)
    boxes = page.evaluate(
        """() => [...document.querySelectorAll('.app-map-label')].map(label => {
            const box = label.getBoundingClientRect();
            return {shown: getComputedStyle(label).visibility === "visible",
                    left: box.left, right: box.right, top: box.top, bottom: box.bottom};
        })"""
    )
    shown = [box for box in boxes if box["shown"]]
    assert len(shown) >= 5 and len(shown) < len(boxes)
    for number, one in enumerate(shown):
        for other in shown[number + 1 :]:
            assert (
                one["right"] <= other["left"]
                or other["right"] <= one["left"]
                or one["bottom"] <= other["top"]
                or other["bottom"] <= one["top"]
            ), f"labels overlap: {one} and {other}"


def test_the_update_map_button_goes_once_the_map_runs(page):
    """Without the script the layer form reloads the page; with it, changes are live and the
    button the script hides is hidden (GOV.UK's button would otherwise show through)."""
    open_map(page)
    expect(page.get_by_role("button", name="Update map")).to_be_hidden()
    expect(page.locator(".app-layers-submit")).to_have_attribute("hidden", "")


def test_unticking_a_layer_hides_it(page, tmp_path):
    open_map(page)
    checkbox = page.get_by_role("checkbox", name="Local authority districts")
    expect(checkbox).to_be_checked()

    checkbox.uncheck()
    map_idle(page)

    visibility = "layer => window.infraplanMap.getLayoutProperty(layer, 'visibility')"
    assert page.evaluate(visibility, "districts-fill") == "none"
    assert page.evaluate(visibility, "districts-line") == "none"
    assert rendered_districts(page) == {}
    accent = settings.AUTHORITY_PROFILE.branding.accent_colour
    assert pixels_like(page, map_screenshot(page, tmp_path / "hidden.png"), accent) == 0
    expect(page.locator(".app-map-label")).to_have_count(0)
    assert "layers=&" in page.url or page.url.endswith("layers=")

    checkbox.check()
    map_idle(page)

    assert set(rendered_districts(page)) == DISTRICT_CODES
    assert "layers=districts" in page.url


def test_a_layer_ticked_further_out_than_it_is_drawn_says_to_zoom_in(page):
    """At the opening view, ticking a layer of points drew nothing and said nothing."""
    open_map(page, "?layers=districts&center=1.08,51.2&zoom=7")
    page.get_by_role("checkbox", name="Electoral wards (December 2023)").check()

    expect(page.locator("#map-status")).to_have_text(
        "Electoral wards (December 2023) are drawn from zoom level 8: zoom in to see them, "
        "or use the table of features in this view."
    )
    page.evaluate("() => window.infraplanMap.setZoom(9)")
    expect(page.locator("#map-status")).to_have_text("")


def test_opacity_fades_a_layer(page, tmp_path):
    open_map(page)
    accent = settings.AUTHORITY_PROFILE.branding.accent_colour
    assert pixels_like(page, map_screenshot(page, tmp_path / "before.png"), accent) > 2_000

    slider = page.get_by_label("Opacity of Local authority districts")
    expect(slider).to_have_attribute("aria-valuetext", "100%")
    slider.fill("0")
    map_idle(page)
    expect(slider).to_have_attribute("aria-valuetext", "0%")  # a screen reader says "0%"

    paint = "([layer, name]) => window.infraplanMap.getPaintProperty(layer, name)"
    assert page.evaluate(paint, ["districts-line", "line-opacity"]) == 0
    assert page.evaluate(paint, ["districts-fill", "fill-opacity"]) == 0
    assert pixels_like(page, map_screenshot(page, tmp_path / "faded.png"), accent) == 0


def test_a_layers_opacity_is_kept_in_the_link(page, tmp_path):
    """A shared link or a reload gave every layer full opacity again; only the layers turned
    down are named, and what cannot be an opacity is ignored."""
    open_map(page, "?layers=districts,wards&center=1.08,51.28&zoom=9")
    assert "opacity=" not in page.url  # all at full opacity: none named
    slider = page.get_by_label("Opacity of Local authority districts")

    slider.fill("40")

    expect(page).to_have_url(re.compile(r"[?&]opacity=districts%3A40(&|$)"))
    page.get_by_label("Opacity of Electoral wards (December 2023)").fill("0")
    # (in the panel's order)
    expect(page).to_have_url(re.compile(r"[?&]opacity=wards%3A0%2Cdistricts%3A40(&|$)"))
    page.reload()
    page.locator('#map[data-map-idle="true"]').wait_for()
    paint = "([layer, name]) => window.infraplanMap.getPaintProperty(layer, name)"
    expect(slider).to_have_value("40")
    expect(slider).to_have_attribute("aria-valuetext", "40%")
    assert page.evaluate(paint, ["districts-line", "line-opacity"]) == pytest.approx(0.4)
    assert page.evaluate(paint, ["wards-line", "line-opacity"]) == 0
    # A new date reloads the page: the opacities come along, as the view does.
    page.get_by_role("button", name="Show this date").click()
    page.locator('#map[data-map-idle="true"]').wait_for()
    assert parse_qs(urlsplit(page.url).query)["opacity"] == ["wards:0,districts:40"]

    open_map(page, "?layers=districts&opacity=districts:lots,wards:150,:30,%00:20")

    expect(slider).to_have_value("100")
    assert page.evaluate(paint, ["districts-line", "line-opacity"]) == 1
    slider.fill("60")
    expect(page).to_have_url(re.compile(r"[?&]opacity=districts%3A60(&|$)"))


def test_the_opacity_sliders_show_focus_as_govuk_fields_do(page):
    """Chromium's own thin ring showed, not GOV.UK's yellow focus."""
    open_map(page)
    slider = page.get_by_label("Opacity of Local authority districts")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    around = {"x": box["x"] - 4, "y": box["y"] - 4, "width": box["width"] + 8,
              "height": box["height"] + 8}  # fmt: skip
    assert pixels_like(page, page.screenshot(clip=around), FOCUS_YELLOW) == 0

    page.get_by_role("checkbox", name="Local authority districts").focus()
    page.keyboard.press("Tab")  # from the keyboard, to the slider below the layer's box

    expect(slider).to_be_focused()
    ring = pixels_like(page, page.screenshot(clip=around), FOCUS_YELLOW)
    assert ring >= 2 * (box["width"] + box["height"]) * 2  # all round, as wide as GOV.UK's


def point_on_screen(page: Page, lon: float, lat: float) -> dict:
    """Page coordinates of a place on the map."""
    box = page.locator("#map").bounding_box()
    point = page.evaluate("([lon, lat]) => window.infraplanMap.project([lon, lat])", [lon, lat])
    return {"x": box["x"] + point["x"], "y": box["y"] + point["y"]}


def test_clicking_a_feature_opens_its_popup_and_the_url_keeps_it(page):
    open_map(page, "?layers=districts&center=1.08,51.28&zoom=9")
    at = point_on_screen(page, 1.0789, 51.2802)  # Canterbury

    page.mouse.click(at["x"], at["y"])

    popup = page.locator(".maplibregl-popup")
    expect(popup.get_by_role("heading", name="Canterbury")).to_be_focused()
    expect(popup.get_by_text("Local authority districts")).to_be_visible()
    rows = popup.locator(".govuk-summary-list__row")
    expect(rows.filter(has_text=re.compile("^ONS code"))).to_contain_text("E07000106")
    expect(rows.filter(has_text=re.compile("^Reference"))).to_contain_text("E07000106")
    assert "feature=districts%2F" in page.url
    # The table and the picture of the view show it too.
    for link in ("#map-features-link", "#map-png-link"):
        assert "feature=districts%2F" in page.locator(link).get_attribute("href")
    assert_accessible(page)
    shared = page.url

    page.keyboard.press("Escape")  # closable from the keyboard
    expect(popup).to_have_count(0)
    assert "feature=" not in page.url
    assert "feature=" not in page.locator("#map-features-link").get_attribute("href")

    page.goto(shared)  # the link restores the pop-up
    expect(
        page.locator(".maplibregl-popup").get_by_role("heading", name="Canterbury")
    ).to_be_visible()
    popup = page.locator(".maplibregl-popup")
    popup.get_by_role("button", name="Close popup").click()
    expect(popup).to_have_count(0)


def test_a_click_opens_the_ward_drawn_over_its_district(page):
    open_map(page, "?layers=districts,wards&center=1.08,51.28&zoom=11")
    at = point_on_screen(page, 1.0789, 51.2802)  # Canterbury

    page.mouse.click(at["x"], at["y"])

    popup = page.locator(".maplibregl-popup")
    expect(popup.get_by_text("Electoral wards (December 2023)")).to_be_visible()
    district = popup.locator('.govuk-summary-list__row:has(dt:text-is("District name (2023)")) dd')
    expect(district).to_have_text("Canterbury")
    ward = popup.get_by_role("heading", level=2).inner_text()
    assert_accessible(page)

    # The district drawn under the ward is one link away, and links back.
    also_here = popup.locator("h3", has_text="Also here").locator("xpath=following-sibling::ul")
    expect(also_here.get_by_role("listitem")).to_have_count(1)
    link = also_here.get_by_role("link", name="Canterbury")
    assert "feature=districts%2F" in link.get_attribute("href")
    map_idle(page)
    link.click()
    # The district's pop-up is fetched: more time than an expectation's default on a busy
    # machine, as the whole suite runs side by side.
    expect(popup.get_by_role("heading", name="Canterbury", level=2)).to_be_focused(timeout=20_000)
    expect(popup.get_by_text("Local authority districts")).to_be_visible()
    assert "feature=districts%2F" in page.url
    also_here = popup.locator("h3", has_text="Also here").locator("xpath=following-sibling::ul")
    also_here.get_by_role("link", name=ward).click()
    expect(popup.get_by_role("heading", name=ward, level=2)).to_be_focused(timeout=20_000)
    assert "feature=wards%2F" in page.url


def test_a_popup_folds_the_credits_and_escape_elsewhere_leaves_it_open(page):
    open_map(page, "?layers=districts&center=1.08,51.28&zoom=9")
    credits = page.locator(".maplibregl-ctrl-attrib")
    expect(credits).to_have_class(re.compile("maplibregl-compact-show"))
    at = point_on_screen(page, 1.0789, 51.2802)  # Canterbury

    page.mouse.click(at["x"], at["y"])

    popup = page.locator(".maplibregl-popup")
    expect(popup.get_by_role("heading", name="Canterbury")).to_be_focused()
    # The credits fold into their button, so they cover no part of the pop-up.
    expect(credits).not_to_have_class(re.compile("maplibregl-compact-show"))
    search = page.get_by_role("search").get_by_label("Search for a place")
    search.focus()
    page.keyboard.press("Escape")  # the search box's own: the pop-up stays, and so does focus
    expect(popup).to_have_count(1)
    expect(search).to_be_focused()
    popup.get_by_role("heading", name="Canterbury").focus()
    page.keyboard.press("Escape")
    expect(popup).to_have_count(0)
    credits.locator(".maplibregl-ctrl-attrib-button").click()
    expect(credits).to_have_class(re.compile("maplibregl-compact-show"))
    assert_accessible(page)


def test_a_feature_named_in_the_link_opens_without_taking_focus(page):
    open_map(page, "?layers=districts&center=1.08,51.28&zoom=9")
    at = point_on_screen(page, 1.0789, 51.2802)
    page.mouse.click(at["x"], at["y"])
    expect(page.locator(".maplibregl-popup")).to_have_count(1)
    shared = page.url

    page.goto(shared)

    expect(
        page.locator(".maplibregl-popup").get_by_role("heading", name="Canterbury")
    ).to_be_visible()
    assert page.evaluate("() => document.activeElement === document.body")
    assert page.evaluate("() => window.scrollY") == 0


@pytest.mark.parametrize("feature", ["districts/999999999", "nope/abc", "districts/1e21"])
def test_a_feature_the_link_cannot_show_is_dropped_from_it(context, feature):
    # Not the watched page: asking for a feature that does not exist answers 404, as it should.
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    open_map(page, f"?layers=districts&center=1.08,51.28&zoom=9&feature={feature}")

    expect(page).not_to_have_url(re.compile("feature="))
    expect(page.locator(".maplibregl-popup")).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("The feature this link points to")
    assert "layers=districts" in page.url and errors == []


def test_a_feature_that_cannot_be_loaded_says_so(context):
    page = context.new_page()  # not the watched page: its feature requests fail on purpose
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_map(page, "?layers=districts&center=1.08,51.28&zoom=9")
    at = point_on_screen(page, 1.0789, 51.2802)
    popup = page.locator(".maplibregl-popup")

    page.route("**/features/*.json", lambda route: route.fulfill(status=500, body="Server error"))
    page.mouse.click(at["x"], at["y"])
    message = popup.get_by_text("This feature could not be loaded. Try again in a moment.")
    expect(message).to_be_focused()
    page.keyboard.press("Escape")

    page.unroute("**/features/*.json")
    page.route("**/features/*.json", lambda route: route.abort())
    page.mouse.click(at["x"], at["y"])
    expect(message).to_be_visible()
    page.unroute("**/features/*.json")
    page.route("**/features/*.json", lambda route: route.fulfill(status=404, body="{}"))
    page.mouse.click(at["x"], at["y"])
    expect(popup).to_contain_text("This feature is not available")
    assert errors == []


def test_the_map_zooms_out_no_further_than_its_links_can_ask_for(page):
    open_map(page, "?layers=districts&center=1.08,51.28&zoom=0.0001")

    assert page.evaluate("() => window.infraplanMap.getZoom()") == 4
    link = page.locator("#map-features-link").get_attribute("href")
    west, south, east, north = (
        float(value) for value in re.search(r"bbox=([^&]+)", link)[1].replace("%2C", ",").split(",")
    )
    assert -180 <= west < east <= 180 and -85 <= south < north <= 85
    page.locator("#map-features-link").click()
    expect(page.get_by_role("table")).to_contain_text("Canterbury")


def test_a_link_restores_centre_zoom_and_layers(page):
    sign_in(page, "viewer@a.example")

    open_map(page, "?layers=a-only-sites&center=0.87500,51.14600&zoom=12.5")

    centre = page.evaluate("() => window.infraplanMap.getCenter().toArray()")
    assert centre == pytest.approx([0.875, 51.146], abs=1e-4)
    assert page.evaluate("() => window.infraplanMap.getZoom()") == pytest.approx(12.5)
    expect(page.get_by_role("checkbox", name="A only sites")).to_be_checked()
    # (in the closed "Boundaries" group: none of its layers is on)
    expect(page.locator("#layer-districts")).not_to_be_checked()
    drawn = page.evaluate(
        "() => window.infraplanMap.queryRenderedFeatures({layers: ['a-only-sites-point']})"
        ".map(f => f.properties.reference)"
    )
    assert sorted(drawn) == ["civic-centre", "station"]
    assert rendered_districts(page) == {}
    # The links to the table and the picture follow the view and the layers.
    table_link = page.locator("#map-features-link").get_attribute("href")
    assert "layers=a-only-sites" in table_link and "bbox=0.8" in table_link

    page.locator("#map-features-link").click()

    table = page.get_by_role("table")
    expect(table.get_by_role("row")).to_have_count(1 + 2)
    expect(table).to_contain_text("civic-centre")


def drawn_sites(page: Page) -> list[str]:
    return sorted(
        page.evaluate(
            "() => window.infraplanMap.queryRenderedFeatures({layers: ['a-only-sites-point']})"
            ".map(f => f.properties.reference)"
        )
    )


def test_the_date_control_restores_from_the_url_and_keeps_the_view(page):
    sign_in(page, "viewer@a.example")

    open_map(page, "?layers=a-only-sites&center=0.87500,51.14600&zoom=12.5&as_of=2001-01-01")

    date_field = page.get_by_role("textbox", name="Show the data as published on")
    expect(date_field).to_have_value("2001-01-01")
    expect(page.get_by_role("heading", level=1)).to_have_text("Map as published on 1 January 2001")
    expect(page.locator('[data-layer="a-only-sites"]')).to_contain_text(
        "Not yet published on 1 January 2001: nothing to show."
    )
    assert drawn_sites(page) == []
    # Moving the map keeps the date in the address, and the links to the table and picture.
    page.evaluate("() => window.infraplanMap.jumpTo({center: [0.876, 51.146]})")
    map_idle(page)
    assert "as_of=2001-01-01" in page.url and "center=0.87600" in page.url
    assert "as_of=2001-01-01" in page.locator("#map-features-link").get_attribute("href")
    assert "as_of=2001-01-01" in page.locator("#map-png-link").get_attribute("href")
    assert_accessible(page)

    date_field.fill("")  # today
    page.get_by_role("checkbox", name="Show ended features").check()
    page.get_by_role("button", name="Show this date").click()
    page.locator('#map[data-map-idle="true"]').wait_for()

    expect(page.get_by_role("heading", level=1)).to_have_text("Map")
    expect(page.get_by_role("checkbox", name="Show ended features")).to_be_checked()
    assert drawn_sites(page) == ["civic-centre", "station"]
    centre = page.evaluate("() => window.infraplanMap.getCenter().toArray()")
    assert centre == pytest.approx([0.876, 51.146], abs=1e-4)  # the view came along
    assert "as_of=2001" not in page.url and "ended=show" in page.url
    assert_accessible(page)


def test_a_malformed_date_is_explained_and_the_table_keeps_the_date(page, page_watch):
    open_map(page)
    page.get_by_role("textbox", name="Show the data as published on").fill("27 March")
    page.get_by_role("button", name="Show this date").click()

    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text(
        "Enter the date as year-month-day with numbers, for example 2026-03-27"
    )
    expect(page).to_have_title(re.compile("^Error: Map"))
    summary.get_by_role("link").click()
    expect(page.get_by_role("textbox", name="Show the data as published on")).to_be_focused()
    assert_accessible(page)
    # The page itself answered 400, as it should (the browser logs that); nothing else failed.
    assert [failure.split(" ")[0] for failure in page_watch.failed_requests] == ["400"]
    assert len(page_watch.console_errors) == 1 and "status of 400" in page_watch.console_errors[0]
    page_watch.failed_requests.clear()
    page_watch.console_errors.clear()

    page.goto("/map/features/?layers=districts&as_of=2001-01-01&ended=show")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Features in this view as published on 1 January 2001"
    )
    districts = page.get_by_role("checkbox", name="Local authority districts")
    expect(districts).to_have_accessible_description(
        "Not yet published on 1 January 2001: nothing to show."
    )
    expect(page.get_by_role("checkbox", name="Show ended features")).to_be_checked()
    expect(page.get_by_role("link", name="Back to the map")).to_have_attribute(
        "href", "/map/?layers=districts&as_of=2001-01-01&ended=show"
    )
    assert_accessible(page)


def test_map_without_javascript_shows_a_picture_and_the_table(served_context_without_script):
    page_watch = PageWatch()
    page = page_watch.attach(served_context_without_script.new_page())
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/map/")

    # The picture takes the map's place: no empty box for a map that cannot start, above it.
    expect(page.get_by_role("region", name=re.compile("Interactive map"))).to_have_count(0)
    picture = page.get_by_role("img", name="Map of Local authority districts")
    expect(picture).to_be_visible()
    assert picture.evaluate("image => image.complete && image.naturalWidth") == 960
    assert picture.bounding_box()["y"] < 900 / 2, "the picture starts below the first screen"
    # It can be moved and zoomed without the script, too (WCAG 2.5.7).
    moves = page.get_by_role("navigation", name="Move or zoom the picture").get_by_role("link")
    expect(moves).to_have_text(
        ["Zoom in", "Zoom out", "Move north", "Move south", "Move east", "Move west"]
    )
    explanation = page.locator("noscript .govuk-inset-text")
    expect(explanation).to_contain_text("The interactive map needs JavaScript.")
    assert explanation.bounding_box()["y"] < picture.bounding_box()["y"]
    # Nothing offered that only the script can work: no opacity slider, shown but dead.
    expect(page.get_by_label("Opacity of Local authority districts")).to_be_hidden()
    assert_page_sound(page, page_watch)

    # The layer form works by reloading the page.
    page.reload()  # as it came, with the groups that were open (checking the page toggled them)
    page.get_by_role("checkbox", name="Local authority districts").uncheck()
    page.get_by_role("button", name="Update map").click()
    expect(page.locator("#layer-districts")).not_to_be_checked()
    page.get_by_text("Boundaries", exact=True).click()  # closed with none of its layers on
    page.get_by_role("checkbox", name="Local authority districts").check()
    page.get_by_role("button", name="Update map").click()
    expect(page.get_by_role("checkbox", name="Local authority districts")).to_be_checked()

    page.get_by_role("link", name="features in this view").first.click()

    table = page.get_by_role("table")
    expect(table.get_by_role("row")).to_have_count(1 + 13)
    expect(table.get_by_role("row", name="Folkestone and Hythe")).to_be_visible()
    expect(table).not_to_contain_text("Shepway")
    assert_page_sound(page, page_watch)


def test_map_without_javascript_keeps_the_view_when_layers_or_the_date_change(
    served_context_without_script,
):
    """A map opened on a place (a search result's or a feature page's link names its centre
    and zoom) keeps that place when a layer or the date changes: the script sends the view with
    the form, and without it the page must."""
    page = served_context_without_script.new_page()
    centre = "1.08346,51.27881"
    page.goto(f"/map/?layers=districts&center={centre}&zoom=15")
    table_link = page.get_by_role("link", name="features in this view").first
    area = parse_qs(urlsplit(table_link.get_attribute("href")).query)["bbox"]

    page.get_by_role("checkbox", name="Electoral wards (December 2023)").check()  # group open
    page.get_by_role("button", name="Update map").click()
    expect(page.get_by_role("checkbox", name="Electoral wards (December 2023)")).to_be_checked()
    page.get_by_role("button", name="Show this date").click()
    page.wait_for_load_state()

    query = parse_qs(urlsplit(page.url).query)
    assert query["center"] == [centre] and query["zoom"] == ["15.00"], page.url
    assert parse_qs(urlsplit(table_link.get_attribute("href")).query)["bbox"] == area


def test_map_without_webgl_shows_a_picture_and_the_table(browser_without_webgl, demo_server):
    """Council virtual desktops often have no WebGL: the page shows the picture and the table
    link instead of a blank box."""
    page_watch = PageWatch()
    page = page_watch.attach(browser_without_webgl.new_page(base_url=demo_server))
    assert page.evaluate("() => !document.createElement('canvas').getContext('webgl')")

    page.goto("/map/?layers=districts")

    expect(page.locator('#map[data-map-fallback="true"]')).to_be_hidden()
    picture = page.get_by_role("img", name="Map of Local authority districts")
    expect(picture).to_be_visible()
    page.wait_for_function("() => document.getElementById('map-fallback-image').complete")
    assert picture.evaluate("image => image.naturalWidth") == 960
    expect(page.get_by_text("This computer cannot show the interactive map")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="features in this view").first.click()

    expect(page.get_by_role("table").get_by_role("row")).to_have_count(1 + 13)
    assert_accessible(page)

    # An area wider than the map draws the wards at: they are named, with a way to see them.
    page.goto("/map/features/?layers=districts,wards&bbox=-1,50,3,52.5")
    not_listed = page.locator("#layers-not-listed")
    expect(not_listed).to_contain_text("is not listed: the map shows it from zoom 8")
    assert_accessible(page)
    not_listed.get_by_role("link", name="list the features in the middle of this area").click()
    expect(page.locator("#layers-not-listed")).to_have_count(0)
    expect(page.get_by_role("table")).to_contain_text("Electoral wards")
    page_watch.assert_clean()


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
def test_restricted_dataset_only_on_its_organisations_map(page, email, sees_it):
    if email:
        sign_in(page, email)
    open_map(page, "?layers=districts,a-only-sites")

    layers = layer_list(page)
    config = json.loads(page.locator("#map-config").text_content())
    tile = page.request.get("/tiles/a-only-sites/0/0/0.mvt")  # with the page's cookies
    drawn = page.evaluate(
        "() => window.infraplanMap.getLayer('a-only-sites-point') ? window.infraplanMap"
        ".queryRenderedFeatures({layers: ['a-only-sites-point']}).map(f => f.properties.reference)"
        " : []"
    )
    table = page.request.get("/map/features/?layers=a-only-sites")

    assert "districts" in layers
    if sees_it:
        assert layers["a-only-sites"].startswith("A only sites")
        assert "a-only-sites" in [layer["slug"] for layer in config["layers"]]
        assert sorted(drawn) == ["civic-centre", "station"]
        assert tile.status == 200
        assert "civic-centre" in table.text()
    else:
        assert "a-only-sites" not in layers
        assert "a-only-sites" not in page.content() and "A only sites" not in page.content()
        assert drawn == []
        assert tile.status == 404
        assert "civic-centre" not in table.text()
