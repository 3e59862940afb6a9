"""Trigram indexes on the names search looks in, one per dataset partition.

Search matches a query inside names (``ILIKE '%…%'``) and, failing that, by word similarity
(pg_trgm's ``<%``). Without an index that reads every feature of every searchable dataset: a
dataset of a million features made a search take tens of seconds. The feature table is
partitioned by dataset and each dataset names its features by its own property (its label
field), so each partition gets a GIN trigram index on that property's text,
``(properties ->> '<field>')``, which is the expression the search's SQL for that dataset uses.

The indexes are built by a periodic task (``places.name_indexes``), never by a load: building
one for a million names takes seconds, which a load would add to its time, and
``CREATE INDEX CONCURRENTLY`` leaves the partition's reads and writes going on meanwhile.
Until its index is built a dataset is searched as before, only slower. Each index's comment
records the field it is for, so a dataset whose label field changes has its index rebuilt.
"""

from django.db import connection
from psycopg import sql

from infraplan.catalogue.models import Dataset, GeometryType
from infraplan.catalogue.partitions import partition_name
from infraplan.maps.styling import label_field_of

_COMMENT_PREFIX = "names of "  # the comment of an index: its prefix, then the field


def name_index_name(dataset_id: int) -> str:
    return f"{partition_name(dataset_id)}_names"


def name_expression(field: str, alias: str = "") -> str:
    """The SQL text of a feature's name, ``(properties ->> '<field>')``: the one expression the
    index is built on and the search matches, so that PostgreSQL can use one for the other."""
    connection.ensure_connection()
    literal = sql.Literal(field).as_string(connection.connection)
    return f"({alias + '.' if alias else ''}properties ->> {literal})"


def _wanted() -> dict[int, str]:
    """Dataset id -> the field its names are in, for every dataset search looks in."""
    datasets = Dataset.objects.filter(source_key="store").exclude(geometry_type=GeometryType.NONE)
    wanted = {}
    for dataset in datasets:
        field = label_field_of(dataset)
        if field:
            wanted[dataset.pk] = field
    return wanted


def _existing() -> dict[str, tuple[str, bool]]:
    """Index name -> (its comment, whether it is valid), for every names index there is."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, coalesce(obj_description(c.oid, 'pg_class'), ''), i.indisvalid "
            "FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE c.relkind = 'i' AND c.relname LIKE 'catalogue\\_feature\\_d%\\_names'"
        )
        return {name: (comment, valid) for name, comment, valid in cursor.fetchall()}


def name_indexes_ensure() -> dict[str, list[str]]:
    """Build the names index of every searchable dataset that lacks one (or has one for another
    field, or one a failed build left invalid), and drop those no dataset needs. Outside any
    transaction (``CONCURRENTLY``); returns the indexes built and dropped."""
    wanted = _wanted()
    existing = _existing()
    built, dropped = [], []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname = ANY(%s)",
            [[partition_name(dataset_id) for dataset_id in wanted]],
        )
        partitions = {name for (name,) in cursor.fetchall()}
        needed = {}
        for dataset_id, field in wanted.items():
            if partition_name(dataset_id) in partitions:
                needed[name_index_name(dataset_id)] = (dataset_id, field)
        for index, (comment, valid) in existing.items():
            wanted_field = needed.get(index, (None, None))[1]
            if wanted_field is None or comment != _COMMENT_PREFIX + wanted_field or not valid:
                cursor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{index}"')
                dropped.append(index)
        for index, (dataset_id, field) in needed.items():
            if index in existing and index not in dropped:
                continue
            table = partition_name(dataset_id)
            expression = name_expression(field)
            cursor.execute(
                f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{index}" ON "{table}" '
                f"USING gin ({expression} gin_trgm_ops)"
            )
            comment = sql.Literal(_COMMENT_PREFIX + field).as_string(cursor.connection)
            cursor.execute(f'COMMENT ON INDEX "{index}" IS {comment}')
            built.append(index)
    return {"built": built, "dropped": dropped}
