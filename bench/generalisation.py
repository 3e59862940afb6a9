"""Tile rendering: per-zoom coverage generalisation against the full stored geometry.

Run against a database with the demo data loaded (after `make run`):

    .venv/bin/python bench/generalisation.py

Prints, for small-scale tiles of the districts, the time and size of each tile cut from the
generalised geometry as a ratio of the same tile cut from the full geometry, in this process.
"""

import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from infraplan.catalogue import store  # noqa: E402
from infraplan.catalogue.models import Dataset  # noqa: E402
from infraplan.maps.tiles import tile_render  # noqa: E402

REPEATS = 20


def tile_for(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def measure(dataset: Dataset, z: int, x: int, y: int) -> tuple[float, int]:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        tile = tile_render(dataset=dataset, z=z, x=x, y=y)
        times.append(time.perf_counter() - started)
    return statistics.median(times), len(tile)


def main() -> None:
    dataset = Dataset.objects.get(slug="districts")
    print(f"{'zoom':>4} {'full ms':>8} {'gen ms':>7} {'time ratio':>10} {'size ratio':>10}")
    for zoom in (4, 6, 8, 10):
        z, x, y = tile_for(0.75, 51.2, zoom)
        generalised_time, generalised_size = measure(dataset, z, x, y)
        store.CLEANED_ZOOM, saved = -1, store.CLEANED_ZOOM  # no generalisation matches -1
        try:
            full_time, full_size = measure(dataset, z, x, y)
        finally:
            store.CLEANED_ZOOM = saved
        print(
            f"{zoom:>4} {full_time * 1000:>8.2f} {generalised_time * 1000:>7.2f} "
            f"{generalised_time / full_time:>10.2f} {generalised_size / full_size:>10.2f}"
        )


if __name__ == "__main__":
    main()
