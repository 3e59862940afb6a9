"""Vector tiles made in PostGIS from a dataset's FeatureSource.

Tiles are cut from the stored EPSG:3857 geometry with ST_TileEnvelope/ST_AsMVTGeom, so they are
valid at every zoom (an EPSG:27700 envelope would leave the grid's domain at zooms 0-2).
"""

import hashlib
from datetime import date

from django.db import connection
from django.utils import timezone

from infraplan.catalogue.models import Dataset
from infraplan.catalogue.sources import FeatureSource, source_for

from .ended import END_DATE_PROPERTIES, live_on_sql
from .styling import tile_fields

MAX_ZOOM = 22
EXTENT = 4096
BUFFER = 64


def tile_in_range(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def tile_version(dataset: Dataset, source: FeatureSource | None = None) -> str:
    """Changes whenever a tile's bytes may: a new version, a style or label needing other
    fields, or another minimum zoom. Part of the map's tile URLs (``?v=``), of each tile's ETag
    and of its name in the tile cache. ``source`` is the dataset's source as of a date (the map
    as of a date), its registered source by default."""
    fields = ",".join(sorted(tile_fields(dataset)))
    shape = f"{fields}|{dataset.min_zoom}|{dataset.source_key}"
    digest = hashlib.blake2s(shape.encode(), digest_size=4).hexdigest()
    return f"{(source or source_for(dataset)).version_tag(dataset)}-{digest}"


def tile_render(
    *,
    dataset: Dataset,
    z: int,
    x: int,
    y: int,
    source: FeatureSource | None = None,
    show_ended: bool = False,
    day: date | None = None,
) -> bytes:
    """The Mapbox Vector Tile of ``dataset`` at z/x/y (empty bytes if nothing is there).

    The layer is named after the dataset's slug; each feature carries its id, ``reference`` and
    only the properties its style and label need (the pop-up fetches the rest). Below the
    dataset's minimum zoom the tile is empty: a dense layer is never cut into giant tiles.

    ``source`` serves the dataset (its registered source by default, or one as of a date).
    Features that ended on or before ``day`` (today by default) are left out unless
    ``show_ended``; their end-date properties then travel in the tile too, so the SQL can tell.
    """
    if not tile_in_range(z, x, y):
        raise ValueError(f"tile {z}/{x}/{y} does not exist")
    if z < dataset.min_zoom:
        return b""
    fields = set(tile_fields(dataset)) | (set() if show_ended else set(END_DATE_PROPERTIES))
    rows_sql, params = (source or source_for(dataset)).tile_rows(dataset, z, fields)
    live = "TRUE"
    if not show_ended:
        live, live_params = live_on_sql("source.properties", day or timezone.localdate())
        params = {**params, **live_params}
    sql = f"""
        WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS envelope),
        source AS ({rows_sql.replace("%(envelope)s", "(SELECT envelope FROM bounds)")}),
        shaped AS (
            SELECT source.id, source.reference, source.properties,
                   ST_AsMVTGeom(source.geom_3857, bounds.envelope, {EXTENT}, {BUFFER}, true) AS geom
            FROM source, bounds
            WHERE {live}
        )
        SELECT ST_AsMVT(shaped, %(layer)s, {EXTENT}, 'geom', 'id')
        FROM shaped WHERE geom IS NOT NULL
    """  # noqa: S608 (the source's SQL is ours; every value is bound)
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "z": z, "x": x, "y": y, "layer": dataset.slug})
        (tile,) = cursor.fetchone()
    return bytes(tile or b"")
