"""Vector tiles made in PostGIS from a dataset's FeatureSource.

Tiles are cut from the stored EPSG:3857 geometry with ST_TileEnvelope/ST_AsMVTGeom, so they are
valid at every zoom (an EPSG:27700 envelope would leave the grid's domain at zooms 0-2).
"""

import gzip
import hashlib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.http import parse_etags

from infraplan.catalogue.models import Dataset
from infraplan.catalogue.sources import FeatureSource, source_for

from .ended import END_DATE_PROPERTIES, live_on_sql
from .styling import tile_fields
from .tile_cache import TileCache

if TYPE_CHECKING:
    from .selectors import MapMoment

MAX_ZOOM = 22
EXTENT = 4096
BUFFER = 64
MVT_CONTENT_TYPE = "application/vnd.mapbox-vector-tile"

tile_cache = TileCache(max_bytes=settings.TILE_CACHE_MB * 1024 * 1024)


def tile_in_range(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


@lru_cache(maxsize=64)
def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header accepts gzip (RFC 9110, 12.5.3): named in any case
    (or as ``x-gzip``), or else covered by ``*``, with a weight above 0 (``gzip;q=0`` refuses
    it). Browsers send a handful of distinct headers, so the answers are kept."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *parameters = (part.strip() for part in item.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[coding.lower()] = weight
    for coding in ("gzip", "x-gzip", "*"):
        if coding in weights:
            return weights[coding] > 0
    return False


def tile_version(dataset: Dataset, source: FeatureSource | None = None) -> str:
    """Changes whenever a tile's bytes may: a new version, a style or label needing other
    fields, another minimum zoom, or another dataset under the same slug (deleted and made
    again: its version numbers start again at 1). Part of the map's tile URLs (``?v=``), of each
    tile's ETag and of its name in the tile cache. ``source`` is the dataset's source as of a
    date (the map as of a date), its registered source by default."""
    fields = ",".join(sorted(tile_fields(dataset)))
    shape = f"{dataset.pk}|{fields}|{dataset.min_zoom}|{dataset.source_key}"
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


@dataclass(frozen=True)
class TileAnswer:
    """What a tile request is answered with, whichever web path answers it."""

    status: int  # 200; 204, nothing there; 304, the client has it
    etag: str
    body: bytes
    gzipped: bool

    def headers(self) -> list[tuple[str, str]]:
        """The tile's own headers (caching and security headers are added by each path)."""
        headers = [("ETag", self.etag), ("Vary", "Accept-Encoding")]
        if self.status == 200:
            headers.append(("Content-Type", MVT_CONTENT_TYPE))
            if self.gzipped:
                headers.append(("Content-Encoding", "gzip"))
        return headers


def tile_answer(
    dataset: Dataset, z: int, x: int, y: int, *, source: FeatureSource | None, version: str,
    moment: "MapMoment", accept_encoding: str, if_none_match: str,
) -> TileAnswer:  # fmt: skip
    """The answer to a request for a tile of a permitted dataset, ``source`` serving it as
    ``version`` (``tile_version``) at ``moment``, given the request's ``Accept-Encoding`` and
    ``If-None-Match``.

    Gzipped when the client accepts it. The ETag names the version shown (with the fields its
    tiles carry and its minimum zoom), the day ended features are judged on (or that they are
    shown) and the tile, so a client that has the tile is answered 304 without the tile being
    made again, and a tile another request made is served from the tile cache; a publish
    changes every ETag of the dataset.
    """
    ended = "ended" if moment.show_ended else f"to{moment.day:%Y%m%d}"
    compress = accepts_gzip(accept_encoding)
    etag = f'"{dataset.slug}-{version}-{ended}-{z}-{x}-{y}{"-gzip" if compress else ""}"'
    if if_none_match and _names_the_tile(parse_etags(if_none_match), etag):
        return TileAnswer(status=304, etag=etag, body=b"", gzipped=False)
    body = _tile_body(dataset, z, x, y, source, moment, etag, compress=compress)
    return TileAnswer(
        status=200 if body else 204, etag=etag, body=body, gzipped=bool(body) and compress
    )


def _names_the_tile(tags: list[str], etag: str) -> bool:
    """Whether If-None-Match's ``tags`` name the tile whose ETag is ``etag``.

    They compare weakly (RFC 9110, 13.1.2): a tag a proxy marked weak (W/"...") still names the
    tile. A weak tag names it in either encoding, as both hold the same features: a proxy that
    gzips (nginx) marks the plain tile's ETag weak, and the browser asks again with that tag and
    gzip accepted.
    """
    if etag.endswith('-gzip"'):
        either = {etag, etag.removesuffix('-gzip"') + '"'}
    else:
        either = {etag, etag.removesuffix('"') + '-gzip"'}
    return any(
        tag in ("*", etag) or (tag.startswith("W/") and tag.removeprefix("W/") in either)
        for tag in tags
    )


def _tile_body(
    dataset: Dataset, z: int, x: int, y: int, source: FeatureSource | None, moment: "MapMoment",
    etag: str, *, compress: bool,
) -> bytes:  # fmt: skip
    """The tile's bytes as the response carries them, from the tile cache when already made.

    The ETag names everything the bytes depend on; the dataset's id joins it so that a dataset
    deleted and made again under the same slug never meets the old one's tiles.
    """
    key = f"{dataset.pk}:{etag}"
    body = tile_cache.get(key)
    if body is None:
        body = b""
        if source:
            body = tile_render(
                dataset=dataset, z=z, x=x, y=y, source=source,
                show_ended=moment.show_ended, day=moment.day,
            )  # fmt: skip
        if body and compress:
            # mtime=0: the same tile is the same bytes whenever it is made (one ETag, one body).
            body = gzip.compress(body, compresslevel=6, mtime=0)
        tile_cache.put(key, body)
    return body
