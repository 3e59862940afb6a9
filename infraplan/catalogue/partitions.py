"""The feature table is partitioned by dataset: each dataset's rows are a table of their own.

Why: a load into one big table keeps every index up to date row by row, and checks each row's
foreign keys one at a time. A dataset's first load instead fills a table of its own without
indexes, then attaches it as the dataset's partition. PostgreSQL then builds the partition's
indexes in bulk and checks its foreign keys in one pass. At a million polygons, this takes a
third of the time of the row-by-row way (see docs/performance.md). Later loads insert through
the parent table as before, but into indexes only as large as that one dataset.

Partitions are made with ``CREATE TABLE … LIKE`` followed by ``ATTACH PARTITION``, never with
``CREATE TABLE … PARTITION OF``. Attaching locks the parent table only against other schema
changes, so reads and writes of other datasets' features go on. ``PARTITION OF`` would lock them
out until the load commits. There is no default partition: attaching beside one would lock and
scan it. Every path that adds features therefore calls ``partition_ensure`` first.

Attaching also gives the partition the feature table's foreign keys, and for that PostgreSQL
locks the tables they name (datasets, organisations) against every change until the load
commits: no style saved, dataset added or other load published meanwhile. A first load
therefore does all it can on its table before attaching it: it places the features
(``placement``) and builds a match for each of the feature table's indexes
(``partition_indexes_build``), which attaching then adopts instead of building; only checking
the keys and publishing are left inside that window.
"""

import re
from typing import Any

import psycopg
from django.db import DatabaseError, connection

FEATURE_TABLE = "catalogue_feature"
# The first key of the advisory locks that serialise making a dataset's partition; the second is
# the dataset's id.
_PARTITION_LOCK = 27700


def partition_name(dataset_id: int) -> str:
    return f"{FEATURE_TABLE}_d{int(dataset_id)}"


def partition_lock(cursor: Any, dataset_id: int) -> bool:
    """Hold, until the transaction ends, the lock on making the dataset's partition; whether the
    partition exists. Two first loads of one dataset cannot then both make it."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_PARTITION_LOCK, int(dataset_id)])
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [partition_name(dataset_id)])
    return cursor.fetchone()[0]


class PartitionRefused(Exception):
    """The database role the platform runs as may not make a dataset's partition: the
    deployment's database set-up, not the data, is at fault."""


def _partition_statement(cursor: Any, statement: str) -> None:
    """Run ``statement``; PartitionRefused, saying what an administrator must do, when the
    role lacks the right to (it must own the feature table and may create tables)."""
    try:
        cursor.execute(statement)
    except DatabaseError as error:
        if not isinstance(error.__cause__, psycopg.errors.InsufficientPrivilege):
            raise
        refusal = str(error).splitlines()[0]
        raise PartitionRefused(
            f"The platform's database role may not add this dataset's table to the feature "
            f"table ({refusal}), so nothing was published. An administrator must give the "
            f"role the platform runs as ownership of {FEATURE_TABLE} and the right to create "
            'tables in its schema (docs/deployment.md, "The database"), then load again.'
        ) from error


def partition_table_create(cursor: Any, dataset_id: int) -> str:
    """A table shaped as the feature table (columns, defaults, the generated EPSG:3857 column and
    the checks), without indexes, to fill and then attach; its name."""
    name = partition_name(dataset_id)
    _partition_statement(
        cursor,
        f"CREATE TABLE {name} (LIKE {FEATURE_TABLE} "
        "INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS)",
    )
    return name


# The feature table's indexes, and the constraints (primary key, unique) that some of them
# back: ``pg_get_constraintdef`` where an index backs one, else ``pg_get_indexdef``.
_PARENT_INDEXES = """
    SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), pg_get_constraintdef(c.oid)
    FROM pg_index i
    LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
    WHERE i.indrelid = %s::regclass
    ORDER BY 1
"""
_INDEX_HEAD = re.compile(r"CREATE (UNIQUE )?INDEX \S+ ON ONLY \S+ ")


def partition_indexes_build(cursor: Any, dataset_id: int) -> None:
    """Build on the dataset's table, before it is attached, a match for each of the feature
    table's indexes (an index backing a constraint as that constraint), so that attaching adopts
    them instead of building them (the module's docstring says why)."""
    name = partition_name(dataset_id)
    cursor.execute(_PARENT_INDEXES, [FEATURE_TABLE])
    for number, (index, definition, constraint) in enumerate(cursor.fetchall()):
        own = f"{name}_index{number}"
        if constraint:
            statement = f"ALTER TABLE {name} ADD CONSTRAINT {own} {constraint}"
        else:
            head = _INDEX_HEAD.match(definition)
            if head is None:
                raise ValueError(f"the definition of {index} was not understood: {definition}")
            statement = f"CREATE {head[1] or ''}INDEX {own} ON {name} {definition[head.end() :]}"
        _partition_statement(cursor, statement)


def partition_attach(cursor: Any, dataset_id: int) -> None:
    """Attach the dataset's table as its partition: PostgreSQL adopts the indexes built on it
    (``partition_indexes_build``) or builds the partitioned indexes' parts, and checks its rows
    against the partition bound and the foreign keys."""
    _partition_statement(
        cursor,
        f"ALTER TABLE {FEATURE_TABLE} ATTACH PARTITION {partition_name(dataset_id)} "
        f"FOR VALUES IN ({int(dataset_id)})",
    )


def partition_ensure(dataset_id: int) -> None:
    """Make the dataset's partition if it has none. Must run inside the transaction that then
    adds the features, which holds the lock on making it until it ends."""
    with connection.cursor() as cursor:
        if not partition_lock(cursor, dataset_id):
            partition_table_create(cursor, dataset_id)
            partition_attach(cursor, dataset_id)


def partition_drop(dataset_id: int) -> None:
    """Detach and drop the partition of a deleted dataset (its rows are gone by then). Detaching
    locks the whole feature table until the deletion commits: deleting a dataset is rare, and
    the generalisations' foreign key allows no other way to drop a partition."""
    name = partition_name(dataset_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if cursor.fetchone()[0]:
            cursor.execute(f"ALTER TABLE {FEATURE_TABLE} DETACH PARTITION {name}")
            cursor.execute(f"DROP TABLE {name}")


def feature_id_sequence(cursor: Any) -> str:
    """The sequence the feature table's ids come from. Named once per load: looked up in each
    row, it costs seconds at a million rows."""
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [FEATURE_TABLE])
    return cursor.fetchone()[0]
