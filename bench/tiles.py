"""Tiles through the running app against the same tiles straight from PostGIS, in one run.

Starts the application with gunicorn on a free port (against DATABASE_URL, which must hold the
demo data: run `make run` once), then for at least 500 tile URLs at zooms 6-16 over the phase-one
area on the densest layers:
- times each tile through HTTP: a cold request (the tile is made), a request with the ETag it
  returned (answered 304), and a request without it, as another officer's browser would send
  (served from the app's tile cache), and
- times the same tile straight from PostGIS with the same SQL (infraplan.maps.tiles.tile_render),
and prints the median and 95th percentile per zoom band, with the ratios the targets are set on:
app median (cold) within 1.3x of SQL; p95 under 50 ms at zooms 12-16; ETag hits at least 5x
faster than misses. The cached request's median and its ratio to the SQL are printed beside them.

It also calls the same WSGI application in the benchmark's own process for each tile (cold: that
process's tile cache is its own), so the app's cost without the HTTP hop is printed beside the
ratios ("in-process"). It also times the floor under every request: a small static file from the same server (HTTP,
gunicorn and Django's handler, no database) and a bare WSGI app on the same gunicorn, so the
app's own cost per tile (app median minus floor) can be read beside the ratios.

    .venv/bin/python bench/tiles.py [--per-zoom 50] [--seed 1]
"""

import argparse
import http.client
import io
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["USAGE_LOG_ENABLED"] = "false"  # the in-process app's requests are not usage

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.gis.db.models import Extent  # noqa: E402
from django.contrib.gis.db.models.functions import Transform  # noqa: E402
from django.contrib.staticfiles.storage import staticfiles_storage  # noqa: E402
from django.utils import timezone  # noqa: E402

from infraplan.catalogue.models import Dataset  # noqa: E402
from infraplan.maps.tiles import tile_render  # noqa: E402

DENSE_LAYERS = [
    "tree-preservation-zones", "listed-buildings", "article-4-areas", "ancient-woodland",
    "schools", "brownfield-land", "lsoa-2011", "gp-practices", "wards", "districts",
]  # fmt: skip
BANDS = {"z6-8": range(6, 9), "z9-11": range(9, 12), "z12-16": range(12, 17)}


def wgs84_extent(features) -> tuple[float, float, float, float] | None:
    return features.annotate(wgs84=Transform("geom", 4326)).aggregate(box=Extent("wgs84"))["box"]


def phase_one_bounds() -> tuple[float, float, float, float]:
    """WGS84 box around the profile's phase-one districts, from the districts dataset."""
    codes = [area.code for area in settings.AUTHORITY_PROFILE.areas if area.in_phase_one]
    districts = Dataset.objects.get(slug="districts")
    return wgs84_extent(districts.features.filter(valid_to__isnull=True, reference__in=codes))


def overlap(first, second) -> tuple[float, float, float, float] | None:
    box = (max(first[0], second[0]), max(first[1], second[1]),
           min(first[2], second[2]), min(first[3], second[3]))  # fmt: skip
    return box if box[0] < box[2] and box[1] < box[3] else None


def tiles_over(bounds, zoom: int) -> list[tuple[int, int, int]]:
    min_lon, min_lat, max_lon, max_lat = bounds
    n = 2**zoom

    def x_of(lon: float) -> int:
        return int((lon + 180) / 360 * n)

    def y_of(lat: float) -> int:
        return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    return [
        (zoom, x, y)
        for x in range(x_of(min_lon), x_of(max_lon) + 1)
        for y in range(y_of(max_lat), y_of(min_lat) + 1)
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_app(port: int, application: str = "config.wsgi:application") -> subprocess.Popen:
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), application,
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket",
         "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "SECURE_COOKIES": "false", "USAGE_LOG_ENABLED": "false"},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("the app did not start within 30 s")


def bare_wsgi_app(environ, start_response):
    """The least any WSGI app on this server can cost: for the floor measurement."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def waiting_wsgi_app(environ, start_response):
    """A WSGI app that does nothing but wait ``BENCH_WAIT_MS`` (the tile SQL's median), as a
    tile request waits on PostgreSQL: what the HTTP hop costs a request that takes that long."""
    time.sleep(float(os.environ["BENCH_WAIT_MS"]) / 1000)
    return bare_wsgi_app(environ, start_response)


def floor_median(port: int, path: str, count: int = 300) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = [timed_get(connection, path, {})[0] for _ in range(count)]
    return statistics.median(times) * 1000


def bare_floor_median(application: str = "bench.tiles:bare_wsgi_app") -> float:
    port = free_port()
    server = start_app(port, application)
    try:
        return floor_median(port, "/")
    finally:
        server.terminate()
        server.wait(timeout=10)


# Headers every tile request sends.
REQUEST_HEADERS = {"Accept-Encoding": "gzip"}
# What every tile URL asks beyond the tile (``--through-django``: the date).
TILE_QUERY = ""


def timed_get(
    connection: http.client.HTTPConnection, path: str, headers: dict
) -> tuple[float, int, str]:
    started = time.perf_counter()
    connection.request("GET", path, headers={**REQUEST_HEADERS, **headers})
    response = connection.getresponse()
    response.read()
    return time.perf_counter() - started, response.status, response.getheader("ETag") or ""


def tile_path(dataset: Dataset, z: int, x: int, y: int) -> str:
    return f"/tiles/{dataset.slug}/{z}/{x}/{y}.mvt{TILE_QUERY}"


def in_process_time(application, address: str) -> float:
    """Seconds the WSGI ``application`` takes to answer ``address`` (a path, and a query string
    if it has one, else TILE_QUERY's) called in this process."""
    path, mark, query = address.partition("?")
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path,
        "QUERY_STRING": query if mark else TILE_QUERY.lstrip("?"),
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "REMOTE_ADDR": "127.0.0.1",
        **{f"HTTP_{name.upper().replace('-', '_')}": value
           for name, value in REQUEST_HEADERS.items()},
    }  # fmt: skip
    started = time.perf_counter()
    body = application(environ, lambda status, headers: None)
    b"".join(body)
    getattr(body, "close", lambda: None)()
    return time.perf_counter() - started


def band_of(zoom: int) -> str:
    return next(name for name, zooms in BANDS.items() if zoom in zooms)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-zoom", type=int, default=80)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--through-django", action="store_true",
        help="ask each tile as of today, as the map's time control does: Django answers those "
        "(its whole path: session, authentication, the gate) instead of the public tiles' path "
        "(maps/public_tiles.py)",
    )  # fmt: skip
    arguments = parser.parse_args()
    if arguments.through_django:
        global TILE_QUERY
        TILE_QUERY = f"?as_of={timezone.localdate():%Y-%m-%d}"

    # Read with the current version number, as the app does, so the SQL side times the tile only.
    layers = list(
        Dataset.objects.with_current_version_number().filter(
            slug__in=DENSE_LAYERS, versions__is_current=True
        )
    )
    if not layers:
        raise SystemExit("no demo layers in this database: run `make run` first")
    print("layers:", ", ".join(sorted(layer.slug for layer in layers)))
    bounds = phase_one_bounds()
    # Each layer is sampled where it has data: its extent within the phase-one area.
    extents = {}
    for layer in layers:
        extent = wgs84_extent(layer.features.filter(valid_to__isnull=True))
        extents[layer.slug] = overlap(extent, bounds) if extent else None
    random.seed(arguments.seed)
    sample = []
    for zoom in range(6, 17):
        candidates = [
            (layer, *tile)
            for layer in layers
            if extents[layer.slug] and zoom >= layer.min_zoom
            for tile in tiles_over(extents[layer.slug], zoom)
        ]
        sample.extend(random.sample(candidates, min(arguments.per_zoom, len(candidates))))
    print(f"{len(sample)} tile URLs over {bounds}")

    port = free_port()
    server = start_app(port)
    results: dict[str, dict[str, list[float]]] = {
        band: {"app": [], "sql": [], "etag": [], "warm": [], "in_process": []} for band in BANDS
    }
    statuses: dict[int, int] = {}
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        # Warm up connections, imports and PostgreSQL's buffers on the same tiles with ended
        # features shown: to the app's tile cache those are other tiles, so the timed requests
        # below start cold.
        for dataset, z, x, y in sample[:20]:
            timed_get(connection, f"/tiles/{dataset.slug}/{z}/{x}/{y}.mvt?ended=show", {})
            tile_render(dataset=dataset, z=z, x=x, y=y)
        # Each kind of request is timed in a pass of its own over all the tiles, so that each
        # follows a request of its own kind, as in the floors' loops. Interleaved (the SQL
        # between the app's requests for each tile), a request that followed the benchmark's
        # own SQL found the app's process idle and paid for waking it: a 304 then measured
        # slower than a 200 from the tile cache, which does more.
        etags = []
        for dataset, z, x, y in sample:
            app_time, status, etag = timed_get(connection, tile_path(dataset, z, x, y), {})
            statuses[status] = statuses.get(status, 0) + 1
            results[band_of(z)]["app"].append(app_time)
            etags.append(etag)
        for dataset, z, x, y in sample:
            started = time.perf_counter()
            tile_render(dataset=dataset, z=z, x=x, y=y)
            results[band_of(z)]["sql"].append(time.perf_counter() - started)
        from config.wsgi import application

        for dataset, z, x, y in sample[:20]:
            in_process_time(application, f"/tiles/{dataset.slug}/{z}/{x}/{y}.mvt?ended=show")
        for dataset, z, x, y in sample:
            results[band_of(z)]["in_process"].append(
                in_process_time(application, tile_path(dataset, z, x, y).split("?")[0])
            )
        for (dataset, z, x, y), etag in zip(sample, etags, strict=True):
            if etag:
                path = tile_path(dataset, z, x, y)
                hit_time, hit_status, _ = timed_get(connection, path, {"If-None-Match": etag})
                if hit_status == 304:
                    results[band_of(z)]["etag"].append(hit_time)
        for dataset, z, x, y in sample:
            warm_time = timed_get(connection, tile_path(dataset, z, x, y), {})[0]
            results[band_of(z)]["warm"].append(warm_time)
        static_floor = floor_median(port, staticfiles_storage.url("images/favicon.svg"))
    finally:
        server.terminate()
        server.wait(timeout=10)
    bare_floor = bare_floor_median()
    wait = statistics.median(results["z12-16"]["sql"]) * 1000
    os.environ["BENCH_WAIT_MS"] = str(wait)
    waiting_floor = bare_floor_median("bench.tiles:waiting_wsgi_app")

    print(f"statuses: {statuses}")
    print(
        f"floor: a static file through the app {static_floor:.2f} ms median, "
        f"a bare WSGI app on the same gunicorn {bare_floor:.2f} ms, "
        f"one that only waits {wait:.2f} ms (the z12-16 SQL median) {waiting_floor:.2f} ms "
        f"(ratio {waiting_floor / wait:.2f})"
    )
    print(f"{'band':<7}{'n':>5}{'app med':>9}{'sql med':>9}{'ratio':>7}{'app p95':>9}{'sql p95':>9}"
          f"{'etag med':>10}{'miss/hit':>9}{'cached med':>12}{'ratio':>7}"
          f"{'in-process':>12}{'ratio':>7}")  # fmt: skip
    for band, series in results.items():
        if not series["app"]:
            continue
        app_median = statistics.median(series["app"]) * 1000
        sql_median = statistics.median(series["sql"]) * 1000
        warm_median = statistics.median(series["warm"]) * 1000
        in_process_median = statistics.median(series["in_process"]) * 1000
        etag = (
            f"{statistics.median(series['etag']) * 1000:>10.2f}" if series["etag"] else f"{'-':>10}"
        )
        speedup = (
            f"{app_median / (statistics.median(series['etag']) * 1000):>9.1f}"
            if series["etag"] else f"{'-':>9}"
        )  # fmt: skip
        print(
            f"{band:<7}{len(series['app']):>5}{app_median:>9.2f}{sql_median:>9.2f}"
            f"{app_median / sql_median:>7.2f}{percentile(series['app'], 0.95) * 1000:>9.2f}"
            f"{percentile(series['sql'], 0.95) * 1000:>9.2f}{etag}{speedup}"
            f"{warm_median:>12.2f}{warm_median / sql_median:>7.2f}"
            f"{in_process_median:>12.2f}{in_process_median / sql_median:>7.2f}"
        )


if __name__ == "__main__":
    main()
