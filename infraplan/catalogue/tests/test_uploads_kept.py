"""The upload form helping a data manager through: a file sent with an error elsewhere on the
form is kept for the next try (for that person and dataset, a day at most), the last load's
reference column and renames are offered again, a load whose reference column differs from the
last one's is told so, and the report names rows by their references too."""

import csv
import html
import io
import os
import re
import time
from pathlib import Path

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from procrastinate.contrib.django import app

from infraplan.catalogue import uploads as uploads_module
from infraplan.catalogue.store import current_features
from infraplan.catalogue.tests.test_upload_pages import POINTS, _csv, text
from infraplan.catalogue.uploads import upload_keep, uploads_kept_sweep
from infraplan.connectors.models import IngestRun, RunState
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {"organisation": "org-a", "threshold": "5"}


@pytest.fixture
def uploads(settings, tmp_path) -> Path:
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    return settings.UPLOAD_ROOT


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a, access_level="organisations")


def _kept_token(response) -> str:
    (token,) = re.findall(
        r'<input type="hidden" name="kept_file" value="([^"]+)">', response.content.decode()
    )
    return token


def _post(client, slug: str = "sites", path: Path | None = None, **fields):
    data = {**FORM, **fields}
    if path is not None:
        data["file"] = SimpleUploadedFile(path.name, path.read_bytes())
    return client.post(f"/datasets/{slug}/upload/", data)


def test_a_file_sent_with_another_fields_error_is_kept_and_loaded_when_sent_again(
    sites, personas, client_as, uploads, tmp_path
):
    path = _csv(tmp_path)
    client = client_as(personas.contributor_a)
    first = _post(client, path=path, reference="")
    page = text(first)
    assert "Enter the name of the column holding each reference" in page
    assert (
        f"sites.csv ({path.stat().st_size} bytes) is uploaded: choose another file to replace it"
        in page
    )
    token = _kept_token(first)
    # The form carries a signed token, never a path on the server.
    assert set(signing.loads(token, salt=uploads_module._KEPT_SALT)) == {"token", "user", "dataset"}
    assert str(uploads) not in signing.loads(token, salt=uploads_module._KEPT_SALT)["token"]
    assert 'aria-describedby="id_file-hint id_file-kept"' in first.content.decode()
    assert not IngestRun.objects.exists()

    second = _post(client, reference="site_ref", kept_file=token)
    assert second.status_code == 302
    run = IngestRun.objects.get()
    stored = Path(run.config["path"])
    assert stored.is_relative_to(uploads / "web") and stored.read_bytes() == path.read_bytes()
    assert ingest_run_execute(run.pk).state == RunState.PUBLISHED
    assert sorted(current_features(sites).values_list("reference", flat=True)) == list(POINTS)

    # Loaded, the kept file is no longer there to load twice.
    again = text(_post(client, reference="site_ref", kept_file=token))
    assert "Choose the file again: the file you chose earlier is no longer kept" in again
    assert IngestRun.objects.count() == 1


def test_a_new_file_replaces_the_kept_one(sites, personas, client_as, uploads, tmp_path):
    client = client_as(personas.contributor_a)
    first_path = _csv(tmp_path)
    token = _kept_token(_post(client, path=first_path, reference=""))
    second_path = tmp_path / "other.csv"
    second_path.write_text("site_ref,Easting,Northing\nN1,615000,157500\n")
    response = _post(client, path=second_path, reference="", kept_file=token)
    assert "other.csv (" in text(response) and "sites.csv (" not in text(response)
    assert [kept.name for kept in (uploads / "kept").rglob("*.csv")] == ["other.csv"]
    assert _post(client, reference="site_ref", kept_file=_kept_token(response)).status_code == 302
    assert Path(IngestRun.objects.get().config["path"]).name == "other.csv"


def test_a_kept_file_is_refused_to_another_person_another_dataset_or_a_forged_token(
    sites, personas, client_as, uploads, tmp_path
):
    dataset_make(slug="other", owner=personas.organisation_a, access_level="organisations")
    token = _kept_token(_post(client_as(personas.contributor_a), path=_csv(tmp_path), reference=""))
    someone_else = client_as(personas.data_manager_a)  # who may load into it
    cases = [
        (someone_else, "sites", token, "the kept file the form named was chosen by someone else"),
        (client_as(personas.contributor_a), "other", token, "the kept file the form named was "
         "chosen by someone else or for another dataset"),
        (client_as(personas.contributor_a), "sites", token[:-2] + "xx", "the form named a kept "
         "file the platform did not give it"),
    ]  # fmt: skip
    for client, slug, sent, message in cases:
        response = _post(client, slug, reference="site_ref", kept_file=sent)
        page = text(response)
        assert f"Choose the file again: {message}" in page, slug
        assert "There is a problem" in page and 'href="#id_file"' in response.content.decode()
    assert not IngestRun.objects.exists()


def test_an_expired_kept_file_is_refused(
    sites, personas, client_as, uploads, tmp_path, monkeypatch
):
    two_days_ago = signing.b62_encode(int(time.time()) - 2 * 24 * 3600)
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: two_days_ago)
    kept = upload_keep(
        SimpleUploadedFile("sites.csv", _csv(tmp_path).read_bytes()),
        user_id=personas.contributor_a.pk, dataset_id=sites.pk,
    )  # fmt: skip
    monkeypatch.undo()
    page = text(
        _post(client_as(personas.contributor_a), reference="site_ref", kept_file=kept.signed)
    )
    assert "Choose the file again: the file you chose earlier is kept for a day only" in page
    assert not IngestRun.objects.exists()


def test_kept_files_nobody_came_back_for_are_deleted_after_a_day(
    sites, personas, uploads, tmp_path
):
    def keep(name: str):
        upload = SimpleUploadedFile(name, b"site_ref,Easting,Northing\nA,615000,157500\n")
        return upload_keep(upload, user_id=personas.contributor_a.pk, dataset_id=sites.pk)

    old, new = keep("old.csv"), keep("new.csv")
    day_ago = time.time() - 25 * 3600
    os.utime(old.path.parent, (day_ago, day_ago))
    assert uploads_kept_sweep() == 1
    assert not old.path.parent.exists() and new.path.exists()
    # The sweep is a periodic task of the catalogue.
    (periodic,) = [
        task for task in app.periodic_registry.periodic_tasks.values()
        if task.task.name == "catalogue.uploads_kept_sweep"
    ]  # fmt: skip
    assert periodic.cron == "23 * * * *"
    os.utime(new.path.parent, (day_ago, day_ago))
    assert periodic.task(timestamp=int(time.time())) == 1
    assert not (uploads / "kept").exists() or not any((uploads / "kept").iterdir())


def _input(html: str, name: str) -> str:
    (tag,) = re.findall(rf'<input[^>]*name="{name}"[^>]*>', html)
    return tag


def test_the_last_loads_reference_renames_and_threshold_are_offered_again(
    sites, personas, client_as, uploads, tmp_path
):
    client = client_as(personas.contributor_a)
    blank = client.get("/datasets/sites/upload/").content.decode()
    assert 'value="' not in _input(blank, "reference")
    path = tmp_path / "sites.csv"
    path.write_text("site_ref,Easting,Northing,addr\nS1,615000,157500,Mill Lane\n")
    _post(client, path=path, reference="site_ref", renames="addr = address", threshold="2.5")
    assert ingest_run_execute(IngestRun.objects.get().pk).state == RunState.PUBLISHED
    form = client.get("/datasets/sites/upload/").content.decode()
    assert 'value="site_ref"' in _input(form, "reference")
    assert ">addr = address</textarea>" in form
    assert 'value="2.5"' in _input(form, "threshold")
    assert "checked" not in _input(form, "large_removal")  # allowed load by load only


def test_a_large_removal_names_a_reference_column_other_than_the_last_loads(
    sites, personas, client_as, uploads, tmp_path
):
    points = {f"S{n}": (615000 + n, 157500) for n in range(12)}
    first = tmp_path / "sites.csv"
    first.write_text(
        "site_ref,Easting,Northing\n"
        + "".join(f"{ref},{x},{y}\n" for ref, (x, y) in points.items())
    )
    client = client_as(personas.contributor_a)
    _post(client, path=first, reference="site_ref")
    assert ingest_run_execute(IngestRun.objects.get().pk).state == RunState.PUBLISHED
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(
        "site_ref,Site Name,Easting,Northing\n"
        + "".join(f"{ref},Site {ref},{x},{y}\n" for ref, (x, y) in points.items())
    )
    response = _post(client, path=renamed, reference="Site Name")
    run = ingest_run_execute(IngestRun.objects.latest("pk").pk)
    assert run.state == RunState.REJECTED
    page = html.unescape(text(client.get(response["Location"])))
    assert "This load would remove 12 of the 12 current features (100%)" in page
    assert "The last load used the reference column 'site_ref'; this one uses 'Site Name'" in page
    # With the same column, the guard says nothing of it.
    _post(client, path=first, reference="site_ref")
    assert ingest_run_execute(IngestRun.objects.latest("pk").pk).state == RunState.PUBLISHED


def test_the_report_names_each_problem_row_by_its_reference(
    sites, personas, client_as, uploads, tmp_path
):
    path = tmp_path / "bad.csv"
    path.write_text("site_ref,Easting,Northing\nA,615000,157500\nB2,=1+2,157500\n")
    client = client_as(personas.contributor_a)
    response = _post(client, path=path, reference="site_ref", threshold="60")
    run = ingest_run_execute(IngestRun.objects.get().pk)
    assert run.state == RunState.PUBLISHED, run.error
    number = run.version.number
    content = client.get(f"/datasets/sites/versions/{number}/").content.decode()
    assert re.search(r'<th scope="col" class="govuk-table__header govuk-table__header--numeric">Row</th>\s*'
                     r'<th scope="col" class="govuk-table__header">Reference</th>', content)  # fmt: skip
    assert re.search(r'numeric">2</td>\s*<td class="govuk-table__cell">B2</td>', content)
    assert re.search(
        r'numeric">2</td>\s*<td class="govuk-table__cell">B2</td>',
        client.get(response["Location"]).content.decode(),
    )
    report = (
        client.get(f"/datasets/sites/versions/{number}/report.csv").getvalue().decode("utf-8-sig")
    )
    rows = list(csv.reader(io.StringIO(report)))
    assert rows[0] == ["row", "reference", "field", "value", "problem"]
    assert rows[1][:3] == ["2", "B2", "Easting"]
