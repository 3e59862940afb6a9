"""The audit log viewer: platform admins only, filters, pages and a streamed CSV export; nothing
in the application can change an entry."""

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.http import StreamingHttpResponse
from django.utils import timezone

from infraplan.audit.models import AuditEntry
from infraplan.audit.services import audit_record

pytestmark = pytest.mark.django_db


def record(actor, action, label, note=""):
    with transaction.atomic():
        return audit_record(
            actor=actor, action=action, target=("catalogue.dataset", "7", label), note=note
        )


@pytest.fixture
def admin(personas, client_as):
    return client_as(personas.platform_admin)


def listed(response) -> list[str]:
    return [f"{entry.action} {entry.target_label}" for entry in response.context["page"]]


def test_only_platform_admins_see_the_log(personas, client_as):
    for url in ("/audit/", "/audit/export.csv"):
        anonymous = client_as(None).get(url)
        assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
        for name in ("viewer_a", "admin_a", "member_b"):
            assert client_as(getattr(personas, name)).get(url).status_code == 404, (name, url)
        assert client_as(personas.platform_admin).get(url).status_code == 200


def test_filters_by_actor_action_type_dates_and_text(personas, admin):
    record(personas.admin_a, "dataset.update", "Schools", note="renamed for the plan")
    record(personas.data_manager_a, "dataset.publish", "Flood zones")
    record(None, "token.revoke", "QGIS token")
    today = timezone.localdate()

    def get(**query):
        response = admin.get("/audit/", query)
        assert response.status_code == 200, response.context["form"].errors
        return listed(response)

    assert get(actor="admin@a.example", target_type="catalogue.dataset") == [
        "dataset.update Schools"
    ]
    assert get(action="dataset.publish") == ["dataset.publish Flood zones"]
    assert get(action="dataset.", target_type="catalogue.dataset") == [
        "dataset.publish Flood zones", "dataset.update Schools",
    ]  # fmt: skip
    assert get(actor="system", target_type="catalogue.dataset") == ["token.revoke QGIS token"]
    assert get(q="renamed for", since=today.isoformat(), until=today.isoformat()) == [
        "dataset.update Schools"
    ]
    yesterday = (today - timedelta(days=1)).isoformat()
    assert get(until=yesterday) == []
    assert len(get(since=today.strftime("%d/%m/%Y"), target_type="catalogue.dataset")) == 3


def test_bad_filters_are_explained(admin):
    response = admin.get("/audit/", {"since": "31/02/2026"})
    assert response.status_code == 400
    assert b"There is a problem" in response.content and b"Enter a real date" in response.content

    response = admin.get("/audit/", {"since": "2026-11-30", "until": "2026-11-01"})
    assert response.status_code == 400
    assert b"must be the same as or after the" in response.content

    export = admin.get("/audit/export.csv", {"since": "someday"})
    assert export.status_code == 400
    assert "Enter a real date" in export.content.decode()


def test_the_log_is_paged(personas, admin):
    for number in range(55):
        record(personas.admin_a, "dataset.update", f"Layer {number:02}")
    first = admin.get("/audit/", {"actor": "admin@a.example", "action": "dataset.update"})
    second = admin.get(
        "/audit/", {"actor": "admin@a.example", "action": "dataset.update", "page": 2}
    )
    assert listed(first)[0] == "dataset.update Layer 54" and len(listed(first)) == 50
    assert listed(second) == [f"dataset.update Layer {n:02}" for n in range(4, -1, -1)]
    assert b"actor=admin%40a.example&amp;action=dataset.update&amp;page=2" in first.content


def test_times_say_gmt_or_bst_in_the_hour_that_comes_twice(admin):
    # 00:30 and 01:30 UTC on the last Sunday of October are both 01:30 in London. The log is
    # append-only, so the entries are written as they would have been at those times.
    with connection.cursor() as cursor:
        for at, label in ((datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "before"),
                          (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "after")):  # fmt: skip
            cursor.execute(
                "INSERT INTO audit_auditentry (at, actor_label, action, target_type, target_id,"
                " target_label, note, after) VALUES (%s, 'system', 'clock.test', 'core.clock',"
                " '1', %s, '', '{}')",
                [at, label],
            )
    page = admin.get("/audit/", {"action": "clock.test"}).content.decode()
    shown = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert re.findall(r"25 Oct 2026 01:30:00 [A-Z]+", shown) == [
        "25 Oct 2026 01:30:00 GMT", "25 Oct 2026 01:30:00 GMT",  # the later, and its change
        "25 Oct 2026 01:30:00 BST", "25 Oct 2026 01:30:00 BST",
    ]  # fmt: skip
    assert '<time datetime="2026-10-25T01:30:00+00:00">' in page
    assert '<time datetime="2026-10-25T01:30:00+01:00">' in page
    # The export keeps each moment exactly, with its offset from UTC.
    export = admin.get("/audit/export.csv", {"action": "clock.test"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [row["at"] for row in rows] == ["2026-10-25T01:30:00+00:00", "2026-10-25T00:30:00+00:00"]


def test_the_csv_export_streams_the_filtered_entries_and_is_itself_recorded(personas, admin):
    record(personas.admin_a, "dataset.update", '=HYPERLINK("http://evil.example")')
    record(personas.admin_a, "dataset.publish", "Schools")
    record(personas.viewer_a, "dataset.update", "Not mine")

    response = admin.get("/audit/export.csv", {"actor": "admin@a.example", "action": "dataset."})

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="audit-log.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["action"], row["target"]) for row in rows] == [
        ("dataset.publish", "Schools"),
        ("dataset.update", '\'=HYPERLINK("http://evil.example")'),  # never a live formula
    ]
    assert rows[0]["actor"] == "admin@a.example" and rows[0]["target_id"] == "7"
    export = AuditEntry.objects.get(action="audit.export")
    assert export.actor_id == personas.platform_admin.pk
    assert export.after == {"actor": "admin@a.example", "action": "dataset."}


def test_the_admin_shows_the_log_read_only(personas, admin):
    entry = record(personas.admin_a, "dataset.update", "Schools")
    base = "/admin/audit/auditentry/"

    assert admin.get(base).status_code == 200
    assert admin.get(f"{base}{entry.pk}/change/").status_code == 200  # view only
    assert admin.get(f"{base}add/").status_code == 403
    assert admin.post(f"{base}{entry.pk}/change/", {"action": "forged"}).status_code == 403
    assert admin.get(f"{base}{entry.pk}/delete/").status_code == 403
    bulk = admin.post(base, {"action": "delete_selected", "_selected_action": [entry.pk]})
    assert bulk.status_code in (200, 302)
    entry.refresh_from_db()
    assert entry.action == "dataset.update"
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_an_entry_shows_its_change_as_json(admin):
    response = admin.get("/audit/", {"action": "membership.set", "q": "Viewer of Organisation A"})
    assert b"&quot;role&quot;: &quot;viewer&quot;" in response.content
    assert b"&quot;organisation&quot;: &quot;org-a&quot;" in response.content


def test_the_furthest_dates_filter_without_failing(personas, admin):
    record(personas.admin_a, "dataset.update", "Schools")
    for query in ({"until": "9999-12-31"}, {"since": "0001-01-01", "until": "9999-12-31"}):
        response = admin.get("/audit/", query)
        assert response.status_code == 200, query
        assert "dataset.update Schools" in listed(response)
        export = admin.get("/audit/export.csv", query)
        assert export.status_code == 200, query
        assert b"Schools" in b"".join(export.streaming_content)
    assert listed(admin.get("/audit/", {"since": "9999-12-31"})) == []


def test_a_refused_export_says_why_in_one_sentence(admin):
    export = admin.get("/audit/export.csv", {"q": "null\x00byte", "since": "someday"})
    assert export.status_code == 400
    assert export.content.decode() == (
        "Cannot export: since: Enter a real date, like 2026-11-27; "
        "q: Null characters are not allowed."
    )
