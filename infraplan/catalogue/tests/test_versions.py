"""Versions: each publish is a version, exactly one is current, rollback adds a version, and a
bad load leaves the current version as it was."""

import json
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction

from infraplan.catalogue.loading import LoadError, LoadOptions, dataset_load_file
from infraplan.catalogue.models import DatasetVersion, Feature, VersionState
from infraplan.catalogue.publishing import version_rollback
from infraplan.catalogue.store import current_features, live_at
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points

pytestmark = pytest.mark.django_db


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


def references(dataset) -> set[str]:
    return set(current_features(dataset).values_list("reference", flat=True))


def test_each_publish_is_a_version_and_only_changes_add_rows(sites):
    first = version_publish_points(dataset=sites, points=ASHFORD_POINTS)
    assert (first.number, first.is_current, first.feature_count) == (1, True, 2)
    assert first.report == {"added": 2, "changed": 0, "removed": 0, "unchanged": 0}

    moved = {
        "civic-centre": (601300, 142700),
        "station": (601700, 142200),
        "depot": (600000, 141000),
    }
    second = version_publish_points(dataset=sites, points=moved)
    first.refresh_from_db()
    assert (second.number, second.is_current, first.is_current) == (2, True, False)
    assert second.report == {"added": 1, "changed": 1, "removed": 0, "unchanged": 1}
    # The unchanged feature keeps its one row; the moved one has a closed and a new row.
    assert Feature.objects.filter(dataset=sites, reference="civic-centre").count() == 1
    station_rows = Feature.objects.filter(dataset=sites, reference="station").order_by("valid_from")
    assert [(r.valid_from, r.valid_to) for r in station_rows] == [(1, 2), (2, None)]

    third = version_publish_points(dataset=sites, points={"depot": (600000, 141000)})
    assert third.report == {"added": 0, "changed": 0, "removed": 2, "unchanged": 1}
    assert references(sites) == {"depot"}


def test_dataset_as_it_was_at_each_version(sites):
    version_publish_points(dataset=sites, points=ASHFORD_POINTS)
    version_publish_points(dataset=sites, points={"station": (601700, 142200)})
    at_one = Feature.objects.filter(live_at(1), dataset=sites)
    at_two = Feature.objects.filter(live_at(2), dataset=sites)
    assert sorted(f.reference for f in at_one) == ["civic-centre", "station"]
    assert [(f.reference, f.geom.x) for f in at_two] == [("station", 601700)]


def test_rollback_restores_content_as_a_new_version(sites):
    first = version_publish_points(dataset=sites, points=ASHFORD_POINTS)
    version_publish_points(dataset=sites, points={"station": (601700, 142200)})
    restored = version_rollback(actor=None, dataset=sites, to=first)
    assert (restored.number, restored.is_current, restored.rolled_back_to_id) == (3, True, first.pk)
    assert restored.report["added"] == 1 and restored.report["changed"] == 1
    current = {f.reference: (f.geom.x, f.geom.y) for f in current_features(sites)}
    assert current == ASHFORD_POINTS
    # History is kept: version 2 can still be read as it was.
    assert [f.reference for f in Feature.objects.filter(live_at(2), dataset=sites)] == ["station"]
    assert sites.versions.count() == 3


def test_exactly_one_current_version_is_enforced_by_the_database(sites):
    version_publish_points(dataset=sites, points=ASHFORD_POINTS)
    with pytest.raises(IntegrityError), transaction.atomic():
        DatasetVersion.objects.create(
            dataset=sites, number=9, state=VersionState.PUBLISHED, is_current=True, source="x"
        )


def test_identity_is_dataset_organisation_reference(sites, personas):
    version_publish_points(dataset=sites, points=ASHFORD_POINTS)
    with pytest.raises(IntegrityError), transaction.atomic():
        Feature.objects.create(
            dataset=sites, organisation=personas.organisation_a, reference="station", valid_from=1
        )
    # The same reference from another organisation is another feature.
    Feature.objects.create(
        dataset=sites, organisation=personas.organisation_b, reference="station", valid_from=1
    )


def write_geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def point(reference, lon, lat, **properties):
    return {
        "type": "Feature",
        "properties": {"ref": reference, **properties},
        "geometry": {"type": "Point", "coordinates": [lon, lat]} if lon is not None else None,
    }


def test_file_load_reprojects_to_bng_and_is_idempotent(sites, tmp_path):
    path = write_geojson(tmp_path / "ok.geojson", [point("a", 0.8727, 51.1465, name="Ashford")])
    options = LoadOptions("ref")
    version = dataset_load_file(actor=None, dataset=sites, path=path, options=options)
    feature = current_features(sites).get()
    assert feature.geom.srid == 27700
    assert feature.geom.x == pytest.approx(601_300, abs=300)
    assert feature.geom.y == pytest.approx(142_700, abs=300)
    assert feature.geom_3857 is not None and feature.geom_3857.srid == 3857
    again = dataset_load_file(actor=None, dataset=sites, path=path, options=options)
    assert again.pk == version.pk and sites.versions.count() == 1


def test_bad_file_is_reported_row_by_row_and_loses_nothing(sites, tmp_path):
    good = write_geojson(
        tmp_path / "good.geojson", [point("a", 0.87, 51.14), point("b", 0.88, 51.15)]
    )
    current = dataset_load_file(actor=None, dataset=sites, path=good, options=LoadOptions("ref"))
    bad = write_geojson(
        tmp_path / "bad.geojson",
        [
            point("a", 0.87, 51.14),
            point("", 0.88, 51.15),
            point("a", 0.89, 51.16),
            point("c", None, None),
        ],
    )
    with pytest.raises(LoadError) as raised:
        dataset_load_file(actor=None, dataset=sites, path=bad, options=LoadOptions("ref"))
    problems = [(p.row, p.field, p.reason) for p in raised.value.problems]
    assert problems == [
        (2, "ref", "the reference is empty"),
        (3, "ref", "reference 'a' is also on row 1"),
        (4, "geometry", "the geometry is missing or empty"),
    ]
    assert "row 2, ref: the reference is empty" in str(raised.value)
    # The failed version is kept with its report; the previous version is still current and whole.
    failed = sites.versions.get(state=VersionState.FAILED)
    assert failed.report["problems"][0] == {
        "row": 2,
        "field": "ref",
        "reason": "the reference is empty",
    }
    assert sites.current_version.pk == current.pk
    assert references(sites) == {"a", "b"}
    assert not Feature.objects.filter(dataset=sites, valid_from=failed.number).exists()


def test_missing_reference_field_names_the_fields_there_are(sites, tmp_path):
    path = write_geojson(tmp_path / "f.geojson", [point("a", 0.87, 51.14)])
    with pytest.raises(LoadError, match=r"no field 'code'.*fields are: ref"):
        dataset_load_file(actor=None, dataset=sites, path=path, options=LoadOptions("code"))


def test_wrong_geometry_type_and_unreadable_file(sites, tmp_path):
    polygon = {
        "type": "Feature",
        "properties": {"ref": "p"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[0.8, 51.1], [0.9, 51.1], [0.9, 51.2], [0.8, 51.1]]],
        },
    }
    path = write_geojson(tmp_path / "poly.geojson", [polygon])
    with pytest.raises(LoadError, match="row 1, geometry: a Polygon in a dataset of points"):
        dataset_load_file(actor=None, dataset=sites, path=path, options=LoadOptions("ref"))
    garbage = tmp_path / "garbage.geojson"
    garbage.write_text("this is not GeoJSON")
    with pytest.raises(LoadError, match="cannot be read as a vector file"):
        dataset_load_file(actor=None, dataset=sites, path=garbage, options=LoadOptions("ref"))
    assert sites.current_version is None


def test_the_feature_tables_indexes_are_the_ones_the_model_declares():
    """Both spatial indexes cover live rows only (the partial condition survives on the plain
    geometry column too), and no index is left that the model no longer declares."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'catalogue_feature'"
        )
        indexes = dict(cursor.fetchall())
    for name in ("feature_live_geom", "feature_live_geom_3857"):
        assert indexes[name].endswith("WHERE (valid_to IS NULL)"), indexes[name]
    assert sorted(indexes) == [
        "catalogue_feature_organisation_id_7dde4333", "catalogue_feature_pkey",
        "feature_identity_per_version", "feature_live_geom", "feature_live_geom_3857",
        "feature_reference", "feature_validity",
    ]  # fmt: skip
