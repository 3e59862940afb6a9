"""Uploading a file through the page, the load's page while it waits and after it ends, the size
limit while streaming, and the sources on a dataset's page with "Refresh now".

Most loads run as the task queue's job body (``ingest_run_execute``) in this process, which
writes its progress through a connection of its own: hence real transactions here; one goes
through a real worker process.
"""

import html
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.store import current_features
from infraplan.connectors.models import IngestRun, RunState
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.connectors.sources import source_save
from infraplan.connectors.tests.test_runs import worker_running
from infraplan.core.queue import job_wait
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db(transaction=True)

POINTS = {"S1": (615000.0, 157500.0), "S2": (615100.0, 157600.0), "S3": (615200.0, 157700.0)}


@pytest.fixture
def uploads(settings, tmp_path) -> Path:
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    return settings.UPLOAD_ROOT


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a, access_level="organisations")


def _vector(path: Path, driver: str, crs: str = "EPSG:27700") -> Path:
    wkb = shapely.to_wkb([shapely.Point(x, y) for x, y in POINTS.values()])
    pyogrio.raw.write(
        path, np.array(wkb, dtype=object), [np.array(list(POINTS), dtype=object)], ["site_ref"],
        driver=driver, geometry_type="Point", crs=crs,
        **({"layer": "allocations"} if driver == "GPKG" else {}),
    )  # fmt: skip
    return path


def _shapefile(folder: Path) -> Path:
    (folder / "shape").mkdir()
    _vector(folder / "shape" / "sites.shp", "ESRI Shapefile")
    archive = folder / "sites.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for member in (folder / "shape").iterdir():
            zipped.write(member, member.name)
    return archive


def _csv(folder: Path) -> Path:
    path = folder / "sites.csv"
    rows = [f"{reference},{x:.0f},{y:.0f},£5" for reference, (x, y) in POINTS.items()]
    path.write_bytes("\n".join(["site_ref,Easting,Northing,cost", *rows]).encode("cp1252"))
    return path


def _xlsx(folder: Path) -> Path:
    path = folder / "sites.xlsx"
    pyogrio.raw.write(
        path, None,
        [np.array(list(POINTS), dtype=object), *map(np.array, zip(*POINTS.values(), strict=True))],
        ["site_ref", "Easting", "Northing"], driver="XLSX", geometry_type=None,
    )  # fmt: skip
    return path


FILES = {
    "geojson": lambda folder: _vector(folder / "sites.geojson", "GeoJSON"),
    "gpkg": lambda folder: _vector(folder / "sites.gpkg", "GPKG"),
    "shapefile": _shapefile,
    "fgb": lambda folder: _vector(folder / "sites.fgb", "FlatGeobuf"),
    "csv": _csv,
    "xlsx": _xlsx,
}


def upload(client, path: Path, **fields):
    data = {"reference": "site_ref", "organisation": "org-a", "threshold": "5", **fields}
    data["file"] = SimpleUploadedFile(path.name, path.read_bytes())
    return client.post("/datasets/sites/upload/", data)


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_a_load_waiting_behind_another_says_which_and_until_when(
    sites, personas, client_as, uploads, tmp_path
):
    """Loads into one part of a dataset run one at a time: a later upload waiting behind a load
    that is to try again says so, with when, instead of only "waiting to start"."""
    client = client_as(personas.contributor_a)
    first = IngestRun.objects.get(pk=upload_run(client, FILES["csv"](tmp_path)))
    retry_at = timezone.now() + timedelta(minutes=10)
    IngestRun.objects.filter(pk=first.pk).update(retry_at=retry_at, error="the host is down.")
    second = upload_run(client, FILES["geojson"](tmp_path))

    waiting = text(client.get(f"/datasets/sites/runs/{second}/"))
    assert (
        f"It waits for load {first.pk} , asked for earlier, which will try again at "
        f"{timezone.localtime(retry_at):%H:%M %Z} : loads and rollbacks of the same part of a "
        "dataset run one at a time."
    ) in waiting
    assert "It waits for" not in text(client.get(f"/datasets/sites/runs/{first.pk}/"))
    ingest_run_execute(first.pk)
    assert "It waits for" not in text(client.get(f"/datasets/sites/runs/{second}/"))


def test_the_dataset_page_shows_the_loads_under_way_to_contributors(
    sites, personas, client_as, uploads, tmp_path
):
    """An upload and a rollback waiting or running are listed on the dataset page with their
    stage and rows read, linking to their own pages; viewers see none of it."""
    version_publish_points(dataset=sites, points={"OLD": (615000, 157500)})
    version_publish_points(dataset=sites, points={"NEW": (615000, 157500)})
    client = client_as(personas.contributor_a)
    run = upload_run(client, FILES["csv"](tmp_path))
    rollback = client_as(personas.data_manager_a).post("/datasets/sites/versions/1/rollback/")
    rollback_run = IngestRun.objects.get(connector_key="rollback")
    IngestRun.objects.filter(pk=run).update(
        state=RunState.RUNNING, stage="checking", rows_read=1200
    )
    page = text(client.get("/datasets/sites/"))
    assert "Loading now" in page
    assert f"Load {run} of Organisation A's features: checking the rows, 1,200 rows read" in page
    assert "Rollback to version 1 of the whole dataset: waiting to start" in page
    content = client.get("/datasets/sites/").content.decode()
    assert f'href="/datasets/sites/runs/{run}/"' in content
    assert f'href="{rollback["Location"]}"' in content
    assert "Loading now" not in text(client_as(personas.viewer_a).get("/datasets/sites/"))
    IngestRun.objects.filter(pk=run).update(state=RunState.QUEUED)
    ingest_run_execute(run)
    ingest_run_execute(rollback_run.pk)
    assert "Loading now" not in text(client.get("/datasets/sites/"))


def upload_run(client, path: Path) -> int:
    response = upload(client, path)
    assert response.status_code == 302
    return int(response["Location"].rstrip("/").rsplit("/", 1)[1])


@pytest.mark.parametrize("kind", list(FILES))
def test_each_format_uploads_and_publishes(kind, sites, personas, client_as, uploads, tmp_path):
    path = FILES[kind](tmp_path)
    client = client_as(personas.contributor_a)
    extra = {"layer": "allocations"} if kind == "gpkg" else {}
    response = upload(client, path, **extra)
    run = IngestRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/datasets/sites/runs/{run.pk}/"
    # Kept in private storage, never under static or media files.
    stored = Path(run.config["path"])
    assert stored.is_relative_to(uploads) and stored.read_bytes() == path.read_bytes()
    assert run.job_id and run.organisation == personas.organisation_a
    assert run.mapping["reference"] == "site_ref" and run.mapping["max_invalid_share"] == 0.05
    waiting = text(client.get(response["Location"]))
    assert "The load is waiting to start." in waiting and "Refresh" in waiting

    run = ingest_run_execute(run.pk)
    assert run.state == RunState.PUBLISHED, run.error
    assert sorted(current_features(sites).values_list("reference", flat=True)) == list(POINTS)
    assert not stored.parent.exists()  # loaded: the stored file is deleted
    assert uploads.exists()  # but only its own folder
    done = text(client.get(response["Location"]))
    assert "Published as version 1 ." in done and "3 added, 0 changed, 0 removed" in done
    assert "Rows read 3" in done


def test_columns_a_shapefile_cut_short_are_said_and_renamed_on_the_upload_page(
    personas, client_as, uploads, tmp_path
):
    """A zipped Shapefile cuts its column names to ten characters: the load published every
    site without its address and said "No problems were found". The report now names the
    fields no column fills and the columns that are no field, and the upload renames them."""
    dataset_make(
        slug="sites", owner=personas.organisation_a, access_level="organisations",
        field_schema=[{"name": "site-address", "type": "string"},
                      {"name": "hectares", "type": "number"}],
    )  # fmt: skip
    path = tmp_path / "sites.csv"
    path.write_text("site_ref,Easting,Northing,site-addre,hectares\nS1,615000,157500,Mill Lane,2\n")
    client = client_as(personas.contributor_a)

    upload(client, path)
    first = ingest_run_execute(IngestRun.objects.latest("pk").pk)
    page = html.unescape(text(client.get(f"/datasets/sites/versions/{first.version.number}/")))
    assert "No column of the source fills the dataset's field site-address: it is empty in" in page
    assert "column site-addre is not a field of this dataset" in page

    upload(client, path, renames="site-addre = site-address\n")
    second = ingest_run_execute(IngestRun.objects.latest("pk").pk)
    assert second.state == RunState.PUBLISHED and second.mapping["rename"] == {
        "site-addre": "site-address"
    }
    assert not [note for note in second.version.report["notes"] if "site-addre" in note]
    [feature] = current_features(second.dataset)
    assert feature.properties["site-address"] == "Mill Lane"
    assert "site-addre" not in feature.properties


def test_a_long_or_odd_file_name_is_kept_safe_with_its_type(
    sites, personas, client_as, uploads, tmp_path
):
    source = _csv(tmp_path)
    name = "../" + "Brownfield land register (Canterbury) " * 5 + "v2.final.csv"
    response = client_as(personas.contributor_a).post(
        "/datasets/sites/upload/",
        {"reference": "site_ref", "organisation": "org-a", "threshold": "5",
         "file": SimpleUploadedFile(name, source.read_bytes())},
    )  # fmt: skip
    assert response.status_code == 302
    stored = Path(IngestRun.objects.get().config["path"])
    assert stored.is_relative_to(uploads) and len(stored.name) <= 120
    assert stored.name.endswith(".final.csv") and " " not in stored.name
    run = ingest_run_execute(IngestRun.objects.get().pk)
    assert run.state == RunState.PUBLISHED, run.error


def test_a_rejected_upload_shows_why_and_the_problems(
    sites, personas, client_as, uploads, tmp_path
):
    version_publish_points(dataset=sites, points={"OLD": (615000, 157500)})
    path = tmp_path / "bad.csv"
    path.write_text("site_ref,Easting,Northing\nA,615000,157500\nB,=1+2,157500\n,615001,157501\n")
    client = client_as(personas.contributor_a)
    response = upload(client, path, threshold="10")
    run = ingest_run_execute(IngestRun.objects.get().pk)
    assert run.state == RunState.REJECTED
    assert not Path(run.config["path"]).exists()  # a new try is a new upload
    page = text(client.get(response["Location"]))
    assert "The load was rejected" in page
    assert "2 of 3 rows have problems (66.7%), over the 10% allowed." in page
    assert "The current version was not changed." in page
    assert "=1+2 is not a number" in page and "the reference is empty" in page
    assert "row 1 of a spreadsheet or CSV is the first row under its headings" in page
    assert sites.current_version.number == 1
    assert "Stage Stopped while checking the rows" in page and "Source bad.csv" in page
    # The problems take the page's full width, not the summary's column.
    content = client.get(response["Location"]).content.decode()
    full_width = content.index('<div class="govuk-grid-column-full">')
    assert content.index('id="run-summary"') < full_width < content.index('id="problems"')
    # The report is on the version's page too, which calls it rejected, as the load's page does.
    version_page = text(client.get(f"/datasets/sites/versions/{run.version.number}/"))
    assert "is not a number" in version_page
    assert "State Rejected" in version_page and "Rows with problems 2" in version_page
    assert "Rejected" in text(client.get("/datasets/sites/"))


def test_a_file_that_would_empty_the_map_is_rejected_unless_the_page_allows_it(
    sites, personas, client_as, uploads, tmp_path
):
    points = {f"S{n}": (615000 + n, 157500) for n in range(12)}
    version_publish_points(dataset=sites, points=points)
    path = tmp_path / "one.csv"
    path.write_text("site_ref,Easting,Northing\nS1,615001,157500\n")
    client = client_as(personas.contributor_a)
    page = text(client.get("/datasets/sites/upload/"))
    assert "Allow it to remove more than half of the current features" in page

    response = upload(client, path)
    run = ingest_run_execute(IngestRun.objects.get().pk)

    assert run.state == RunState.REJECTED
    assert "This load would remove 11 of the 12 current features (92%)" in text(
        client.get(response["Location"])
    )
    assert current_features(sites).count() == 12
    response = upload(client, path, large_removal="on")
    run = ingest_run_execute(IngestRun.objects.latest("pk").pk)
    assert run.state == RunState.PUBLISHED and current_features(sites).count() == 1
    assert run.mapping["allow_large_removal"] is True


def test_a_file_over_the_size_limit_is_stopped_with_nothing_kept(
    sites, personas, client_as, uploads, tmp_path, settings
):
    settings.UPLOAD_MAX_BYTES = 2048
    path = tmp_path / "big.csv"
    path.write_text("site_ref,Easting,Northing\n" + "A,615000,157500\n" * 400)
    response = upload(client_as(personas.contributor_a), path)
    page = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in page and "The file must be smaller than 2 KB" in page
    assert "<title>Error: Upload data to Sites" in page
    assert not IngestRun.objects.exists()
    assert not uploads.exists() or not any(uploads.rglob("*.csv"))


def test_the_size_limit_counts_every_file_in_the_request(
    sites, personas, client_as, uploads, tmp_path, settings
):
    # Each file is under the limit; together they are over it. Counting each alone would let
    # one request put a hundred times the limit on the server's disk.
    settings.UPLOAD_MAX_BYTES = 2048
    path = tmp_path / "sites.csv"
    path.write_text("site_ref,Easting,Northing\n" + "A,615000,157500\n" * 80)
    extra = {
        f"extra{number}": SimpleUploadedFile(f"{number}.csv", b"x" * 1500) for number in range(3)
    }
    response = upload(client_as(personas.contributor_a), path, **extra)
    assert "The file must be smaller than 2 KB" in response.content.decode()
    assert not IngestRun.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"file": None}, "Choose a file to upload"),
        ({"empty": True}, "The file is empty: choose a file with data in it"),
        ({"reference": ""}, "Enter the name of the column holding each reference"),
        ({"threshold": "many"}, "Enter the rejection threshold as a number from 0 to 100"),
        ({"threshold": "101"}, "The rejection threshold must be 100 or less"),
        ({"organisation": "org-b"}, "Select a valid choice."),
        ({"renames": "site-addre site-address"}, "Line 1: write the file&#x27;s column, then ="),
        ({"renames": "a = x\n\nb = x"}, "Line 3: two columns are renamed to x"),
        ({"renames": "a = x\na = y"}, "Line 2: a is renamed twice"),
    ],
)
def test_bad_form_input_is_explained_and_nothing_is_loaded(
    fields, message, sites, personas, client_as, uploads, tmp_path
):
    """Nothing is loaded; a good file sent with another field's error is kept for the next try
    (``test_uploads_kept``), and nothing else."""
    data = {"reference": "site_ref", "organisation": "org-a", "threshold": "5"}
    file_good = "file" not in fields and not fields.get("empty")
    if "file" not in fields:
        content = b"" if fields.pop("empty", False) else _csv(tmp_path).read_bytes()
        data["file"] = SimpleUploadedFile("sites.csv", content)
    else:
        fields = {}
    data.update(fields)
    response = client_as(personas.contributor_a).post("/datasets/sites/upload/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not IngestRun.objects.exists()
    stored = sorted(path.relative_to(uploads).parts[0] for path in uploads.rglob("*.csv"))
    assert stored == (["kept"] if file_good else [])


def test_organisation_choices_follow_the_person(sites, personas, client_as):
    sites.contributing_organisations.add(personas.organisation_b)
    contributor = client_as(personas.contributor_a).get("/datasets/sites/upload/")
    options = re.findall(r'<option value="([^"]*)"', contributor.content.decode())
    assert options == ["org-a"]
    manager = client_as(personas.data_manager_a).get("/datasets/sites/upload/")
    assert re.findall(r'<option value="([^"]*)"', manager.content.decode()) == ["org-a", "*"]
    admin = client_as(personas.platform_admin).get("/datasets/sites/upload/")
    options = re.findall(r'<option value="([^"]*)"', admin.content.decode())
    assert sorted(options) == ["*", "org-a", "org-b"]


def test_run_page_is_for_contributors_of_that_dataset(
    sites, personas, client_as, uploads, tmp_path
):
    upload(client_as(personas.contributor_a), _csv(tmp_path))
    run = IngestRun.objects.get()
    url = f"/datasets/sites/runs/{run.pk}/"
    other = dataset_make(slug="other", owner=personas.organisation_a)
    for persona, status in [("viewer_a", 404), ("member_b", 404), ("data_manager_a", 200)]:
        assert client_as(getattr(personas, persona)).get(url).status_code == status, persona
        response = client_as(getattr(personas, persona)).get(f"{url}status.json")
        assert response.status_code == status, persona
    assert response.json() == {
        "state": "queued", "state_label": "Waiting to start", "stage": "",
        "stage_label": "Not started", "rows_read": 0, "active": True, "retry_at": None,
    }  # fmt: skip
    page = client_as(personas.data_manager_a).get(url).content.decode()
    assert f'data-status-url="{url}status.json"' in page and "js/run-status." in page
    # An attempt that failed and waits to be tried again is said to, with when.
    retry_at = timezone.now() + timedelta(minutes=2)
    IngestRun.objects.filter(pk=run.pk).update(attempts=1, retry_at=retry_at, error="Gone.")
    waiting = client_as(personas.data_manager_a).get(f"{url}status.json").json()
    assert (waiting["state_label"], waiting["retry_at"]) == (
        "Waiting to try again",
        retry_at.isoformat(),
    )
    page = client_as(personas.data_manager_a).get(url).content.decode()
    assert f'data-retry-at="{retry_at.isoformat()}"' in page  # what the script compares
    assert "The load is waiting to try again." in page
    IngestRun.objects.filter(pk=run.pk).update(attempts=0, retry_at=None, error="")
    ingest_run_execute(run.pk)
    response = client_as(personas.data_manager_a).get(f"{url}status.json")
    assert response.json()["active"] is False and response.json()["rows_read"] == 3
    # A finished load's page has nothing to follow.
    assert "js/run-status." not in client_as(personas.data_manager_a).get(url).content.decode()
    # A run is found only under its own dataset.
    assert client_as(personas.data_manager_a).get(
        f"/datasets/{other.slug}/runs/{run.pk}/"
    ).status_code == 404  # fmt: skip


def test_sources_on_the_dataset_page_and_refresh_now(sites, personas, client_as, tmp_path):
    path = _csv(tmp_path)
    source = source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="upload",
        config={"path": str(path)}, mapping={"reference": "site_ref"}, schedule="weekly",
    )  # fmt: skip
    viewer_page = client_as(personas.viewer_a).get("/datasets/sites/").content.decode()
    assert 'id="sources"' not in viewer_page
    contributor_page = text(client_as(personas.contributor_a).get("/datasets/sites/"))
    assert (
        "Sources" in contributor_page and "Every week, on Mondays at 2am (UTC)" in contributor_page
    )
    assert "Never loaded" in contributor_page and "Refresh now" not in contributor_page
    url = f"/datasets/sites/sources/{source.pk}/refresh/"
    assert client_as(personas.contributor_a).post(url).status_code == 404
    assert not IngestRun.objects.exists()

    manager = client_as(personas.data_manager_a)
    response = manager.post(url)
    run = IngestRun.objects.get()
    assert response["Location"] == f"/datasets/sites/runs/{run.pk}/"
    assert run.source == source and run.requested_by == personas.data_manager_a
    assert AuditEntry.objects.filter(action="ingest.request", target_id=str(run.pk)).exists()
    # Asked again while the first is waiting: refused, not queued twice.
    again = manager.post(url, follow=True)
    assert "That source is already loading" in text(again)
    assert IngestRun.objects.count() == 1
    # After a permanent failure, the error is on the dataset page.
    path.write_text("site_ref,Easting,Northing\n")
    run = ingest_run_execute(run.pk)
    assert run.state in (RunState.REJECTED, RunState.FAILED)
    page = text(manager.get("/datasets/sites/"))
    assert run.get_state_display() in page and run.error in page
    # And said at the top of the page, for those who load into it, with a link to the load.
    warning = page.split("Warning")[1].split("Sources")[0]
    assert "The last load of a source did not publish: file upload" in warning
    # Of a dataset with nothing published, no current version is said to be as it was.
    assert "Nothing is published yet; see Sources" in page
    assert "The current version is as it was" not in page
    assert (
        f'href="/datasets/sites/runs/{run.pk}/"' in manager.get("/datasets/sites/").content.decode()
    )
    assert (
        'id="sources-failing"'
        not in client_as(personas.viewer_a).get("/datasets/sites/").content.decode()
    )


def test_a_data_manager_may_replace_the_whole_dataset(
    sites, personas, client_as, uploads, tmp_path
):
    response = upload(client_as(personas.data_manager_a), _csv(tmp_path), organisation="*")
    assert response.status_code == 302
    assert IngestRun.objects.get().organisation is None
    # A contributor may not.
    response = upload(client_as(personas.contributor_a), _csv(tmp_path), organisation="*")
    assert "Select a valid choice." in response.content.decode()
    assert IngestRun.objects.count() == 1


def test_an_upload_is_published_by_a_real_worker(sites, personas, client_as, uploads, tmp_path):
    client = client_as(personas.contributor_a)
    with worker_running(tmp_path / "worker.log"):
        response = upload(client, FILES["gpkg"](tmp_path), layer="allocations")
        run = IngestRun.objects.get()
        assert job_wait(run.job_id, timeout=120) == "succeeded"
    page = text(client.get(response["Location"]))
    assert "Published as version 1 ." in page and "3 added" in page
    assert sorted(current_features(sites).values_list("reference", flat=True)) == list(POINTS)


def test_an_upload_that_cannot_be_read_shows_that_it_failed(
    sites, personas, client_as, uploads, tmp_path
):
    path = tmp_path / "no-coordinates.csv"
    path.write_text("name,colour\nA,red\n")
    client = client_as(personas.contributor_a)
    response = upload(client, path)
    run = ingest_run_execute(IngestRun.objects.get().pk)
    assert run.state == RunState.FAILED
    page = text(client.get(response["Location"]))
    assert "The load failed" in page and "The table has no coordinate columns" in page
    # A first load: there is no current version to keep.
    assert "Nothing of Sites is published yet: it has no current version." in page
    assert "The current version was not changed." not in page
    assert "State Failed" in text(client.get(f"/datasets/sites/versions/{run.version.number}/"))


def test_a_list_without_geometry_is_uploaded_as_a_table(personas, client_as, uploads, tmp_path):
    """The page tells a dataset without geometry that no coordinate columns are needed, and a
    table of values uploaded there is published."""
    dataset_make(slug="sites", owner=personas.organisation_a, geometry_type="none")
    client = client_as(personas.data_manager_a)
    page = text(client.get("/datasets/sites/upload/"))
    assert "This dataset has no geometry: no coordinate columns are needed" in page
    assert "coordinate columns (such as Easting and Northing" not in page
    path = tmp_path / "areas.csv"
    path.write_text("site_ref,name\nCA1,Barton\nCA2,Wincheap\n", encoding="utf-8")
    assert upload(client, path).status_code == 302
    run = ingest_run_execute(IngestRun.objects.get().pk)
    assert run.state == RunState.PUBLISHED, run.error
    features = current_features(run.dataset).order_by("reference")
    assert list(features.values_list("reference", "properties__name")) == [
        ("CA1", "Barton"), ("CA2", "Wincheap")
    ]  # fmt: skip
