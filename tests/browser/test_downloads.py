"""The dataset page's download form in a real browser: accessible (axe), and submitting it, with
JavaScript or without, downloads the file chosen, which GDAL reads back."""

import csv
import io

import pyogrio.raw
import pytest
from playwright.sync_api import Page, expect

from .conftest import PageWatch, assert_accessible

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
