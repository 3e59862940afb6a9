"""Publishing over a large version: a small load scoped to one council ends just that council's
replaced features, and a reload of the large version adds no rows for what did not change;
the other council's part and the history stay as they were.

The feature table's planner statistics are taken before the large version goes in, as on a
database whose autovacuum is off. On such statistics publishing once compared the versions with
a nested loop that read the whole dataset again for each live row: quadratic, minutes at this
size. How long publishing takes is measured by ``bench/publish.py``, not here.
"""

import pytest
from django.db import connection, transaction

from infraplan.catalogue.models import DatasetVersion, Feature
from infraplan.catalogue.publishing import version_publish, version_start
from infraplan.catalogue.store import current_features, live_at
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db

LARGE = 50_000
ACROSS = 250  # points to a row of the grid, a metre apart


def grid_reference(number: int) -> str:
    return f"G{number:05d}"


def grid_point(number: int) -> tuple[int, int]:
    return 600_000 + number % ACROSS, 140_000 + number // ACROSS


def version_publish_grid(*, dataset, organisation, count: int) -> DatasetVersion:
    """Publish ``count`` points as ``organisation``'s part, each as ``version_publish_points``
    would make it (reference G00000 upwards, at ``grid_point``), inserted in one statement."""
    version = version_start(actor=None, dataset=dataset, source="test", organisation=organisation)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {Feature._meta.db_table} (dataset_id, organisation_id, reference,
                                                      properties, geom, district, ward, valid_from)
                SELECT %(dataset)s, %(organisation)s, reference,
                       jsonb_build_object('name', reference),
                       ST_SetSRID(ST_MakePoint(600000 + n %% %(across)s, 140000 + n / %(across)s),
                                  27700),
                       '', '', %(version)s
                FROM generate_series(0, %(count)s - 1) AS n,
                     LATERAL (SELECT 'G' || lpad(n::text, 5, '0') AS reference) AS named
                """,
                {
                    "dataset": dataset.pk, "organisation": organisation.pk, "count": count,
                    "across": ACROSS, "version": version.number,
                },
            )  # fmt: skip
        return version_publish(actor=None, version=version)


@pytest.fixture
def sites(personas):
    """A dataset with organisation B's part (version 1) and A's part of ``LARGE`` points
    (version 2), published on statistics from before A's part was loaded."""
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    version_publish_points(
        dataset=dataset, organisation=personas.organisation_b,
        points={"B-1": (601000, 141000), "B-2": (601100, 141000), grid_reference(0): (1, 1)},
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Feature._meta.db_table}")
    large = version_publish_grid(dataset=dataset, organisation=personas.organisation_a, count=LARGE)
    assert large.report == {"added": LARGE, "changed": 0, "removed": 0, "unchanged": 0}
    assert large.feature_count == LARGE + 3
    return dataset


def organisation_b_rows(dataset, personas) -> list[tuple]:
    rows = Feature.objects.filter(dataset=dataset, organisation=personas.organisation_b)
    return sorted(rows.values_list("id", "reference", "valid_from", "valid_to"))


def test_small_version_ends_only_the_replaced_part(sites, personas):
    before_b = organisation_b_rows(sites, personas)
    small = version_publish_points(
        dataset=sites, organisation=personas.organisation_a,
        points={
            grid_reference(0): grid_point(0),  # unchanged
            grid_reference(1): (grid_point(1)[0], grid_point(1)[1] + 5),  # moved
            "new": (602000, 142000),
        },
    )  # fmt: skip

    assert small.report == {"added": 1, "changed": 1, "removed": LARGE - 2, "unchanged": 1}
    assert small.feature_count == 3 + 3
    assert organisation_b_rows(sites, personas) == before_b
    assert [row[3] for row in before_b] == [None, None, None]
    mine = Feature.objects.filter(dataset=sites, organisation=personas.organisation_a)
    live = current_features(sites).filter(organisation=personas.organisation_a)
    assert set(live.values_list("reference", flat=True)) == {
        grid_reference(0), grid_reference(1), "new"
    }  # fmt: skip
    assert mine.filter(valid_to=3).count() == LARGE - 1  # removed, and the moved one's old row
    assert mine.filter(valid_to__isnull=True).count() == 3
    assert mine.count() == LARGE + 2  # only the moved and the new features added rows
    assert list(mine.filter(reference=grid_reference(0)).values_list("valid_from", "valid_to")) == [
        (2, None)
    ]
    assert list(
        mine.filter(reference=grid_reference(1))
        .order_by("valid_from")
        .values_list("valid_from", "valid_to")
    ) == [(2, 3), (3, None)]
    # History intact: the dataset as it was at version 2.
    assert Feature.objects.filter(live_at(2), dataset=sites).count() == LARGE + 3


def test_reload_of_the_large_version_adds_rows_only_for_changes(sites, personas):
    before_b = organisation_b_rows(sites, personas)
    version = version_start(
        actor=None, dataset=sites, source="test", organisation=personas.organisation_a
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {Feature._meta.db_table} (dataset_id, organisation_id, reference,
                                                      properties, geom, district, ward, valid_from)
                SELECT dataset_id, organisation_id, reference,
                       CASE WHEN reference = %(changed)s THEN properties || '{{"homes": 3}}'
                            ELSE properties END,
                       geom, district, ward, %(version)s
                FROM {Feature._meta.db_table}
                WHERE dataset_id = %(dataset)s AND organisation_id = %(organisation)s
                  AND valid_to IS NULL AND reference <> %(dropped)s
                """,
                {
                    "dataset": sites.pk, "organisation": personas.organisation_a.pk,
                    "version": version.number, "changed": grid_reference(7),
                    "dropped": grid_reference(8),
                },
            )  # fmt: skip
        reload = version_publish(actor=None, version=version)

    assert reload.report == {"added": 0, "changed": 1, "removed": 1, "unchanged": LARGE - 2}
    assert reload.feature_count == LARGE - 1 + 3
    assert organisation_b_rows(sites, personas) == before_b
    mine = Feature.objects.filter(dataset=sites, organisation=personas.organisation_a)
    assert mine.count() == LARGE + 1  # one new row, for the changed feature
    assert sorted(mine.filter(valid_to=3).values_list("reference", flat=True)) == [
        grid_reference(7), grid_reference(8)
    ]  # fmt: skip
    assert mine.get(reference=grid_reference(7), valid_to__isnull=True).properties == {
        "name": grid_reference(7), "homes": 3
    }  # fmt: skip
