"""Loading data in a real browser: the upload form (its errors too), the load's page while it
waits and once published or rejected, a version's report, the changes between versions, the
rollback confirmation, and the dataset page as of a date with its sources. axe finds nothing on any of them; no CSP violation, script error or
failed request."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from infraplan.connectors.models import IngestRun
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.connectors.sources import source_save
from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import PageWatch, assert_no_sideways_scroll, assert_page_sound, sign_in

pytestmark = pytest.mark.browser

SERVICE = "Kent and Medway Infrastructure Map"
DASH = "\N{EN DASH}"


@pytest.fixture
def sites(personas, settings, tmp_path):
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    version_publish_points(dataset=dataset, points={"OLD": (615000, 157500)})
    return dataset


def page_path(page: Page) -> str:
    return "/" + page.url.split("/", 3)[3]


def upload(page: Page, path: Path, reference: str = "ref", slug: str = "sites") -> None:
    page.goto(f"/datasets/{slug}/upload/")
    page.get_by_label("File", exact=True).set_input_files(str(path))
    page.get_by_label("Reference column").fill(reference)
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url(f"**/datasets/{slug}/runs/*/")


def test_upload_then_the_run_report_and_diff(page: Page, page_watch: PageWatch, sites, tmp_path):
    sign_in(page, "contributor@a.example")
    page.goto("/datasets/sites/")
    page.get_by_role("button", name="Upload data").click()
    expect(page).to_have_title(f"Upload data to Sites {DASH} {SERVICE}")
    assert_page_sound(page, page_watch)

    # Nothing chosen: the error summary, focused, links to the file input.
    page.get_by_label("Reference column").fill("")
    page.get_by_role("button", name="Upload and check").click()
    expect(page).to_have_title(f"Error: Upload data to Sites {DASH} {SERVICE}")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name="File: Choose a file to upload")).to_have_attribute(
        "href", "#id_file"
    )
    assert_page_sound(page, page_watch)

    good = tmp_path / "sites.csv"
    good.write_text("ref,Easting,Northing,name\nA,615000,157500,Civic\nB,615100,157600,Hall\n")
    upload(page, good)
    expect(page).to_have_title(f"Load {IngestRun.objects.get().pk} of Sites {DASH} {SERVICE}")
    expect(page.locator("#run-status")).to_contain_text("The load is waiting to start.")
    assert_page_sound(page, page_watch)

    expect(page.get_by_role("link", name="Refresh")).to_have_attribute("href", page_path(page))
    # The page's script follows the load: the banner too says once it has started.
    IngestRun.objects.update(state="running", stage="reading", rows_read=1)
    expect(page.locator("#run-status")).to_contain_text("The load is in progress.")
    expect(page.locator('[data-run-value="stage"]')).to_have_text("Reading the file")
    IngestRun.objects.update(state="queued", stage="", rows_read=0)
    # It shows the outcome when the load ends.
    ingest_run_execute(IngestRun.objects.get().pk)
    status = page.locator("#run-status")
    expect(status).to_contain_text("Published as version 2.")
    expect(status).to_contain_text("2 added, 0 changed, 1 removed")
    assert_page_sound(page, page_watch)

    status.get_by_role("link", name="version 2").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Version 2")
    assert_page_sound(page, page_watch)

    page.get_by_role("link", name="What changed from version 1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Changes from version 1 to version 2")
    expect(page.locator("#added")).to_contain_text("B")
    expect(page.locator("#removed")).to_contain_text("OLD")
    assert_page_sound(page, page_watch)


def test_a_rejected_upload_its_report_and_a_rollback(
    page: Page, page_watch: PageWatch, sites, tmp_path
):
    version_publish_points(dataset=sites, points={"NEW": (615000, 157500)})
    sign_in(page, "data-manager@a.example")
    bad = tmp_path / "bad.csv"
    bad.write_text("ref,Easting,Northing\nA,615000,157500\nB,lots,157500\n,615001,157501\n")
    upload(page, bad)
    ingest_run_execute(IngestRun.objects.get().pk)
    page.reload()
    expect(page.locator("#run-status")).to_contain_text("The load was rejected")
    expect(page.locator("#problems")).to_contain_text("is not a number")
    assert_page_sound(page, page_watch)

    page.get_by_role("link", name="Version 3 and its report").click()
    expect(page.locator("#problems")).to_contain_text("the reference is empty")
    assert_page_sound(page, page_watch)

    page.goto("/datasets/sites/versions/1/")
    page.get_by_role("button", name="Roll back to version 1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Roll back to version 1")
    assert_page_sound(page, page_watch)
    page.get_by_role("button", name="Roll back to version 1").click()
    expect(page.locator("#run-status")).to_contain_text("The rollback is waiting to start.")
    assert_page_sound(page, page_watch)
    run_page = page_path(page)
    page.goto("/datasets/sites/")
    expect(page.locator("#runs-active")).to_contain_text(
        "Rollback to version 1 of the whole dataset: waiting to start"
    )
    assert_page_sound(page, page_watch)
    ingest_run_execute(IngestRun.objects.get(connector_key="rollback").pk)
    page.goto(run_page)
    expect(page.locator("#run-status")).to_contain_text(
        "Published as version 4: it restores version 1's features."
    )
    assert_page_sound(page, page_watch)


def test_wide_values_scroll_in_their_table_not_the_page_on_a_narrow_screen(
    page: Page, page_watch: PageWatch, sites, tmp_path
):
    """Web addresses and file paths with no spaces, in many columns, on a 320 px wide screen:
    the tables wrap them or scroll in their own region, which the keyboard can reach; the page
    itself does not scroll sideways, nor does text hidden for screen readers in a table (the
    comparison's "changed to") widen it."""
    address = "https://www.example.gov.uk/downloads/" + "conservation-area-appraisal-" * 6 + ".pdf"
    columns = [f"document_{number}" for number in range(1, 9)]
    wide = tmp_path / "wide.csv"
    wide.write_text(
        ",".join(["ref", "Easting", "Northing", *columns])
        + "\n"
        + ",".join(["A", "615000", "157500", *[address] * len(columns)])
        + "\n"
        # A change of the feature version 1 has: the comparison lists it.
        + ",".join(["OLD", "615000", "157500", *[address] * len(columns)])
        + "\n"
    )
    sign_in(page, "data-manager@a.example")
    upload(page, wide)
    run_page = page_path(page)
    ingest_run_execute(IngestRun.objects.get().pk)
    page.set_viewport_size({"width": 320, "height": 640})
    pages = [
        "/datasets/sites/",
        "/datasets/sites/versions/2/",
        "/datasets/sites/versions/1/diff/2/",
    ]
    for path in [*pages, run_page]:
        page.goto(path)
        assert_page_sound(page, page_watch)
    page.goto("/datasets/sites/")
    fields = page.get_by_role("region", name="Fields")
    expect(fields).to_contain_text("document_8")
    fields.focus()
    expect(fields).to_be_focused()
    versions = page.get_by_role("region", name="Versions")
    assert versions.evaluate("region => region.scrollWidth > region.clientWidth")
    versions.focus()
    page.keyboard.press("ArrowRight")  # the keyboard scrolls the focused region
    page.wait_for_function(
        "() => document.querySelector('.app-table-scroll:has(#versions)').scrollLeft > 0"
    )


def test_the_dataset_page_as_of_a_date_and_its_sources(
    page: Page, page_watch: PageWatch, sites, tmp_path
):
    source_save(
        actor=None, dataset=sites, connector_key="upload", config={"path": str(tmp_path / "x")},
        mapping={"reference": "ref"}, schedule="weekly",
    )  # fmt: skip
    version_publish_points(dataset=sites, points={"NEW": (615000, 157500)})
    sites.versions.filter(number=1).update(published_at=timezone.now() - timedelta(days=3))
    sign_in(page, "data-manager@a.example")
    page.goto("/datasets/sites/")
    expect(page.locator("#source-table")).to_contain_text("Every week, on Mondays at 2am (UTC)")
    page.get_by_label("Show the dataset as published on").fill("27 March")
    page.get_by_role("button", name="Show that date").click()
    expect(page).to_have_title(f"Error: Sites {DASH} {SERVICE}")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the date as year-month-day")
    assert_page_sound(page, page_watch)

    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    page.get_by_label("Show the dataset as published on").fill(yesterday)
    page.get_by_role("button", name="Show that date").click()
    expect(page.locator("#as-of")).to_contain_text(
        "You are looking at this dataset as published on"
    )
    expect(page.locator("#as-of")).to_contain_text("version 1")
    assert_page_sound(page, page_watch)


def test_a_data_manager_adds_changes_and_removes_a_source(page: Page, page_watch: PageWatch, sites):
    sign_in(page, "data-manager@a.example")
    page.goto("/datasets/sites/")
    page.get_by_role("button", name="Add a source").click()
    expect(page).to_have_title(f"Add a source to Sites {DASH} {SERVICE}")
    assert_page_sound(page, page_watch)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Choose the kind of service the data comes from"
    )
    assert_page_sound(page, page_watch)
    page.get_by_label("ArcGIS REST layer").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a source: ArcGIS REST layer")
    assert_page_sound(page, page_watch)

    # Nothing filled in: the summary, focused, links to each input with a problem.
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page).to_have_title(f"Error: Add a source to Sites {DASH} {SERVICE}")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(
        summary.get_by_role("link", name="Layer address: Enter the layer address")
    ).to_have_attribute("href", "#id_url")
    assert_page_sound(page, page_watch)

    layer = "https://maps.example.org/arcgis/rest/services/Planning/Sites/FeatureServer/0"
    page.get_by_label("Layer address").fill(layer)
    page.get_by_label("Reference column").fill("SITE_REF")
    page.get_by_label("Column 1 in the source").fill("UNITS")
    page.get_by_label("Column 1 renamed to").fill("homes")
    page.get_by_label("Column 1 read as").select_option("integer")
    page.get_by_label("Every week, on Mondays at 2am (UTC)").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "The ArcGIS REST layer source is saved."
    )
    expect(page.locator("#source-table")).to_contain_text("ArcGIS REST layer")
    expect(page.locator("#source-table")).to_contain_text("Every week, on Mondays at 2am (UTC)")
    assert_page_sound(page, page_watch)

    page.locator("#source-table").get_by_role("link", name="Change").click()
    expect(page.get_by_label("Column 1 read as")).to_have_value("integer")
    page.get_by_label("On a cron expression", exact=True).check()
    page.get_by_label("Cron expression", exact=True).fill("30 6 * * 1-5")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#source-table")).to_contain_text("30 6 * * 1-5")

    page.locator("#source-table").get_by_role("link", name="Change").click()
    page.get_by_role("link", name="Remove this source").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Remove the source (ArcGIS REST layer)"
    )
    assert_page_sound(page, page_watch)
    page.get_by_role("button", name="Remove the source").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("The source is removed.")
    expect(page.locator("#source-table")).to_have_count(0)
    assert_page_sound(page, page_watch)


def test_a_data_manager_adds_a_dataset_then_loads_its_first_file(
    page: Page, page_watch: PageWatch, personas, settings, tmp_path
):
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    sign_in(page, "data-manager@a.example")
    page.goto("/datasets/")
    page.get_by_role("button", name="Add a dataset").click()
    expect(page).to_have_title(f"Add a dataset {DASH} {SERVICE}")
    assert_page_sound(page, page_watch)

    page.get_by_label("Title").fill("Housing allocations")
    page.get_by_role("button", name="Add the dataset").click()
    expect(page).to_have_title(f"Error: Add a dataset {DASH} {SERVICE}")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(
        summary.get_by_role("link", name="Description: Enter a description of the dataset")
    ).to_have_attribute("href", "#id_abstract")
    assert_page_sound(page, page_watch)

    page.get_by_label("Description").fill("Sites allocated for housing in the local plan.")
    page.get_by_label("Theme").select_option("Housing growth")
    page.get_by_role("radio", name="Points").check()
    page.get_by_label("Attribution").fill("Organisation A")
    page.get_by_label("Lineage").fill("From the local plan's policies map.")
    page.get_by_role("button", name="Add the dataset").click()
    expect(page).to_have_title(f"Housing allocations {DASH} {SERVICE}")
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "Housing allocations has been added"
    )
    assert_page_sound(page, page_watch)

    first = tmp_path / "allocations.csv"
    first.write_text("ref,homes,Easting,Northing\nH1,120,615000,157500\nH2,45,615100,157600\n")
    expect(page.get_by_role("button", name="Upload data")).to_be_visible()
    upload(page, first, slug="housing-allocations")
    ingest_run_execute(IngestRun.objects.get().pk)
    expect(page.locator("#run-status")).to_contain_text("Published as version 1.")

    page.goto("/datasets/housing-allocations/")
    fields = page.get_by_role("table", name="Fields of Housing allocations")
    expect(fields.get_by_role("row").filter(has_text="homes")).to_contain_text("Whole number")
    assert_page_sound(page, page_watch)


# WCAG 1.4.12's test: text spacing a reader's style sheet may set, which must lose nothing.
TEXT_SPACING = """
* { line-height: 1.5 !important; letter-spacing: 0.12em !important;
    word-spacing: 0.16em !important; }
p { margin-bottom: 2em !important; }
"""


def test_long_attributions_wrap_at_320_pixels_with_text_spacing(browser, live_server, personas):
    """WCAG 1.4.10 with 1.4.12: a dataset's attribution with a long web address, in the map's
    list of sources and the footer's, wraps instead of making the page scroll sideways."""
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a, access_level="public",
        attribution="Contains data from https://www.example.gov.uk/planning/"
        "strategic-housing-land-availability-assessment-2025/sites.geojson",
    )  # fmt: skip
    version_publish_points(dataset=dataset, points={"A": (615000, 157500)})
    # The reader's style sheet is the test's own: the service's CSP would (rightly) refuse it.
    context = browser.new_context(
        base_url=live_server.url,
        bypass_csp=True,
        viewport={"width": 320, "height": 640},
        reduced_motion="reduce",
    )
    try:
        page = context.new_page()
        for path in ["/", "/map/?layers=sites&center=1.08,51.28&zoom=12"]:
            page.goto(path)
            page.add_style_tag(content=TEXT_SPACING)
            expect(page.get_by_text("strategic-housing-land").first).to_be_attached()
            assert_no_sideways_scroll(page)
    finally:
        context.close()


def test_an_upload_with_an_error_keeps_its_file_for_the_next_try(
    page: Page, page_watch: PageWatch, sites, tmp_path
):
    """A file sent with another field in error is kept: the page says so, and sending the
    form again with the field put right loads it, without choosing the file again."""
    sign_in(page, "contributor@a.example")
    chosen = tmp_path / "bad.csv"
    chosen.write_text("ref,Easting,Northing\nA,615000,157500\nB,615100,157600\n")
    page.goto("/datasets/sites/upload/")
    page.get_by_label("File", exact=True).set_input_files(str(chosen))
    page.get_by_label("Reference column").fill("")
    page.get_by_role("button", name="Upload and check").click()
    expect(page).to_have_title(f"Error: Upload data to Sites {DASH} {SERVICE}")
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Enter the name of the column holding each reference"
    )
    size = chosen.stat().st_size
    expect(page.locator("#id_file-kept")).to_have_text(
        f"bad.csv ({size} bytes) is uploaded: choose another file to replace it"
    )
    assert_page_sound(page, page_watch)

    page.get_by_label("Reference column").fill("ref")
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url("**/datasets/sites/runs/*/")
    run = ingest_run_execute(IngestRun.objects.get().pk)
    assert run.state == "published", run.error
    assert run.version.source == "bad.csv"
