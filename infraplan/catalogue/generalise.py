"""Per-zoom display geometry for polygon datasets.

Polygons that tile the ground (districts, wards, LSOAs) are treated as a coverage: first cleaned
(GEOS coverage cleaning: overlaps left by rounding are resolved and shared edges made identical),
then simplified together (GEOS coverage simplification), so neighbours keep sharing their edges
and no slivers open between them at any zoom. A dataset counts as a coverage when its polygons
overlap by less than ``COVERAGE_OVERLAP_LIMIT`` of their area. Other polygon layers are simplified
one by one, keeping each valid. Tolerance is half a screen pixel at each zoom (512-pixel tiles).
The stored geometry is never changed: this is display geometry only.

Outside coverages, only levels that save at least ``MIN_VERTICES_SAVED`` vertices over the
stored geometry are kept: tiles fall back to the feature's own geometry where a level is missing, so a layer of a
million small parcels (a rectangle at best becomes a triangle) costs almost nothing here, while
a district boundary of thousands of vertices gets every level. The rows are written with COPY.
"""

import itertools

import numpy as np
import shapely
from django.contrib.gis.db.models.functions import AsWKB
from django.db import connection, transaction
from django.db.models import Func, IntegerField

from .models import Dataset, Feature, FeatureGeneralisation
from .store import CLEANED_ZOOM, MAX_GENERALISED_ZOOM, live_at

WEB_MERCATOR_WORLD_METRES = 40_075_016.685_578_5
COVERAGE_OVERLAP_LIMIT = 0.001
CLEAR_MARGIN = 10
MIN_VERTICES_SAVED = 8
RING_MINIMUM = 4  # coordinates of the smallest closed ring, a triangle
CHUNK = 100_000  # features at a time where a whole layer need not be in memory at once


def tolerance_for_zoom(zoom: int) -> float:
    """Half a 512-pixel tile's pixel at ``zoom``, in EPSG:3857 metres."""
    return WEB_MERCATOR_WORLD_METRES / (2**zoom) / 512 / 2


# The table is named twice, not through one CTE: a CTE read twice is materialised, and the
# join against it could not use the spatial index (a nested loop over every pair).
_SAMPLE_OVERLAP = """
    SELECT
        coalesce(sum(ST_Area(chosen.geom_3857)), 0),
        coalesce(sum((
            SELECT sum(ST_Area(ST_Intersection(chosen.geom_3857, other.geom_3857)))
            FROM {feature} AS other
            WHERE other.dataset_id = %(dataset)s AND other.valid_to IS NULL
                  AND other.valid_from <= %(version)s
                  AND other.geom_3857 && chosen.geom_3857
                  AND ST_Overlaps(chosen.geom_3857, other.geom_3857)
        )), 0)
    FROM {feature} AS chosen
    WHERE chosen.dataset_id = %(dataset)s AND chosen.valid_to IS NULL
          AND chosen.valid_from <= %(version)s AND chosen.geom_3857 IS NOT NULL
          AND chosen.id %% %(step)s = 0
"""


def _clearly_overlapping(
    dataset: Dataset, version_number: int, feature_count: int, sample: int = 20_000
) -> bool:
    """Whether the live polygons overlap far too much to be a coverage, judged in the database
    from an even sample of them against all (through the spatial index of live rows): cheap
    where ``is_coverage`` would union a whole layer, and it needs no geometry read out.

    An eighth of the sample is judged first: a layer that overlaps ``CLEAR_MARGIN`` times more
    than a coverage may there (a million parcels, many of them overlapping) needs no more.

    Generalising runs as a version is published, when its live rows are the open ones
    (``valid_to`` null), which the partial spatial index holds.
    """

    def overlap_share(size: int) -> tuple[int, float]:
        step = max(1, feature_count // size)
        with connection.cursor() as cursor:
            cursor.execute(
                _SAMPLE_OVERLAP.format(feature=Feature._meta.db_table),
                {"dataset": dataset.pk, "version": version_number, "step": step},
            )
            total, overlap = cursor.fetchone()
        return step, overlap / total if total > 0 else 0.0

    limit = 2 * COVERAGE_OVERLAP_LIMIT
    step, share = overlap_share(sample // 8)
    if share > CLEAR_MARGIN * limit:
        return True
    if step == 1:  # every feature was judged
        return share > limit
    return overlap_share(sample)[1] > limit


def is_coverage(geometries: np.ndarray) -> bool:
    """Whether polygons tile the ground: they overlap by (almost) nothing."""
    total = float(np.sum(shapely.area(geometries)))
    if total == 0:
        return False
    if shapely.coverage_is_valid(geometries):
        return True
    overlap = total - shapely.union_all(geometries).area
    return overlap / total < COVERAGE_OVERLAP_LIMIT


def dataset_generalise(*, dataset: Dataset, version_number: int, feature_count: int) -> int:
    """Rebuild the generalisations of the dataset's features live at ``version_number`` (of
    which there are ``feature_count``, as publishing counted them); returns how many levels
    were stored."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("dataset_generalise must run inside the publishing transaction")
    live = Feature.objects.filter(live_at(version_number), dataset=dataset, geom__isnull=False)
    FeatureGeneralisation.objects.filter(feature__in=live).delete()
    if _clearly_overlapping(dataset, version_number, feature_count):
        # Not a coverage: only polygons with enough coordinates to save enough are read out
        # (see below), so a layer of a million parcels reads none.
        enough = Func("geom_3857", function="ST_NPoints", output_field=IntegerField())
        ids, geometries = _live_geometries(
            live.alias(points=enough).filter(points__gte=MIN_VERTICES_SAVED + RING_MINIMUM)
        )
        coverage = False
    else:
        ids, geometries = _live_geometries(live)
        coverage = len(ids) > 0 and is_coverage(geometries)
    if not len(ids):
        return 0
    levels: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # zoom -> (indexes, geometries)
    if coverage:
        everything = np.arange(len(geometries))
        cleaned = shapely.coverage_clean(geometries)
        levels[CLEANED_ZOOM] = (everything, cleaned)
        for zoom in range(MAX_GENERALISED_ZOOM + 1):
            levels[zoom] = (
                everything,
                shapely.coverage_simplify(cleaned, tolerance_for_zoom(zoom)),
            )
    else:
        # Simplifying keeps at least a closed triangle (four coordinates) of every ring, so a
        # polygon of fewer than MIN_VERTICES_SAVED + 4 coordinates can never save enough: a
        # layer of parcels is ruled out by counting, without simplifying any of it. Of the
        # rest, simplifying with a smaller tolerance removes no vertex a larger one keeps:
        # features the coarsest level saves too little on save too little at every level.
        candidates = np.flatnonzero(
            shapely.get_num_coordinates(geometries) >= MIN_VERTICES_SAVED + RING_MINIMUM
        )
        saved = np.concatenate(
            [
                shapely.get_num_coordinates(part)
                - shapely.get_num_coordinates(
                    shapely.simplify(part, tolerance_for_zoom(0), preserve_topology=True)
                )
                for part in np.array_split(geometries[candidates], max(1, len(candidates) // CHUNK))
            ]
        )
        simplifiable = candidates[saved >= MIN_VERTICES_SAVED]
        for zoom in range(MAX_GENERALISED_ZOOM + 1):
            levels[zoom] = (
                simplifiable,
                shapely.simplify(
                    geometries[simplifiable], tolerance_for_zoom(zoom), preserve_topology=True
                ),
            )
    return _levels_write(dataset, ids, geometries, levels, coverage=coverage)


def _live_geometries(live) -> tuple[np.ndarray, np.ndarray]:
    """Ids and geometries of ``live`` features, read in chunks so that only one chunk's raw
    rows are held beside the geometries."""
    ids: list[np.ndarray] = []
    parts: list[np.ndarray] = []
    rows = live.order_by("pk").values_list("pk", AsWKB("geom_3857")).iterator(chunk_size=CHUNK)
    while chunk := list(itertools.islice(rows, CHUNK)):
        ids.append(np.fromiter((pk for pk, _ in chunk), dtype=np.int64, count=len(chunk)))
        parts.append(shapely.from_wkb([bytes(wkb) for _, wkb in chunk]))
    if not ids:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
    return np.concatenate(ids), np.concatenate(parts)


def _levels_write(
    dataset: Dataset,
    ids: np.ndarray,
    geometries: np.ndarray,
    levels: dict[int, tuple[np.ndarray, np.ndarray]],
    *,
    coverage: bool,
) -> int:
    """COPY each level's geometries that save enough vertices; returns how many."""
    written = 0
    table = FeatureGeneralisation._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} (feature_id, dataset_id, zoom, geom_3857) FROM STDIN") as copy,
    ):
        for zoom, (indexes, generalised) in levels.items():
            keep = ~(shapely.is_missing(generalised) | shapely.is_empty(generalised))
            saved = shapely.get_num_coordinates(geometries[indexes]) - shapely.get_num_coordinates(
                generalised
            )
            if coverage:  # cleaning moves shared edges: any difference keeps neighbours joined
                keep &= ~shapely.equals_exact(generalised, geometries[indexes], tolerance=0)
            else:
                keep &= saved >= MIN_VERTICES_SAVED
            chosen = shapely.set_srid(generalised[keep], 3857)
            for pk, wkb in zip(
                ids[indexes[keep]].tolist(),
                shapely.to_wkb(chosen, hex=True, include_srid=True),
                strict=True,
            ):
                copy.write_row((pk, dataset.pk, zoom, wkb))
            written += len(chosen)
    return written
