"""The feature table partitioned by dataset: a first load attaches a table of its own, later
loads and every other way of adding features go through the feature table, a failed first load
leaves no partition behind, and a deleted dataset's partition goes with it."""

from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from infraplan.catalogue import ingest as ingest_module
from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.models import Feature
from infraplan.catalogue.partitions import partition_name
from infraplan.catalogue.placement import features_place
from infraplan.catalogue.publishing import version_rollback
from infraplan.catalogue.store import current_features
from infraplan.core.testing.browser import lib_sh
from infraplan.core.testing.data import dataset_make, demo_dataset_load, version_publish_points

pytestmark = pytest.mark.django_db

# The feature table's indexes, each of which every partition must have a part of.
PARTITIONED_INDEXES = {
    "catalogue_feature_pkey", "feature_identity_per_version", "feature_live_geom",
    "feature_live_geom_3857", "feature_reference", "feature_validity",
    "catalogue_feature_organisation_id_7dde4333",
}  # fmt: skip


def partitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits"
            " WHERE inhparent = 'catalogue_feature'::regclass"
        )
        return {name for (name,) in cursor.fetchall()}


def index_parents(table: str) -> set[str]:
    """The feature table's indexes that ``table``'s indexes are parts of."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT parent.relname FROM pg_index i"
            " JOIN pg_inherits h ON h.inhrelid = i.indexrelid"
            " JOIN pg_class parent ON parent.oid = h.inhparent"
            " WHERE i.indrelid = %s::regclass",
            [table],
        )
        return {name for (name,) in cursor.fetchall()}


def rows_in(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


def polygons_csv(tmp_path: Path, rows: list[tuple[str, int]], name: str = "sites.csv") -> Path:
    """Squares 50 m across at Canterbury, one per (reference, easting offset)."""
    path = tmp_path / name
    lines = ["ref,wkt"] + [
        f'{ref},"POLYGON(({615000 + dx} 157500,{615050 + dx} 157500,{615050 + dx} 157550,'
        f'{615000 + dx} 157550,{615000 + dx} 157500))"'
        for ref, dx in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ingest(dataset, path: Path):
    return ingest_run(
        actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
        mapping=IngestMapping(reference="ref"),
    )  # fmt: skip


@pytest.fixture
def areas(personas):
    return dataset_make(slug="areas", owner=personas.organisation_a, geometry_type="polygon")


def test_a_first_load_attaches_a_table_of_its_own_and_later_loads_go_into_it(areas, tmp_path):
    table = partition_name(areas.pk)
    assert table not in partitions()

    first = ingest(areas, polygons_csv(tmp_path, [("A", 0), ("B", 100), ("C", 200)]))

    assert first.is_current and first.feature_count == 3
    assert table in partitions() and rows_in(table) == 3
    # PostgreSQL built a part of each of the feature table's indexes on it when it attached.
    assert index_parents(table) == PARTITIONED_INDEXES
    ids = sorted(current_features(areas).values_list("pk", flat=True))
    assert len(set(ids)) == 3

    # The next load inserts through the feature table: B changes, C goes, D comes.
    second = ingest(areas, polygons_csv(tmp_path, [("A", 0), ("B", 150), ("D", 300)], "2.csv"))
    assert second.report["added"] == 1 and second.report["changed"] == 1
    assert second.report["removed"] == 1
    assert rows_in(table) == 5  # A once, B and C closed, B again and D
    assert sorted(current_features(areas).values_list("reference", flat=True)) == ["A", "B", "D"]
    assert min(current_features(areas).filter(reference="D").values_list("pk", flat=True)) > max(
        ids
    )


def test_features_of_two_datasets_are_in_two_partitions(areas, personas, tmp_path):
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    version_publish_points(dataset=sites, points={"S1": (615000, 157500)})
    ingest(areas, polygons_csv(tmp_path, [("A", 0)]))
    assert {partition_name(sites.pk), partition_name(areas.pk)} <= partitions()
    assert rows_in(partition_name(sites.pk)) == 1 and rows_in(partition_name(areas.pk)) == 1
    # The same reference in two datasets is two features.
    version_publish_points(dataset=sites, points={"A": (615000, 157500)})
    assert Feature.objects.filter(reference="A").count() == 2


def test_a_rejected_first_load_leaves_no_partition_and_the_next_one_makes_it(areas, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("ref,wkt\nA,POLYGON((0 0\nB,not wkt\n", encoding="utf-8")
    with pytest.raises(IngestRejected):
        ingest(areas, path)
    assert partition_name(areas.pk) not in partitions()
    assert ingest(areas, polygons_csv(tmp_path, [("A", 0)])).is_current
    assert partition_name(areas.pk) in partitions()


def test_a_rollback_and_points_added_by_the_services_reach_the_partition(personas):
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    first = version_publish_points(dataset=sites, points={"S1": (615000, 157500)})
    version_publish_points(dataset=sites, points={"S2": (615100, 157500)})
    rolled_back = version_rollback(actor=None, dataset=sites, to=first)
    assert rolled_back.is_current
    assert list(current_features(sites).values_list("reference", flat=True)) == ["S1"]
    assert rows_in(partition_name(sites.pk)) == 3


def test_a_deleted_dataset_takes_its_partition_with_it(areas, tmp_path):
    ingest(areas, polygons_csv(tmp_path, [("A", 0), ("B", 100)]))
    table = partition_name(areas.pk)
    assert table in partitions()
    areas.delete()
    assert table not in partitions()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [table])
        assert cursor.fetchone()[0] is None


@pytest.fixture(scope="module")
def role_not_owning(django_db_setup, django_db_blocker):
    """A role the test's own role may SET ROLE to, made and dropped through the administrative
    connection (scripts/lib.sh): as an application role set up without owning the feature
    table. What a test grants it goes with the test's transaction, so it can be dropped."""
    name = f"{settings.DATABASES['default']['NAME']}_not_owning"
    user = settings.DATABASES["default"]["USER"]
    lib_sh("admin_psql", "-d", "postgres", "-c", f'DROP ROLE IF EXISTS "{name}"')
    lib_sh("admin_psql", "-d", "postgres", "-c", f'CREATE ROLE "{name}" NOLOGIN')
    lib_sh("admin_psql", "-d", "postgres", "-c", f'GRANT "{name}" TO "{user}"')
    yield name
    lib_sh("admin_psql", "-d", "postgres", "-c", f'DROP ROLE IF EXISTS "{name}"')


def test_a_role_that_may_not_attach_the_partition_gets_a_refusal_naming_the_fix(
    areas, tmp_path, role_not_owning
):
    """A deployment whose application role does not own the feature table: the first load
    fails with what an administrator must do, not an internal error, and nothing is left."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'GRANT USAGE, CREATE ON SCHEMA public TO "{role_not_owning}";'
            f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role_not_owning}";'
            f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role_not_owning}";'
            f'SET ROLE "{role_not_owning}"'
        )
    try:
        with pytest.raises(IngestRejected) as rejected:
            ingest(areas, polygons_csv(tmp_path, [("A", 0)]))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert str(rejected.value).startswith(
        "The platform's database role may not add this dataset's table to the feature table "
        "(must be owner of table catalogue_feature), so nothing was published. An administrator "
        "must give the role the platform runs as ownership of catalogue_feature"
    )
    assert rejected.value.version.report["error"] == str(rejected.value)
    assert partition_name(areas.pk) not in partitions()
    assert areas.current_version is None


def test_attaching_adopts_the_indexes_built_on_the_table_before(areas, tmp_path):
    """Each index the first load built on its table is one the feature table's is made of:
    attaching built none of its own, and none is left over."""
    ingest(areas, polygons_csv(tmp_path, [("A", 0), ("B", 100)]))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_index WHERE indrelid = %s::regclass",
            [partition_name(areas.pk)],
        )
        assert cursor.fetchone()[0] == len(PARTITIONED_INDEXES)


@pytest.mark.django_db(transaction=True)
def test_other_datasets_can_change_while_a_first_load_places_its_features(
    personas, tmp_path, monkeypatch
):
    """Attaching locks the datasets table against changes until the load commits (the
    partition takes the feature table's foreign keys): a first load places its features before
    it attaches, so a style saved meanwhile on another dataset does not wait for it."""
    demo_dataset_load("districts")
    demo_dataset_load("wards")
    other = dataset_make(slug="other", owner=personas.organisation_a)
    areas = dataset_make(slug="areas", owner=personas.organisation_a, geometry_type="polygon")
    changes = []

    def placing(**arguments):
        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as elsewhere:
            elsewhere.execute("SET lock_timeout = '2s'")
            try:
                elsewhere.execute(
                    "UPDATE catalogue_dataset SET title = 'Changed' WHERE id = %s", [other.pk]
                )
                changes.append("made")
            except psycopg.errors.LockNotAvailable:
                changes.append("waited")
        return features_place(**arguments)

    monkeypatch.setattr(ingest_module, "features_place", placing)
    version = ingest(areas, polygons_csv(tmp_path, [("A", 0), ("B", 100)]))

    assert changes == ["made"]
    assert version.is_current and version.report["placement"]["district_by_geometry"] == 2
