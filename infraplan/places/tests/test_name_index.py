"""The trigram indexes on the names search looks in (``places.name_index``): built for each
searchable dataset's label field, rebuilt when the field changes, dropped when no dataset needs
them, and the ones the search's SQL uses. Built with CONCURRENTLY, so these tests commit."""

import pytest
from django.db import IntegrityError, connection
from procrastinate.contrib.django import app

from infraplan.catalogue.services import dataset_save
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points
from infraplan.places.name_index import name_index_name, name_indexes_ensure
from infraplan.places.name_search import names_query
from infraplan.places.search_results import MapChoice
from infraplan.places.selectors import MAX_RESULTS, search
from infraplan.places.tasks import name_indexes_task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_names_indexes_left():
    """Committing tests leave their datasets' partitions (emptied) and indexes behind: none
    needs an index now, so this drops them before each test."""
    name_indexes_ensure()


def index_definitions() -> dict[str, tuple[str, str]]:
    """Names index -> (its definition, its comment)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef, obj_description(to_regclass(indexname), 'pg_class') "
            "FROM pg_indexes WHERE indexname LIKE '%%\\_names'"
        )
        return {name: (definition, comment) for name, definition, comment in cursor.fetchall()}


def search_plan(user, query: str, *, fuzzy: bool = False) -> str:
    """The plan PostgreSQL makes for the names search for ``query``."""
    names = names_query(user, query, MAX_RESULTS, MapChoice())
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + (names.fuzzy if fuzzy else names.exact), names.parameters)
        return "\n".join(row[0] for row in cursor.fetchall())


def many_more_names(dataset, count: int = 20_000) -> None:
    """``count`` more named features in the dataset's current version, so that reading them
    all costs more than the index (a table of two rows is read whole, index or not)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO catalogue_feature (dataset_id, organisation_id, reference, properties, "
            "geom, district, ward, valid_from) "
            "SELECT %s, %s, 'bulk-' || n, jsonb_build_object('name', 'Yard ' || md5(n::text)), "
            "ST_SetSRID(ST_MakePoint(600000 + n %% 1000, 140000 + n / 1000), 27700), '', '', %s "
            "FROM generate_series(1, %s) n",
            [dataset.pk, dataset.owner_id, dataset.current_version.number, count],
        )
        cursor.execute(f"ANALYZE catalogue_feature_d{dataset.pk}")


def test_each_searchable_dataset_gets_an_index_on_its_names_that_search_uses(personas):
    depots = dataset_make(slug="depots", owner=personas.organisation_a, label_field="name")
    version_publish_points(
        dataset=depots, points=ASHFORD_POINTS,
        properties={"civic-centre": {"name": "Town depot", "title": "Civic"}},
    )  # fmt: skip
    many_more_names(depots)
    unnamed = dataset_make(slug="unnamed", owner=personas.organisation_a)
    version_publish_points(dataset=unnamed, points=ASHFORD_POINTS)
    unnamed.field_schema = []
    unnamed.save()

    assert name_indexes_task(timestamp=0) == {"built": [name_index_name(depots.pk)], "dropped": []}
    definition, comment = index_definitions()[name_index_name(depots.pk)]
    assert "gin (((properties ->> 'name'::text)) gin_trgm_ops)" in definition
    assert comment == "names of name"
    assert name_indexes_ensure() == {"built": [], "dropped": []}  # nothing left to do

    plan = search_plan(personas.platform_admin, "town")
    assert f"Bitmap Index Scan on {name_index_name(depots.pk)}" in plan
    assert [result.label for result in search(personas.platform_admin, "town").results] == [
        "Town depot"
    ]
    # Misspelt: the word-similarity pass uses it too.
    fuzzy = search_plan(personas.platform_admin, "tovn depot", fuzzy=True)
    assert f"Bitmap Index Scan on {name_index_name(depots.pk)}" in fuzzy
    assert [result.label for result in search(personas.platform_admin, "depoot").results] == [
        "Town depot"
    ]

    # Another label field: the index is rebuilt for it; none: it is dropped.
    dataset_save(actor=None, slug="depots", owner=depots.owner, label_field="title")
    assert name_indexes_ensure() == {
        "built": [name_index_name(depots.pk)], "dropped": [name_index_name(depots.pk)],
    }  # fmt: skip
    assert "'title'::text" in index_definitions()[name_index_name(depots.pk)][0]
    assert [result.label for result in search(personas.platform_admin, "civic").results] == [
        "Civic"
    ]
    index = name_index_name(depots.pk)
    dataset_save(actor=None, slug="depots", owner=depots.owner, label_field="", field_schema=[])
    assert name_indexes_ensure() == {"built": [], "dropped": [index]}
    assert index not in index_definitions()


def test_an_index_a_failed_build_left_invalid_is_built_again(personas):
    """An interrupted or failed CREATE INDEX CONCURRENTLY leaves an index marked invalid, which
    nothing uses: it is dropped and built again."""
    depots = dataset_make(slug="depots", owner=personas.organisation_a, label_field="name")
    version_publish_points(
        dataset=depots, points=ASHFORD_POINTS,
        properties={"civic-centre": {"name": "Depot"}, "station": {"name": "Depot"}},
    )  # fmt: skip
    index, table = name_index_name(depots.pk), f"catalogue_feature_d{depots.pk}"
    with connection.cursor() as cursor:  # a unique index on two equal names fails, left invalid
        with pytest.raises(IntegrityError):
            cursor.execute(
                f"CREATE UNIQUE INDEX CONCURRENTLY {index} ON {table} ((properties ->> 'name'))"
            )
        cursor.execute(f"COMMENT ON INDEX {index} IS 'names of name'")
    assert name_indexes_ensure() == {"built": [index], "dropped": [index]}
    assert "gin_trgm_ops" in index_definitions()[index][0]


def test_a_field_name_with_quotes_and_percent_signs_is_indexed_and_searched(personas):
    field = "it's 100% {name}"
    depots = dataset_make(slug="depots", owner=personas.organisation_a, label_field=field)
    version_publish_points(
        dataset=depots, points=ASHFORD_POINTS, properties={"station": {field: "Quay depot"}}
    )
    name_indexes_ensure()
    assert comment_of(depots) == f"names of {field}"
    assert [result.label for result in search(personas.platform_admin, "quay").results] == [
        "Quay depot"
    ]


def comment_of(dataset) -> str:
    return index_definitions()[name_index_name(dataset.pk)][1]


def test_the_workers_build_the_indexes_every_minute():
    (periodic,) = [
        task for task in app.periodic_registry.periodic_tasks.values()
        if task.task.name == "places.name_indexes"
    ]  # fmt: skip
    assert periodic.cron == "* * * * *" and periodic.task.queue == "ingest"
