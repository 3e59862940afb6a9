"""The dataset page's download form in a real browser: accessible (axe), and submitting it, with
JavaScript or without, downloads the file chosen, which GDAL reads back; a ward is chosen after
its district, and one of another district is shown again as an error (axe)."""

import csv
import io
import re

import pyogrio.raw
import pytest
from playwright.sync_api import Browser, Page, expect

from infraplan.catalogue.demo import demo_load
from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import CONTEXT, PageWatch, assert_accessible

pytestmark = pytest.mark.browser


def choose_and_download(page: Page, format_label: str, area: str):
    page.goto("/datasets/districts/")
    form = page.locator("#download-form")
    expect(page.get_by_role("heading", name="Download", exact=True)).to_be_visible()
    form.get_by_label(format_label, exact=True).check()
    form.get_by_label("Area", exact=True).select_option(area)
    with page.expect_download() as started:
        form.get_by_role("button", name="Download", exact=True).click()
    return started.value


def test_the_form_downloads_a_geopackage_of_an_area(served_page, tmp_path):
    served_page.goto("/datasets/districts/")
    assert_accessible(served_page)

    download = choose_and_download(served_page, "GeoPackage", "E07000114")  # Thanet
    assert download.suggested_filename == "districts-E07000114.gpkg"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    meta, _, _, fields = pyogrio.raw.read(path, layer="districts")
    assert meta["crs"] == "EPSG:27700"
    references = set(fields[list(meta["fields"]).index("reference")])
    # Thanet alone, not the districts it borders.
    assert references == {"E07000114"}


def test_without_javascript_the_form_and_its_links_still_download(
    served_context_without_script, tmp_path
):
    watch = PageWatch()
    page = watch.attach(served_context_without_script.new_page())
    download = choose_and_download(page, "CSV", "E07000105")  # Ashford
    assert download.suggested_filename == "districts-E07000105.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert "E07000105" in {row["reference"] for row in rows}
    assert_accessible(page)

    with page.expect_download() as started:
        page.get_by_role("link", name="XLSX of Local authority districts").click()
    assert started.value.suggested_filename == "districts.xlsx"
    watch.assert_clean()


NAILBOURNE = "E05012954"  # a ward of Canterbury


@pytest.fixture
def village_sites(personas):
    """Public points: one in Nailbourne ward, one in Ashford, with the districts and wards."""
    demo_load(only={"districts", "wards"})
    sites = dataset_make(slug="village-sites", owner=personas.organisation_a)
    version_publish_points(
        dataset=sites, points={"in-nailbourne": (618627, 151001), "in-ashford": (601300, 142700)}
    )
    return sites


@pytest.mark.parametrize("script", [True, False], ids=["javascript", "no-javascript"])
def test_a_ward_is_chosen_after_its_district(
    browser: Browser, live_server, village_sites, tmp_path, script
):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=script, **CONTEXT)
    watch = PageWatch()
    page = watch.attach(context.new_page())
    page.goto("/datasets/village-sites/")
    assert_accessible(page)
    form = page.locator("#download-form")
    form.get_by_label("CSV", exact=True).check()
    # A ward of another district than the area chosen: the form again, saying so.
    form.get_by_label("Area", exact=True).select_option("E07000105")  # Ashford
    form.get_by_label("Ward (optional)").select_option(NAILBOURNE)
    form.get_by_role("button", name="Download", exact=True).click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    assert page.title().startswith("Error: Download Village sites")
    assert_accessible(page)
    page.get_by_role("link", name=re.compile("Nailbourne is a ward of Canterbury")).click()
    form = page.locator("#download-form")
    if script:  # GOV.UK Frontend's error summary moves the focus to the field
        expect(form.get_by_label("Ward (optional)")).to_be_focused()
    else:
        assert page.url.endswith("#download-ward")
    expect(form.get_by_label("CSV", exact=True)).to_be_checked()
    expect(form.get_by_label("Ward (optional)")).to_have_value(NAILBOURNE)
    form.get_by_label("Area", exact=True).select_option("E07000106")  # Canterbury
    with page.expect_download() as started:
        form.get_by_role("button", name="Download", exact=True).click()
    download = started.value
    assert download.suggested_filename == f"village-sites-{NAILBOURNE}.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert [row["reference"] for row in rows] == ["in-nailbourne"]
    # Nothing failed but the answer (400) that showed the form again.
    assert [failed for failed in watch.failed_requests if "/download/?" not in failed] == []
    assert [error for error in watch.console_errors if "/download/?" not in error] == []
    assert watch.page_errors == []
    context.close()
