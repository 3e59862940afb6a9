"""Probes of dataset versions: loads that overlap, rollbacks, what counts as a change."""

import html
import re
import unicodedata
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import GEOSGeometry
from django.db import DatabaseError, connection, transaction

from infraplan.catalogue.history import version_as_of, versions_diff
from infraplan.catalogue.models import DatasetVersion, Feature
from infraplan.catalogue.publishing import (
    FeatureRow,
    version_add_features,
    version_publish,
    version_rollback,
    version_start,
)
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


def _live(dataset):
    return set(current_features(dataset).values_list("organisation__slug", "reference"))


def _rows(organisation, points, properties=None):
    return [
        FeatureRow(
            organisation=organisation,
            reference=reference,
            properties={"name": reference, **(properties or {}).get(reference, {})},
            geometry=GEOSGeometry(f"POINT({x} {y})", srid=27700),
        )
        for reference, (x, y) in points.items()
    ]


def test_a_load_that_started_before_another_published_keeps_both(sites, personas):
    a, b = personas.organisation_a, personas.organisation_b
    version_publish_points(dataset=sites, organisation=a, points={"a1": (615000, 157500)})
    version_publish_points(dataset=sites, organisation=b, points={"b1": (615100, 157600)})
    # A's second load opens its draft, then B's load runs start to finish while A's reads.
    slow = version_start(actor=None, dataset=sites, source="slow", organisation=a)
    version_publish_points(
        dataset=sites, organisation=b, points={"b1": (615100, 157600), "b2": (615200, 157700)}
    )
    with transaction.atomic():
        version_add_features(version=slow, rows=_rows(a, {"a2": (615300, 157800)}))
        slow = version_publish(actor=None, version=slow)

    assert _live(sites) == {(a.slug, "a2"), (b.slug, "b1"), (b.slug, "b2")}
    current = sites.current_version
    assert current == slow
    numbers = list(
        DatasetVersion.objects.filter(dataset=sites, state="published")
        .order_by("published_at")
        .values_list("number", flat=True)
    )
    assert numbers == sorted(numbers), "versions are numbered in the order they were published"
    assert current.feature_count == 3
    assert current.report["notes"] == [
        f"Opened as version 3 and published as version {current.number}: version 4 was "
        "published while it loaded, and versions are numbered in the order they are published."
    ]
    diff = versions_diff(sites, numbers[-2], numbers[-1])
    assert (diff.added, diff.removed) == ([(a.name, "a2")], [(a.name, "a1")])


def test_a_load_that_replaces_rows_published_while_it_loaded(sites, personas):
    a = personas.organisation_a
    version_publish_points(dataset=sites, points={"s": (615000, 157500)})
    slow = version_start(actor=None, dataset=sites, source="slow")
    version_publish_points(dataset=sites, points={"s": (615001, 157500)})
    with transaction.atomic():
        version_add_features(version=slow, rows=_rows(a, {"s": (615002, 157500)}))
        slow = version_publish(actor=None, version=slow)
    assert sites.current_version == slow
    (row,) = current_features(sites)
    assert row.geom.x == 615002


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_rollback_page_names_the_later_loads_it_undoes(sites, personas, client_as):
    a, b = personas.organisation_a, personas.organisation_b
    version_publish_points(dataset=sites, organisation=a, points={"a1": (615000, 157500)})
    version_publish_points(dataset=sites, organisation=b, points={"b1": (615100, 157600)})
    version_publish_points(dataset=sites, organisation=a, points={"a2": (615200, 157700)})
    page = _text(client_as(personas.data_manager_a).get("/datasets/sites/versions/1/rollback/"))
    assert "every organisation's features, as it was in version 1" in page
    assert f"Version 2 : {b.name}'s features" in page
    assert f"Version 3 : {a.name}'s features" in page
    # Rolling back is the whole dataset: B's later load is undone too, as the page said.
    restored = version_rollback(actor=None, dataset=sites, to=sites.versions.get(number=1))
    assert _live(sites) == {(a.slug, "a1")}
    assert versions_diff(sites, 3, restored.number).removed == [(a.name, "a2"), (b.name, "b1")]


def test_a_rollback_that_fails_is_a_failed_version_not_a_draft_left_loading(sites):
    first = version_publish_points(dataset=sites, points={"s": (615000, 157500)})
    second = version_publish_points(dataset=sites, points={"t": (615100, 157600)})
    # The database refuses the copied rows (here a trigger standing in for a full disk or a
    # lock timeout), half-way through the rollback.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION probe_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER probe_refuse BEFORE INSERT ON {Feature._meta.db_table} "
            "FOR EACH ROW WHEN (NEW.valid_from = 3) EXECUTE FUNCTION probe_refuse()"
        )
    with pytest.raises(DatabaseError, match="No space left"):
        version_rollback(actor=None, dataset=sites, to=first)
    attempt = sites.versions.get(number=3)
    assert attempt.state == "failed"
    assert attempt.report["error"] == (
        "The rollback to version 1 failed: could not extend file: No space left on device"
    )
    assert sites.current_version == second
    assert _live(sites) == {(sites.owner.slug, "t")}


CAFE_COMPOSED = unicodedata.normalize("NFC", "Café site")  # é as one character
CAFE_DECOMPOSED = unicodedata.normalize("NFD", "Café site")  # e, then a combining accent


def test_a_reference_written_with_other_unicode_characters_is_the_same_feature(sites):
    version_publish_points(dataset=sites, points={CAFE_COMPOSED: (615000, 157500)})
    # The same file saved on another computer: the accent now a separate combining mark.
    second = version_publish_points(
        dataset=sites,
        points={CAFE_DECOMPOSED: (615000, 157500)},
        properties={CAFE_DECOMPOSED: {"name": CAFE_COMPOSED}},
    )
    assert second.report == {"added": 0, "changed": 0, "removed": 0, "unchanged": 1}
    diff = versions_diff(sites, 1, 2)
    assert (diff.added, diff.removed, diff.changed) == ([], [], [])
    third = version_publish_points(
        dataset=sites,
        points={CAFE_DECOMPOSED: (615000, 157500)},
        properties={CAFE_DECOMPOSED: {"name": "Renamed"}},
    )
    assert third.report["changed"] == 1
    assert list(current_features(sites).values_list("reference", flat=True)) == [CAFE_COMPOSED]


def test_two_references_that_differ_only_in_unicode_form_are_refused_by_name(sites, personas):
    version = version_start(actor=None, dataset=sites, source="test")
    rows = _rows(personas.organisation_a, {CAFE_COMPOSED: (615000, 157500)}) + _rows(
        personas.organisation_a, {CAFE_DECOMPOSED: (615100, 157500)}
    )
    with pytest.raises(ValueError) as refused, transaction.atomic():
        version_add_features(version=version, rows=rows)
        version_publish(actor=None, version=version)
    first, second = sorted([CAFE_COMPOSED, CAFE_DECOMPOSED])  # by code point
    assert str(refused.value) == (
        f"{sites} v{version.number}: references {first!r} and {second!r} "
        f"({personas.organisation_a}) are the same text with the accents written in different "
        "Unicode characters; give each feature a reference of its own"
    )


def test_diff_matches_a_reference_stored_before_references_were_normalised(sites):
    version_publish_points(dataset=sites, points={CAFE_COMPOSED: (615000, 157500)})
    # A row published before references were stored in one Unicode form.
    Feature.objects.filter(dataset=sites).update(reference=CAFE_DECOMPOSED)
    second = version_publish_points(
        dataset=sites,
        points={CAFE_COMPOSED: (615000, 157500)},
        properties={CAFE_COMPOSED: {"name": "Renamed"}},
    )
    assert second.report["changed"] == 1
    diff = versions_diff(sites, 1, 2)
    assert (diff.added, diff.removed) == ([], [])
    assert [change.fields for change in diff.changed] == [["name"]]


def test_a_geometry_moved_less_than_a_centimetre_is_not_a_change(sites):
    version_publish_points(dataset=sites, points={"s": (615000.0, 157500.0), "t": (615100, 157500)})
    # The same source re-projected by another PROJ release, or written to the centimetre by the
    # OGC API and loaded back: not a change. Moved by 2 cm: a change.
    second = version_publish_points(
        dataset=sites, points={"s": (615000.0000001, 157500.004), "t": (615100.02, 157500)}
    )
    assert second.report == {"added": 0, "changed": 1, "removed": 0, "unchanged": 1}
    diff = versions_diff(sites, 1, 2)
    assert [(change.reference, change.fields) for change in diff.changed] == [("t", ["geometry"])]
    assert Feature.objects.filter(dataset=sites).count() == 3  # history grew by the real move


def test_a_single_part_read_as_a_multi_part_geometry_is_not_a_change(personas):
    """A Shapefile holds no single polygons: GDAL reads a ring as a Polygon or a one-part
    MultiPolygon, as the file's writer left it. The same shape either way is no change."""
    areas = dataset_make(slug="areas", owner=personas.organisation_a, geometry_type="polygon")
    square = "((615000 157500,615050 157500,615050 157550,615000 157550,615000 157500))"

    def publish(wkt: str) -> DatasetVersion:
        with transaction.atomic():
            version = version_start(actor=None, dataset=areas, source="test")
            row = FeatureRow(
                organisation=personas.organisation_a, reference="A", properties={},
                geometry=GEOSGeometry(wkt, srid=27700),
            )  # fmt: skip
            version_add_features(version=version, rows=[row])
            return version_publish(actor=None, version=version)

    publish(f"POLYGON{square}")
    assert publish(f"MULTIPOLYGON({square})").report["unchanged"] == 1
    assert versions_diff(areas, 1, 2).changed == []


def test_a_property_that_is_null_is_the_same_as_one_that_is_missing(sites):
    version_publish_points(
        dataset=sites, points={"s": (615000, 157500)}, properties={"s": {"note": None, "n": 10}}
    )
    # The next file drops the empty column, writes 10 as 10.0 and its keys in another order.
    second = version_publish_points(
        dataset=sites, points={"s": (615000, 157500)}, properties={"s": {"n": 10.0}}
    )
    assert second.report == {"added": 0, "changed": 0, "removed": 0, "unchanged": 1}
    third = version_publish_points(
        dataset=sites, points={"s": (615000, 157500)}, properties={"s": {"n": 11, "note": None}}
    )
    assert third.report["changed"] == 1
    assert [change.fields for change in versions_diff(sites, 1, 3).changed] == [["n"]]
    assert versions_diff(sites, 3, 1).changed[0].fields == ["n"]


def test_as_of_a_date_is_the_day_in_london_across_summer_time(sites):
    first = version_publish_points(dataset=sites, points={"s": (615000, 157500)})
    second = version_publish_points(dataset=sites, points={"t": (615100, 157600)})
    # Half past midnight on 1 June in London is still 31 May in UTC.
    DatasetVersion.objects.filter(pk=first.pk).update(
        published_at=datetime(2026, 1, 15, 23, 30, tzinfo=LONDON)
    )
    DatasetVersion.objects.filter(pk=second.pk).update(
        published_at=datetime(2026, 6, 1, 0, 30, tzinfo=LONDON)
    )
    assert version_as_of(sites, date(2026, 1, 14)) is None
    assert version_as_of(sites, date(2026, 1, 15)) == first
    assert version_as_of(sites, date(2026, 5, 31)) == first
    assert version_as_of(sites, date(2026, 6, 1)) == second
    assert version_as_of(sites, date(2999, 12, 31)) == second


def test_versions_published_in_the_hour_that_comes_twice_say_which(sites, personas, client_as):
    """When the clocks go back, 01:30 comes twice: once in BST and an hour later in GMT. Two
    versions published then must not read as published at the same moment."""
    first = version_publish_points(dataset=sites, points={"s": (615000, 157500)})
    second = version_publish_points(dataset=sites, points={"t": (615100, 157600)})
    DatasetVersion.objects.filter(pk=first.pk).update(
        created_at=datetime(2026, 10, 25, 0, 20, tzinfo=UTC),
        published_at=datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
    )
    DatasetVersion.objects.filter(pk=second.pk).update(
        published_at=datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    )
    client = client_as(personas.data_manager_a)

    versions = _text(client.get("/datasets/sites/")).split("Versions of Sites")[1]
    assert "Version 2 Current 25 October 2026 01:30 GMT" in versions
    assert "Version 1 Published 25 October 2026 01:30 BST" in versions
    page = _text(client.get("/datasets/sites/versions/1/"))
    assert "Started 25 October 2026 01:20 BST" in page
    assert "Published 25 October 2026 01:30 BST" in page
    rollback = _text(client.get("/datasets/sites/versions/1/rollback/"))
    assert "Version 2 : the whole dataset, published 25 October 2026 01:30 GMT" in rollback


def test_the_rollback_page_says_what_each_part_holds_now_and_after(sites, personas, client_as):
    """Restoring a version from before an organisation's part was loaded empties that part:
    said before the rollback runs, beside each choice."""
    a, b = personas.organisation_a, personas.organisation_b
    sites.contributing_organisations.add(b)
    version_publish_points(dataset=sites, organisation=a, points={"a1": (615000, 157500)})
    version_publish_points(
        dataset=sites, organisation=b, points={"b1": (615100, 157600), "b2": (615150, 157600)}
    )
    version_publish_points(
        dataset=sites, organisation=a, points={"a2": (615200, 157700), "a3": (615300, 157700)}
    )
    page = html.unescape(
        _text(client_as(personas.data_manager_a).get("/datasets/sites/versions/1/rollback/"))
    )
    assert "Features before and after" in page
    assert "The whole dataset (every organisation's features) 4 1" in page
    assert f"Only {a.name}'s features 2 1" in page
    assert f"Only {b.name}'s features 2 0 Emptied" in page
