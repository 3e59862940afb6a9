"""The pages of a dataset's history: a version and its report (page and CSV), the changes
between two versions, rollback, and the dataset page as of a date. Uploads and their runs are in
test_upload_pages.py."""

import csv
import html
import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from infraplan.accounts.models import Membership, Role, User
from infraplan.audit.models import AuditEntry
from infraplan.catalogue.models import DatasetVersion
from infraplan.catalogue.publishing import version_fail, version_start
from infraplan.catalogue.views import versions as version_views
from infraplan.connectors.models import IngestRun
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db

PROBLEMS = [
    {"row": 2, "field": "Easting", "value": "=HYPERLINK(\"http://x\")", "problem": "is not a number"},
    {"row": 3, "field": "name", "value": "+44 1622", "problem": "is required"},
    {"row": 4, "field": "reference", "value": "-5", "problem": "reference '-5' is also on row 1"},
    {"row": 5, "field": "geometry", "value": "@SUM(A1)", "problem": "lies outside Great Britain"},
    {"row": 6, "field": "status", "value": "plain", "problem": "is not one of: open, closed"},
]  # fmt: skip


@pytest.fixture
def sites(personas):
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a, access_level="organisations"
    )
    version_publish_points(
        dataset=dataset,
        points={"A": (615000, 157500), "B": (615100, 157500)},
        properties={"A": {"status": "open"}, "B": {"status": "open"}},
    )
    return dataset


@pytest.fixture
def failed(sites, personas):
    """Version 2 of ``sites``: rejected, with problems whose values look like formulas."""
    draft = version_start(actor=personas.contributor_a, dataset=sites, source="bad.csv")
    return version_fail(
        actor=personas.contributor_a,
        version=draft,
        report={
            "error": "5 of 6 rows have problems",
            "rows_read": 6,
            "problems": PROBLEMS,
            "row_references": {"3": "S3"},
        },
    )


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def test_version_page_shows_who_when_counts_and_the_problems(failed, personas, client_as):
    page = text(client_as(personas.contributor_a).get("/datasets/sites/versions/2/"))
    assert "Version 2" in page and "Failed" in page
    assert "Why it was not published 5 of 6 rows have problems" in page
    assert "Rows read 6" in page and "Source bad.csv" in page
    assert "is not one of: open, closed" in page
    assert "Loaded by contributor" in page
    page = text(client_as(personas.viewer_a).get("/datasets/sites/versions/1/"))
    assert "Version 1" in page and "Loaded by" not in page  # viewers are not told who loads
    # Outsiders cannot tell the dataset exists.
    assert client_as(personas.member_b).get("/datasets/sites/versions/2/").status_code == 404
    assert client_as(personas.viewer_a).get("/datasets/sites/versions/9/").status_code == 404


def test_a_load_never_published_is_seen_only_by_those_who_load_into_the_dataset(
    failed, sites, personas, client_as
):
    """A rejected load holds what was never published: its file's name, and in its report the
    values of the rows that did not pass. On a public dataset anyone could read them."""
    sites.access_level = "public"
    sites.save()
    for user in (None, personas.viewer_a):
        client = client_as(user)
        for url in ("/datasets/sites/versions/2/", "/datasets/sites/versions/2/report.csv"):
            assert client.get(url).status_code == 404, (user, url)
        page = text(client.get("/datasets/sites/"))
        assert "bad.csv" not in page and "Version 1" in page
    page = text(client_as(personas.contributor_a).get("/datasets/sites/"))
    assert "bad.csv" in page


def test_a_load_that_failed_before_its_rows_were_checked_does_not_say_no_problems(
    sites, personas, client_as
):
    draft = version_start(actor=personas.contributor_a, dataset=sites, source="cut.geojson")
    version_fail(actor=None, version=draft, report={"error": "The file is damaged or incomplete"})
    page = text(client_as(personas.contributor_a).get("/datasets/sites/versions/2/"))
    assert "Why it was not published The file is damaged or incomplete" in page
    assert "No problems were found" not in page
    assert "the load stopped before its rows were checked" in page


@pytest.mark.parametrize(
    ("report", "said"),
    [
        ({"geometries_repaired": 1, "repaired_references": ["S7"]}, "Geometries repaired 1: S7 "),
        (
            {"geometries_repaired": 12, "repaired_references": [f"R{n}" for n in range(10)]},
            "Geometries repaired 12: R0, R1, R2, R3, R4, R5, R6, R7, R8, R9 and 2 more ",
        ),
        ({"geometries_repaired": 0}, "Geometries repaired 0 "),
        ({}, "Geometries repaired Not recorded "),
    ],
)
def test_the_features_whose_geometry_was_repaired_are_named(
    sites, personas, client_as, report, said
):
    draft = version_start(actor=None, dataset=sites, source="areas.gpkg")
    version_fail(actor=None, version=draft, report=report)
    assert said in text(client_as(personas.contributor_a).get("/datasets/sites/versions/2/"))


def test_problems_are_paged(sites, personas, client_as):
    problems = [
        {"row": n, "field": "name", "value": "", "problem": "is required"} for n in range(1, 61)
    ]
    draft = version_start(actor=None, dataset=sites, source="many.csv")
    version_fail(actor=None, version=draft, report={"problems": problems, "problem_count": 61})
    client = client_as(personas.contributor_a)
    first = client.get("/datasets/sites/versions/2/").content.decode()
    assert first.count('<td class="govuk-table__cell govuk-table__cell--numeric">') == 50
    assert (
        "61 problems found. The report and its CSV list the first 60 only: to see the rest, "
        "fix those in the file and load it again, and that load's report lists the problems left"
    ) in html.unescape(re.sub(r"\s+", " ", first))
    assert 'href="?page=2"' in first
    second = client.get("/datasets/sites/versions/2/?page=2").content.decode()
    rows = re.findall(r'govuk-table__cell--numeric">(\d+)</td>', second)
    assert rows == [str(n) for n in range(51, 61)]
    report = client.get("/datasets/sites/versions/2/report.csv").getvalue().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(report)))
    assert len(rows) == 62 and rows[60] == ["60", "", "name", "", "is required"]
    assert rows[61] == [
        "",
        "",
        "",
        "",
        "and 1 more problem, not listed: the report keeps the first 60",
    ]


def test_report_csv_is_the_problems_with_formulas_defused(failed, personas, client_as):
    response = client_as(personas.contributor_a).get("/datasets/sites/versions/2/report.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="sites-version-2-report.csv"' in response["Content-Disposition"]
    content = response.getvalue()
    assert content.startswith("\ufeff".encode())  # for Excel to read it as UTF-8
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows == [
        ["row", "reference", "field", "value", "problem"],
        ["2", "", "Easting", '\'=HYPERLINK("http://x")', "is not a number"],
        ["3", "S3", "name", "'+44 1622", "is required"],
        ["4", "", "reference", "'-5", "reference '-5' is also on row 1"],
        ["5", "", "geometry", "'@SUM(A1)", "lies outside Great Britain"],
        ["6", "", "status", "plain", "is not one of: open, closed"],
    ]
    # A restricted dataset's report leaving the service is a read on the audit log.
    assert AuditEntry.objects.filter(action="dataset.read.report").exists()
    response = client_as(personas.member_b).get("/datasets/sites/versions/2/report.csv")
    assert response.status_code == 404


def test_diff_page_lists_added_changed_and_removed(sites, personas, client_as):
    version_publish_points(
        dataset=sites,
        points={"A": (615000, 157500), "C": (615200, 157500)},
        properties={"A": {"status": "closed"}, "C": {"status": "open"}},
    )
    response = client_as(personas.viewer_a).get("/datasets/sites/versions/1/diff/2/")
    content = response.content.decode()
    page = text(response)
    assert "Changes from version 1 to version 2" in page
    assert "Added 1 Changed 1 Removed 1" in page
    added = content[content.index('id="added"') : content.index('id="changed"')]
    changed = content[content.index('id="changed"') : content.index('id="removed"')]
    removed = content[content.index('id="removed"') :]
    assert ">C<" in added and ">A<" not in added
    assert re.search(r">Organisation A</td><td[^>]*>A</td><td[^>]*><ul[^>]*>", changed)
    # Each changed field with its value before and after.
    assert (
        "<li><code>status</code>: open " in changed and "changed to</span> closed</li>" in changed
    )
    assert ">B<" in removed.split("</table>")[0]
    # Only published versions of this dataset; outsiders see nothing.
    assert client_as(personas.viewer_a).get("/datasets/sites/versions/1/diff/3/").status_code == 404
    assert client_as(personas.member_b).get("/datasets/sites/versions/1/diff/2/").status_code == 404


def test_diff_page_counts_every_change_and_lists_the_first(sites, personas, client_as, monkeypatch):
    version_publish_points(
        dataset=sites,
        points={"A": (615000, 157500), "C": (615200, 157500), "D": (615300, 157500)},
        properties={"A": {"status": "closed"}, "C": {"status": "open"}, "D": {"status": "open"}},
    )
    monkeypatch.setattr(version_views, "DIFF_ROWS_SHOWN", 1)
    with CaptureQueriesContext(connection) as queries:
        response = client_as(personas.viewer_a).get("/datasets/sites/versions/1/diff/2/")
    content = response.content.decode()
    page = text(response)
    assert "Added 2 Changed 1 Removed 1" in page
    assert "Added (2)" in page and page.count("The first 1 are listed.") == 1
    added = content[content.index('id="added"') : content.index('id="changed"')]
    assert ">C<" in added and ">D<" not in added
    # One query compares the versions, whatever their size.
    assert len([query for query in queries if "catalogue_feature" in query["sql"]]) == 1


def test_compare_form_goes_to_the_diff_in_order_or_explains(sites, personas, client_as):
    version_publish_points(dataset=sites, points={"A": (615000, 157500)})
    client = client_as(personas.viewer_a)
    detail = client.get("/datasets/sites/").content.decode()
    assert 'action="/datasets/sites/compare/"' in detail
    response = client.get("/datasets/sites/compare/?old=2&new=1")
    assert response.status_code == 302
    assert response["Location"] == "/datasets/sites/versions/1/diff/2/"
    response = client.get("/datasets/sites/compare/?old=2&new=2")
    assert response.status_code == 400
    assert "Choose two different versions to compare" in response.content.decode()
    response = client.get("/datasets/sites/compare/?old=2&new=7")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_rollback_is_for_data_managers_runs_on_the_queue_and_is_audited(sites, personas, client_as):
    version_publish_points(dataset=sites, points={"Z": (615000, 157500)})
    for persona in (personas.viewer_a, personas.contributor_a, personas.member_b):
        client = client_as(persona)
        assert client.get("/datasets/sites/versions/1/rollback/").status_code == 404
        assert client.post("/datasets/sites/versions/1/rollback/").status_code == 404
    assert sites.current_version.number == 2 and not IngestRun.objects.exists()
    manager = client_as(personas.data_manager_a)
    version_page = text(manager.get("/datasets/sites/versions/1/"))
    assert "Roll back to version 1" in version_page
    confirm = text(manager.get("/datasets/sites/versions/1/rollback/"))
    assert "This publishes the features of version 1" in confirm
    assert "It restores the whole dataset, every organisation's features" in confirm
    assert "What to restore" not in confirm  # nothing to choose: no other organisation's part
    response = manager.post("/datasets/sites/versions/1/rollback/")
    # Queued as a run of its own, not done in the request: nothing is published yet.
    run = IngestRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/datasets/sites/runs/{run.pk}/"
    assert run.is_rollback and run.state == "queued" and run.job_id is not None
    assert sites.current_version.number == 2
    waiting = text(manager.get(response["Location"]))
    assert "Roll back to version 1" in waiting and "The rollback is waiting to start." in waiting
    # Asked again while it waits: the same run, not a second one.
    assert manager.post("/datasets/sites/versions/1/rollback/")["Location"] == response["Location"]
    assert IngestRun.objects.count() == 1
    requested = AuditEntry.objects.get(action="rollback.request")
    assert requested.actor_id == personas.data_manager_a.pk
    assert requested.after == {"dataset": "sites", "version": 1, "organisation": None}

    ingest_run_execute(run.pk)
    current = sites.current_version
    assert current.number == 3 and current.rolled_back_to.number == 1
    assert sorted(current.dataset.features.filter(valid_to__isnull=True).values_list(
        "reference", flat=True)) == ["A", "B"]  # fmt: skip
    entry = AuditEntry.objects.get(action="version.publish", target_id=str(current.pk))
    assert entry.actor_id == personas.data_manager_a.pk
    assert entry.note == "Rollback to version 1"
    done = text(manager.get(response["Location"]))
    assert "Published as version 3 : it restores version 1's features." in done
    page = text(manager.get("/datasets/sites/versions/3/"))
    assert "Restores Version 1" in page and "Current" in page
    # The current version cannot be rolled back to: refused, nothing asked for.
    response = manager.post("/datasets/sites/versions/3/rollback/", follow=True)
    assert "Version 3 is already the current version." in text(response)
    assert sites.versions.count() == 3 and IngestRun.objects.count() == 1


def test_an_earlier_version_of_a_public_dataset_is_shown_to_everyone_without_a_rollback(
    sites, personas, client_as
):
    version_publish_points(dataset=sites, points={"Z": (615000, 157500)})
    sites.access_level = "public"
    sites.save()
    for user in (None, personas.member_b, personas.viewer_a):
        page = text(client_as(user).get("/datasets/sites/versions/1/"))
        assert "Version 1" in page and "Roll back" not in page
    assert client_as(None).get("/datasets/sites/versions/1/rollback/").status_code == 302


def contributing_data_manager(dataset, organisation) -> User:
    """A data manager of ``organisation``, which contributes its own part of ``dataset``."""
    dataset.shared_with.add(organisation)
    dataset.contributing_organisations.add(organisation)
    manager = User.objects.create_user(email="data-manager@b.example", password="not-used-1")
    Membership.objects.create(user=manager, organisation=organisation, role=Role.DATA_MANAGER)
    return manager


def test_the_versions_of_a_dataset_several_organisations_publish_say_whose_part(
    sites, personas, client_as
):
    """A part's load counts only that part's features: the table says whose they were."""
    b = personas.organisation_b
    contributing_data_manager(sites, b)
    version_publish_points(dataset=sites, organisation=b, points={"b1": (615300, 157500)})
    content = client_as(personas.viewer_a).get("/datasets/sites/").content.decode()
    table = content.split('id="versions"')[1].split("</table>")[0]
    assert "Features of" in table
    assert f'<td class="govuk-table__cell">{b.name}</td>' in table
    assert '<td class="govuk-table__cell">Every organisation</td>' in table
    only_a = dataset_make(slug="only-a", owner=personas.organisation_a)
    version_publish_points(dataset=only_a, points={"a1": (615300, 157500)})
    content = client_as(personas.viewer_a).get("/datasets/only-a/").content.decode()
    assert "Features of" not in content  # one publisher: nothing to tell apart


def test_a_contributing_councils_data_manager_rolls_back_only_its_own_part(
    sites, personas, client_as
):
    """Organisation B contributes its own part of A's dataset. B's data manager restores B's
    part as it was in an earlier version; A's features, changed since, stay as they are now.
    B may not restore A's part nor the whole dataset; A's data manager chooses what to restore."""
    a, b = personas.organisation_a, personas.organisation_b
    b_manager = contributing_data_manager(sites, b)
    version_publish_points(dataset=sites, organisation=b, points={"b1": (615300, 157500)})  # 2
    version_publish_points(dataset=sites, organisation=b, points={"b2": (615400, 157500)})  # 3
    version_publish_points(dataset=sites, organisation=a, points={"a9": (615500, 157500)})  # 4
    client = client_as(b_manager)
    assert "Roll back to version 2" in text(client.get("/datasets/sites/versions/2/"))
    confirm = text(client.get("/datasets/sites/versions/2/rollback/"))
    assert f"It restores {b.name}'s features as they were in version 2." in confirm
    assert "Other organisations' features stay as they are now." in confirm
    # Only the later versions that changed B's part are undone; A's load is not listed.
    assert f"Version 3 : {b.name}'s features" in confirm and "Version 4 :" not in confirm
    # B's manager cannot ask for A's part (nor the whole dataset): B's part is what is restored.
    for part in (a.slug, "*"):
        refused = client.post("/datasets/sites/versions/2/rollback/", {"part": part})
        assert refused.status_code == 200 and not IngestRun.objects.exists()
    response = client.post("/datasets/sites/versions/2/rollback/")
    run = IngestRun.objects.get()
    assert response["Location"] == f"/datasets/sites/runs/{run.pk}/"
    assert run.organisation == b and run.rollback_to == 2
    ingest_run_execute(run.pk)
    run.refresh_from_db()
    assert run.rows_read == 1 and run.version.report["rows_read"] == 1  # b1, restored
    live = set(sites.features.filter(valid_to__isnull=True).values_list(
        "organisation__slug", "reference"))  # fmt: skip
    assert live == {(b.slug, "b1"), (a.slug, "a9")}
    assert sites.current_version.organisation == b
    assert (
        text(client.get(f"/datasets/sites/runs/{run.pk}/")).count(
            f"it restores version 2's features of {b.name}"
        )
        == 1
    )

    # A's data manager chooses: the whole dataset, or one organisation's part.
    manager = client_as(personas.data_manager_a)
    confirm = text(manager.get("/datasets/sites/versions/1/rollback/"))
    assert "What to restore" in confirm
    assert f"Only {b.name}'s features" in confirm and f"Only {a.name}'s features" in confirm
    refused = manager.post("/datasets/sites/versions/1/rollback/")
    assert refused.status_code == 200 and "Choose what to restore" in text(refused)
    assert IngestRun.objects.count() == 1
    manager.post("/datasets/sites/versions/1/rollback/", {"part": a.slug})
    ingest_run_execute(IngestRun.objects.latest("pk").pk)
    live = set(sites.features.filter(valid_to__isnull=True).values_list(
        "organisation__slug", "reference"))  # fmt: skip
    assert live == {(a.slug, "A"), (a.slug, "B"), (b.slug, "b1")}
    # B's viewer rolls back nothing.
    assert (
        client_as(personas.member_b).get("/datasets/sites/versions/2/rollback/").status_code == 404
    )


def test_rolling_back_a_part_no_later_version_changed_is_refused_saying_so(
    sites, personas, client_as
):
    """A rollback that would restore a part as it already is published a version that changed
    nothing ("0 added, 0 changed, 0 removed")."""
    a, b = personas.organisation_a, personas.organisation_b
    b_manager = contributing_data_manager(sites, b)
    version_publish_points(dataset=sites, organisation=b, points={"b1": (615300, 157500)})  # 2
    version_publish_points(dataset=sites, organisation=a, points={"a9": (615500, 157500)})  # 3
    nothing = f"No version since version 2 has changed {b.name}'s features: there is nothing"

    client = client_as(b_manager)
    confirm = client.get("/datasets/sites/versions/2/rollback/")
    assert nothing in text(confirm) and b"govuk-button--warning" not in confirm.content
    refused = client.post("/datasets/sites/versions/2/rollback/", follow=True)
    assert nothing in text(refused) and not IngestRun.objects.exists()

    manager = client_as(personas.data_manager_a)
    refused = manager.post("/datasets/sites/versions/2/rollback/", {"part": b.slug})
    assert refused.status_code == 200 and nothing in text(refused)
    assert not IngestRun.objects.exists()
    manager.post("/datasets/sites/versions/2/rollback/", {"part": a.slug})
    assert IngestRun.objects.get().organisation == a  # version 3 changed A's part


def test_dataset_page_as_of_a_date(sites, personas, client_as):
    version_publish_points(
        dataset=sites, points={"C": (615200, 157500)}, properties={"C": {"status": "planned"}}
    )
    long_ago = timezone.now() - timedelta(days=30)
    DatasetVersion.objects.filter(dataset=sites, number=1).update(published_at=long_ago)
    DatasetVersion.objects.filter(dataset=sites, number=2).update(
        published_at=long_ago + timedelta(days=10)
    )
    client = client_as(personas.viewer_a)
    day = (long_ago + timedelta(days=1)).date()
    response = client.get(f"/datasets/sites/?as_of={day:%Y-%m-%d}")
    page = text(response)
    assert f"You are looking at this dataset as published on {day:%-d %B %Y}: version 1" in page
    [link] = re.findall(r'href="(/map/\?layers=[^"&]*sites&amp;[^"]*)"', response.content.decode())
    assert link.endswith(f"&amp;as_of={day:%Y-%m-%d}")  # after the view (centre and zoom)
    assert "Features 2" in page and "open" in page and "planned" not in page
    now = text(client.get("/datasets/sites/"))
    assert "You are looking at" not in now
    assert "Features 1" in now and "planned" in now and "open" not in now.split("Versions")[0]


def test_a_date_before_the_first_publish_says_when_it_was(sites, personas, client_as):
    first = sites.versions.order_by("published_at").first().published_at
    page = client_as(personas.viewer_a).get("/datasets/sites/?as_of=1999-01-01").content.decode()
    assert (
        "Nothing had been published on 1 January 1999 yet: its first version was published on "
        f"{timezone.localdate(first):%-d %B %Y}"
    ) in page


def test_a_date_to_come_shows_the_dataset_as_now_as_the_map_does(sites, personas, client_as):
    """Nothing has been published on a day to come but what is published now: the page must
    not say "as published on" it, nor hide features that end before it; and it says, as the
    map does, why the date was not used."""
    ends_soon = (timezone.localdate() + timedelta(days=3)).isoformat()
    version_publish_points(
        dataset=sites, points={"C": (615200, 157500)},
        properties={"C": {"status": "ending", "end_date": ends_soon}},
    )  # fmt: skip
    client = client_as(personas.viewer_a)
    for day in (timezone.localdate(), timezone.localdate() + timedelta(days=10)):
        response = client.get(f"/datasets/sites/?as_of={day:%Y-%m-%d}")
        page = text(response)
        future = day > timezone.localdate()
        assert response.status_code == 200 and ("There is a problem" in page) == future
        assert ("The date must be today or in the past" in page) == future
        assert "You are looking at" not in page
        assert "ending" in page  # live today, though ended by the date asked for
        [link] = re.findall(r'href="(/map/\?layers=[^"&]*sites[^"]*)"', response.content.decode())
        assert "as_of" not in link


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-13-45", "is not a real date: there is no month 13"),
        ("2026-02-30", "is not a real date: February 2026 has 28 days"),
        ("27/03/2026", "Enter the date as year-month-day with numbers, for example 2026-03-27"),
        # As the map reads it: a month or day of one digit is refused there.
        ("2026-3-5", "Enter the date as year-month-day with numbers, for example 2026-03-27"),
        ("1999-01-01", "Nothing had been published on 1 January 1999 yet"),
    ],
)
def test_as_of_a_date_that_cannot_be_shown_is_explained(sites, personas, client_as, value, message):
    response = client_as(personas.viewer_a).get(f"/datasets/sites/?as_of={value}")
    content = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in content and message in content
    assert "<title>Error: Sites" in content
    assert "You are looking at" not in content and "Features 2" in text(response)
