"""Per-zoom display geometry for polygon datasets.

Polygons that tile the ground (districts, wards, LSOAs) are treated as a coverage: first cleaned
(GEOS coverage cleaning: overlaps left by rounding are resolved and shared edges made identical),
then simplified together (GEOS coverage simplification), so neighbours keep sharing their edges
and no slivers open between them at any zoom. A dataset counts as a coverage when its polygons
overlap by less than ``COVERAGE_OVERLAP_LIMIT`` of their area. Other polygon layers are simplified
one by one, keeping each valid. Tolerance is half a screen pixel at each zoom (512-pixel tiles).
The stored geometry is never changed: this is display geometry only.
"""

import numpy as np
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction

from .models import Dataset, Feature, FeatureGeneralisation
from .store import CLEANED_ZOOM, MAX_GENERALISED_ZOOM, live_at

WEB_MERCATOR_WORLD_METRES = 40_075_016.685_578_5
COVERAGE_OVERLAP_LIMIT = 0.001


def tolerance_for_zoom(zoom: int) -> float:
    """Half a 512-pixel tile's pixel at ``zoom``, in EPSG:3857 metres."""
    return WEB_MERCATOR_WORLD_METRES / (2**zoom) / 512 / 2


def is_coverage(geometries: np.ndarray) -> bool:
    """Whether polygons tile the ground: they overlap by (almost) nothing."""
    total = float(np.sum(shapely.area(geometries)))
    if total == 0:
        return False
    if shapely.coverage_is_valid(geometries):
        return True
    overlap = total - shapely.union_all(geometries).area
    return overlap / total < COVERAGE_OVERLAP_LIMIT


def dataset_generalise(*, dataset: Dataset, version_number: int) -> int:
    """Rebuild the generalisations of the dataset's features live at ``version_number``."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("dataset_generalise must run inside the publishing transaction")
    rows = list(
        Feature.objects.filter(live_at(version_number), dataset=dataset, geom__isnull=False)
        .order_by("pk")
        .values_list("pk", "geom_3857")
    )
    if not rows:
        return 0
    ids = [pk for pk, _ in rows]
    geometries = shapely.from_wkb([bytes(geom.wkb) for _, geom in rows])
    FeatureGeneralisation.objects.filter(feature_id__in=ids).delete()
    created = []
    levels: dict[int, np.ndarray] = {}
    if is_coverage(geometries):
        cleaned = shapely.coverage_clean(geometries)
        levels[CLEANED_ZOOM] = cleaned
        for zoom in range(MAX_GENERALISED_ZOOM + 1):
            levels[zoom] = shapely.coverage_simplify(cleaned, tolerance_for_zoom(zoom))
    else:
        for zoom in range(MAX_GENERALISED_ZOOM + 1):
            levels[zoom] = shapely.simplify(
                geometries, tolerance_for_zoom(zoom), preserve_topology=True
            )
    for zoom, generalised_geometries in levels.items():
        for pk, original, generalised in zip(ids, geometries, generalised_geometries, strict=True):
            if generalised is None or generalised.is_empty:
                generalised = original
            created.append(
                FeatureGeneralisation(
                    feature_id=pk,
                    zoom=zoom,
                    geom_3857=GEOSGeometry(memoryview(shapely.to_wkb(generalised)), srid=3857),
                )
            )
    FeatureGeneralisation.objects.bulk_create(created, batch_size=1000)
    return len(created)
