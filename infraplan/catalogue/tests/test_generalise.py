"""Display generalisation of polygon layers: which features get simplified levels."""

import math

import pytest
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from infraplan.catalogue.generalise import MIN_VERTICES_SAVED, _clearly_overlapping
from infraplan.catalogue.models import FeatureGeneralisation
from infraplan.catalogue.publishing import (
    FeatureRow,
    version_add_features,
    version_publish,
    version_start,
)
from infraplan.catalogue.store import CLEANED_ZOOM, MAX_GENERALISED_ZOOM
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db

CANTERBURY_BNG = (615_000, 157_500)


def polygons_publish(dataset, shapes: dict[str, shapely.Geometry]) -> None:
    version = version_start(actor=None, dataset=dataset, source="test")
    rows = [
        FeatureRow(
            organisation=dataset.owner,
            reference=reference,
            properties={},
            geometry=GEOSGeometry(shape.wkt, srid=27700),
        )
        for reference, shape in shapes.items()
    ]
    with transaction.atomic():
        version_add_features(version=version, rows=rows)
        version_publish(actor=None, version=version)


def zooms_by_reference(dataset) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for reference, zoom in FeatureGeneralisation.objects.filter(
        feature__dataset=dataset
    ).values_list("feature__reference", "zoom"):
        found.setdefault(reference, set()).add(zoom)
    return found


def ring_of(coordinates: int, centre: tuple[float, float]) -> shapely.Polygon:
    """A polygon of ``coordinates`` coordinates (closing one included), 600 m across."""
    corners = coordinates - 1
    return shapely.Polygon(
        [
            (centre[0] + 300 * math.cos(2 * math.pi * i / corners),
             centre[1] + 300 * math.sin(2 * math.pi * i / corners))
            for i in range(corners)
        ]
    )  # fmt: skip


# The smaller shapes straddle the outline (overlapping: judged in the database from a sample)
# or lie inside it (contained, not overlapping: the layer is read and unioned).
@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(2_000, id="straddling-the-outline"),
        pytest.param(1_000, id="inside-the-outline"),
    ],
)
def test_overlapping_polygons_keep_levels_only_where_simplifying_saves_vertices(personas, offset):
    """A layer whose polygons overlap is simplified feature by feature. Every ring keeps a
    closed triangle, so a shape saves at most its coordinates less four: a detailed outline and
    a ring of MIN_VERTICES_SAVED + 4 coordinates get levels; a rectangle and a ring of one
    coordinate fewer get none and are tiled as stored. The smaller shapes lie across the
    outline's edge (a layer clearly not a coverage, told from a sample) or inside it (told by
    unioning the layer)."""
    east, north = CANTERBURY_BNG
    dataset = dataset_make(slug="sites-overlapping", owner=personas.organisation_a,
                           geometry_type="polygon")  # fmt: skip
    polygons_publish(
        dataset,
        {
            "detailed": shapely.Point(east, north).buffer(2_000, quad_segs=64),
            "rectangle": shapely.box(
                east + offset - 200, north - 200, east + offset + 200, north + 200
            ),
            "just-enough": ring_of(MIN_VERTICES_SAVED + 4, (east - offset, north)),
            "one-short": ring_of(MIN_VERTICES_SAVED + 3, (east, north + offset)),
        },
    )
    levels = zooms_by_reference(dataset)
    assert set(levels) == {"detailed", "just-enough"}
    assert 0 in levels["just-enough"]
    assert 0 in levels["detailed"] and CLEANED_ZOOM not in levels["detailed"]
    assert levels["detailed"] <= set(range(MAX_GENERALISED_ZOOM + 1))


def test_a_coverage_gets_every_level_for_every_feature(personas):
    """Polygons that tile the ground are cleaned and simplified together: each feature, however
    simple, gets the cleaned level, so neighbours keep sharing their edges."""
    east, north = CANTERBURY_BNG
    dataset = dataset_make(
        slug="parcels-coverage", owner=personas.organisation_a, geometry_type="polygon"
    )
    polygons_publish(
        dataset,
        {
            "west": shapely.box(east - 1_000, north, east, north + 1_000),
            "east": shapely.box(east, north, east + 1_000, north + 1_000),
        },
    )
    levels = zooms_by_reference(dataset)
    assert set(levels) == {"west", "east"}
    assert all(CLEANED_ZOOM in zooms for zooms in levels.values())


def _sample_queries(dataset, sample: int) -> tuple[bool, int]:
    """What ``_clearly_overlapping`` finds of the dataset's current version, and how many
    samples it read to find it."""
    version = dataset.current_version
    with CaptureQueriesContext(connection) as queries:
        clearly = _clearly_overlapping(dataset, version.number, version.feature_count, sample)
    return clearly, sum("chosen.id %" in query["sql"] for query in queries.captured_queries)


def test_a_layer_overlapping_everywhere_is_told_from_an_eighth_of_the_sample(personas):
    """Half of every square overlaps the next: the first, smaller sample already shows far more
    overlap than a coverage may have, so the whole sample is never read."""
    east, north = CANTERBURY_BNG
    dataset = dataset_make(slug="overlapping-squares", owner=personas.organisation_a,
                           geometry_type="polygon")  # fmt: skip
    polygons_publish(
        dataset,
        {f"s{i}": shapely.box(east + 50 * i, north, east + 50 * i + 100, north + 100)
         for i in range(64)},
    )  # fmt: skip
    assert _sample_queries(dataset, sample=16) == (True, 1)


def test_a_layer_overlapping_a_little_is_judged_on_the_whole_sample(personas):
    """A grid of squares each overlapping its neighbours slightly (more than a coverage may,
    less than the first sample's margin): the first sample cannot tell, the whole sample does;
    a true coverage is read in full too, and is one."""
    east, north = CANTERBURY_BNG
    grid = {
        f"g{i}-{j}": shapely.box(east + 100 * i, north + 100 * j, east + 100 * i + 100,
                                 north + 100 * j + 100)
        for i in range(8) for j in range(8)
    }  # fmt: skip
    coverage = dataset_make(slug="grid-coverage", owner=personas.organisation_a,
                            geometry_type="polygon")  # fmt: skip
    polygons_publish(coverage, grid)
    assert _sample_queries(coverage, sample=16) == (False, 2)
    # Every square reaches half a metre into its eastern neighbour: each overlaps its
    # neighbours by 0.5% to 1% of its area, over a coverage's limit, under the first sample's.
    nudged = {
        reference: shapely.box(*(lambda b: (b[0], b[1], b[2] + 0.5, b[3]))(shape.bounds))
        for reference, shape in grid.items()
    }
    overlapping = dataset_make(slug="grid-overlapping", owner=personas.organisation_a,
                               geometry_type="polygon")  # fmt: skip
    polygons_publish(overlapping, nudged)
    assert _sample_queries(overlapping, sample=16) == (True, 2)
