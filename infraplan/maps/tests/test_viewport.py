"""The arithmetic of the picture's links (``viewport.view_moves``): zoom in and out about the
same centre within the map's zooms, move by half the view in Web Mercator as the map moves,
and stop at the world's edges; and how big the area a view shows is, in words."""

import math

import pytest

from infraplan.maps.viewport import (
    FALLBACK_SIZE,
    MAX_LATITUDE,
    MAX_ZOOM,
    MIN_ZOOM,
    View,
    distance_text,
    ground_size,
    mercator,
    view_bbox,
    view_moves,
)

CANTERBURY = View((1.08346, 51.27881), 16.0)
WIDTH, HEIGHT = FALLBACK_SIZE


def test_zoom_in_and_out_keep_the_centre_and_change_the_zoom_by_one():
    moves = view_moves(CANTERBURY, WIDTH, HEIGHT)
    assert moves["in"] == View(CANTERBURY.centre, 17.0)
    assert moves["out"] == View(CANTERBURY.centre, 15.0)


def test_each_move_goes_half_the_view_that_way_and_no_other():
    west, south, east, north = view_bbox(CANTERBURY.centre, CANTERBURY.zoom, WIDTH, HEIGHT)
    lon, lat = CANTERBURY.centre
    moves = view_moves(CANTERBURY, WIDTH, HEIGHT)

    # What was at the east edge comes to the middle, and so on: half the view each way.
    assert moves["east"].centre == pytest.approx((east, lat), abs=1e-9)
    assert moves["west"].centre == pytest.approx((west, lat), abs=1e-9)
    assert moves["north"].centre == pytest.approx((lon, north), abs=1e-9)
    assert moves["south"].centre == pytest.approx((lon, south), abs=1e-9)
    assert {move.zoom for name, move in moves.items() if name not in ("in", "out")} == {16.0}
    # Half the picture: 480 pixels east, 320 north, at zoom 16 (512-pixel tiles).
    metres_per_pixel = 2 * math.pi * 6378137 / (512 * 2**16)
    x, y = mercator(*CANTERBURY.centre)
    assert mercator(*moves["east"].centre)[0] - x == pytest.approx(480 * metres_per_pixel)
    assert mercator(*moves["north"].centre)[1] - y == pytest.approx(320 * metres_per_pixel)


def test_a_move_and_its_opposite_come_back():
    there = view_moves(CANTERBURY, WIDTH, HEIGHT)["north"]
    back = view_moves(there, WIDTH, HEIGHT)["south"]
    assert back.centre == pytest.approx(CANTERBURY.centre, abs=1e-9)


@pytest.mark.parametrize(
    ("zoom", "zoom_in", "zoom_out"),
    [
        (MAX_ZOOM, None, MAX_ZOOM - 1),
        (21.5, MAX_ZOOM, 20.5),  # the last step in is a half
        (MIN_ZOOM, MIN_ZOOM + 1, None),
        (4.5, 5.5, MIN_ZOOM),
        (1.0, MIN_ZOOM, None),  # a link further out than the map goes: in is to its least
    ],
)
def test_zooms_stop_at_the_maps_limits(zoom, zoom_in, zoom_out):
    moves = view_moves(View(CANTERBURY.centre, zoom), WIDTH, HEIGHT)
    assert (moves["in"].zoom if moves["in"] else None) == zoom_in
    assert (moves["out"].zoom if moves["out"] else None) == zoom_out


def test_moves_stop_at_the_worlds_edges():
    # At the top of the world the view cannot go further north; a move south still can.
    top = view_bbox((0, MAX_LATITUDE), 10, WIDTH, HEIGHT)
    at_top = View((0.0, MAX_LATITUDE), 10)
    moves = view_moves(at_top, WIDTH, HEIGHT)
    assert moves["north"] is None
    assert moves["south"].centre[1] < MAX_LATITUDE
    assert top[3] == MAX_LATITUDE
    # Near the edge, a move goes only as far as the edge: the view's north edge reaches 85°.
    near = View((0.0, 84.995), 12)
    north = view_moves(near, WIDTH, HEIGHT)["north"]
    assert view_bbox(north.centre, 12, WIDTH, HEIGHT)[3] == pytest.approx(MAX_LATITUDE)
    assert north.centre[1] > 84.995
    # East and west likewise, at the antimeridian.
    east = view_moves(View((180.0, 51.0), 10), WIDTH, HEIGHT)
    assert east["east"] is None and east["west"] is not None
    west = view_moves(View((-180.0, 51.0), 10), WIDTH, HEIGHT)
    assert west["west"] is None and west["east"] is not None


def test_a_view_wider_than_the_world_does_not_move_sideways():
    moves = view_moves(View((0.0, 0.0), 0.5), WIDTH, HEIGHT)
    assert moves["east"] is None and moves["west"] is None


def test_a_view_writes_its_centre_and_zoom_as_the_map_does():
    assert View((1.083456, 51.278809), 16).query() == {
        "center": "1.08346,51.27881",
        "zoom": "16.00",
    }


def test_the_ground_a_view_shows_is_true_at_its_centre():
    across, high = ground_size(CANTERBURY, WIDTH, HEIGHT)
    # 960 pixels at zoom 16 is 1,146 m of Web Mercator; at 51.3° that is about 717 m.
    assert across == pytest.approx(717, abs=1)
    assert high == pytest.approx(across * HEIGHT / WIDTH)


@pytest.mark.parametrize(
    ("metres", "text"),
    [
        (717.2, "720 m"),
        (478.1, "480 m"),
        (9.4, "9.4 m"),
        (999.6, "1 km"),
        (1316, "1.3 km"),
        (25_300, "25 km"),
        (123_456, "120 km"),
        (1_234_567, "1,200 km"),
    ],
)
def test_distances_are_said_to_two_figures(metres, text):
    assert distance_text(metres) == text
