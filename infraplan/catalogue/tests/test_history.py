"""History: diffs between versions, the dataset as published on a date, and datasets whose
parts are published by several organisations."""

from datetime import date, datetime, timedelta

import pytest
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from django.utils import timezone

from infraplan.catalogue.history import ChangedFeature, version_as_of, versions_diff
from infraplan.catalogue.publishing import (
    FeatureRow,
    version_add_features,
    version_rollback,
    version_start,
)
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db

FIRST = {"school": (615000, 157500), "surgery": (615100, 157600), "depot": (615200, 157700)}


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


def test_diff_names_added_removed_and_changed_fields(sites, personas):
    version_publish_points(dataset=sites, points=FIRST)
    second = {
        "school": FIRST["school"],  # unchanged
        "surgery": (615150, 157600),  # moved
        "depot": FIRST["depot"],  # renamed below
        "library": (615300, 157800),  # new
    }
    version_publish_points(
        dataset=sites, points=second, properties={"depot": {"name": "Depot (closed)"}}
    )
    version_publish_points(dataset=sites, points={"library": second["library"]})
    org = personas.organisation_a.name

    diff = versions_diff(sites, 1, 2)
    assert diff.added == [(org, "library")]
    assert diff.removed == []
    assert diff.changed == [
        ChangedFeature(org, "depot", ["name"], [("name", "depot", "Depot (closed)")]),
        ChangedFeature(org, "surgery", ["geometry"], [], moved_by=50.0),
    ]
    assert (diff.changed[0].shown, diff.changed[1].moved) == (
        [("name", "depot", "Depot (closed)")], True
    )  # fmt: skip
    later = versions_diff(sites, 2, 3)
    assert (later.added, later.changed) == ([], [])
    assert later.removed == [(org, "depot"), (org, "school"), (org, "surgery")]
    backwards = versions_diff(sites, 2, 1)
    assert (backwards.added, backwards.removed) == ([], [(org, "library")])


def test_a_value_cleared_or_unknown_is_said_in_words(sites):
    """After the arrow a reader (or a screen reader) must hear something: an emptied text is
    "empty", an unknown value "none"."""
    version_publish_points(
        dataset=sites, points={"depot": FIRST["depot"]}, properties={"depot": {"note": "Closed"}}
    )  # fmt: skip
    version_publish_points(
        dataset=sites, points={"depot": FIRST["depot"]}, properties={"depot": {"note": ""}}
    )  # fmt: skip
    [changed] = versions_diff(sites, 1, 2).changed
    assert [shown for shown in changed.shown if shown[0] == "note"] == [("note", "Closed", "empty")]


def test_an_empty_text_and_no_value_are_the_same(sites):
    """Downloads write an empty text as no value, which GDAL reads back as null: a download
    loaded again changes nothing, and the feature keeps the value it had. A real edit beside it
    is still a change, of that field alone."""
    version_publish_points(
        dataset=sites, points={"depot": FIRST["depot"], "school": FIRST["school"]},
        properties={"depot": {"note": ""}, "school": {"note": "", "phase": ""}},
    )  # fmt: skip
    again = version_publish_points(
        dataset=sites, points={"depot": FIRST["depot"], "school": FIRST["school"]},
        properties={"depot": {"note": None}, "school": {"phase": "Primary"}},
    )  # fmt: skip
    assert (again.report["changed"], again.report["unchanged"]) == (1, 1)
    [changed] = versions_diff(sites, 1, 2).changed
    assert (changed.reference, changed.fields) == ("school", ["phase"])
    depot = current_features(sites).get(reference="depot")
    assert depot.properties["note"] == ""


def test_diff_counts_every_change_and_lists_the_first_of_each_kind(sites, personas):
    version_publish_points(dataset=sites, points=FIRST)
    version_publish_points(
        dataset=sites,
        points={"depot": (615250, 157700), "library": (615300, 157800), "park": (615400, 1e5)},
        properties={"depot": {"name": "Depot (closed)"}},
    )
    org = personas.organisation_a.name
    whole = versions_diff(sites, 1, 2)
    assert (whole.added_count, whole.changed_count, whole.removed_count) == (2, 1, 2)

    first = versions_diff(sites, 1, 2, limit=1)  # the rows read are those listed
    assert (first.added_count, first.changed_count, first.removed_count) == (2, 1, 2)
    assert first.added == [(org, "library")]
    assert first.changed == [
        ChangedFeature(
            org, "depot", ["name", "geometry"], [("name", "depot", "Depot (closed)")], 50.0
        )
    ]
    assert first.removed == [(org, "school")]
    backwards = versions_diff(sites, 2, 1, limit=1)
    assert (backwards.added, backwards.removed) == ([(org, "school")], [(org, "library")])
    assert (backwards.added_count, backwards.removed_count) == (2, 2)


def test_diff_after_a_rollback_shows_no_phantom_changes(sites):
    first = version_publish_points(dataset=sites, points=FIRST)
    version_publish_points(dataset=sites, points={"school": (600000, 140000)})
    restored = version_rollback(actor=None, dataset=sites, to=first)
    diff = versions_diff(sites, first.number, restored.number)
    assert (diff.added, diff.removed, diff.changed) == ([], [], [])
    assert versions_diff(sites, 2, restored.number).changed == [
        ChangedFeature(sites.owner.name, "school", ["geometry"], moved_by=pytest.approx(23048.86))
    ]


def test_a_move_under_a_centimetre_is_no_change_and_a_larger_one_says_how_far(sites, personas):
    """The platform's own outputs round coordinates (the OGC API's grid to the centimetre,
    GeoJSON's seven decimals of a degree): loaded back, that rounding changes nothing."""
    first = {"school": (615000.004, 157500.0049), "depot": (615200.0, 157700.0)}
    version_publish_points(dataset=sites, points=first)
    rounded = {"school": (615000.0, 157500.0), "depot": (615200.0, 157700.0)}
    second = version_publish_points(dataset=sites, points=rounded)
    assert second.report == {"added": 0, "changed": 0, "removed": 0, "unchanged": 2}
    moved = {"school": (615000.0, 157500.0), "depot": (615200.0, 157740.0)}
    third = version_publish_points(dataset=sites, points=moved)
    assert third.report == {"added": 0, "changed": 1, "removed": 0, "unchanged": 1}
    (change,) = versions_diff(sites, 1, 3).changed
    assert (change.reference, change.moved_by) == ("depot", 40.0)
    assert change.moved_text == "the geometry moved or changed shape, by up to 40.0 m"
    nudged = {"school": (615000.0, 157500.03), "depot": (615200.0, 157740.0)}
    version_publish_points(dataset=sites, points=nudged)
    (change,) = versions_diff(sites, 3, 4).changed
    assert change.moved_text == "the geometry moved or changed shape, by up to 3 cm"


def test_diff_refuses_versions_that_were_never_published(sites):
    version_publish_points(dataset=sites, points=FIRST)
    with pytest.raises(ValueError, match="sites has no published version 7"):
        versions_diff(sites, 1, 7)


def test_the_dataset_as_it_was_on_a_date(sites):
    first = version_publish_points(dataset=sites, points=FIRST)
    second = version_publish_points(dataset=sites, points={"school": FIRST["school"]})
    now = timezone.now()
    first.published_at = now - timedelta(days=10)
    first.save(update_fields=["published_at"])
    second.published_at = now - timedelta(days=2)
    second.save(update_fields=["published_at"])
    today = timezone.localdate()

    assert version_as_of(sites, today - timedelta(days=11)) is None
    assert version_as_of(sites, today - timedelta(days=10)) == first
    assert version_as_of(sites, today - timedelta(days=3)) == first
    assert version_as_of(sites, today) == second
    assert version_as_of(sites, now - timedelta(days=5)) == first
    assert isinstance(today, date) and not isinstance(today, datetime)


def test_a_load_from_one_organisation_replaces_only_its_part(sites, personas):
    a, b = personas.organisation_a, personas.organisation_b
    version_publish_points(dataset=sites, organisation=a, points=FIRST)
    # The same references from another council are other features, never a collision.
    version_publish_points(dataset=sites, organisation=b, points={"school": (600000, 140000)})
    assert current_features(sites).count() == 4

    third = version_publish_points(dataset=sites, organisation=a, points={"depot": FIRST["depot"]})
    assert third.report == {"added": 0, "changed": 0, "removed": 2, "unchanged": 1}
    live = set(current_features(sites).values_list("organisation__slug", "reference"))
    assert live == {(a.slug, "depot"), (b.slug, "school")}
    diff = versions_diff(sites, 2, 3)
    assert diff.removed == [(a.name, "school"), (a.name, "surgery")]


def test_a_scoped_load_refuses_another_organisations_features(sites, personas):
    version = version_start(
        actor=None, dataset=sites, source="test", organisation=personas.organisation_a
    )
    row = FeatureRow(
        organisation=personas.organisation_b,
        reference="intruder",
        properties={},
        geometry=GEOSGeometry("POINT(615000 157500)", srid=27700),
    )
    with pytest.raises(ValueError, match="replaces only"), transaction.atomic():
        version_add_features(version=version, rows=[row])
