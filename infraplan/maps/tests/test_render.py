"""The server-rendered PNG of a map view: real pictures in the datasets' colours, behind the gate."""

import io

import numpy
import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from matplotlib.image import imread
from PIL import Image
from pyproj import Transformer

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.demo import demo_load
from infraplan.core.heavy import LOCK_SPACE
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points
from infraplan.maps.render import BACKGROUND, scale_length

pytestmark = pytest.mark.django_db

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ASHFORD_BBOX = "0.86,51.14,0.89,51.16"
RED = "#d4351c"


def pixels_like(png: bytes, colour: str, tolerance: int = 24) -> int:
    """How many pixels of ``png`` are within ``tolerance`` (sum of channel differences) of
    ``colour``."""
    image = (imread(io.BytesIO(png), format="png")[:, :, :3] * 255).astype(int)
    target = numpy.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((numpy.abs(image - target).sum(axis=2) <= tolerance).sum())


def size_of(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_SIGNATURE)
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


@pytest.fixture
def red_sites(personas):
    dataset = dataset_make(
        slug="red-sites", owner=personas.organisation_a, access_level="organisations",
        style={"kind": "simple", "colour": RED},
    )  # fmt: skip
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    return dataset


def test_png_is_the_requested_size_in_the_layers_colours(red_sites, client_as, personas):
    response = client_as(personas.viewer_a).get(
        "/map.png", {"bbox": ASHFORD_BBOX, "layers": "red-sites", "width": 400, "height": 300}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, max-age=300"
    assert size_of(response.content) == (400, 300)
    assert pixels_like(response.content, RED) > 40  # two dots of about 6 pixels across


def test_head_answers_as_get_would_without_drawing(red_sites, client_as, personas):
    """A link checker asks HEAD: GET's status and headers, with nothing drawn and no slot taken
    (it answers even when every slot is busy) and nothing recorded as read."""
    query = {"bbox": ASHFORD_BBOX, "layers": "red-sites"}
    viewer = client_as(personas.viewer_a)
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        for slot in range(settings.HEAVY_REQUEST_SLOTS):  # every slot taken by another process
            other.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_SPACE, slot])
        asked = viewer.head("/map.png", query)
        assert asked.status_code == 200 and asked.content == b""
        assert asked["Content-Type"] == "image/png"
        assert asked["Cache-Control"] == "private, max-age=300"
        assert viewer.head("/map.png", {**query, "bbox": "1,2,3"}).status_code == 400
        assert viewer.get("/map.png", query).status_code == 503  # drawing needs a slot
    assert not AuditEntry.objects.filter(action="dataset.read.png").exists()
    assert viewer.get("/map.png", query).status_code == 200
    assert AuditEntry.objects.filter(action="dataset.read.png").exists()


def test_png_leaves_out_layers_the_user_may_not_see(red_sites, client_as, personas):
    query = {"bbox": ASHFORD_BBOX, "layers": "red-sites", "width": 400, "height": 300}
    response = client_as(personas.member_b).get("/map.png", query)
    assert response.status_code == 200
    assert size_of(response.content) == (400, 300)
    assert pixels_like(response.content, RED) == 0


def test_a_png_that_left_out_a_layer_is_not_shared_from_a_cache(red_sites, districts, client_as):
    """Whoever may see the layer left out (the same person, once signed in) must not be
    answered from a copy cached for someone who may not."""
    query = {"bbox": ASHFORD_BBOX, "layers": "districts,red-sites", "width": 400, "height": 300}
    response = client_as(None).get("/map.png", query)

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, max-age=300"
    assert "Cookie" in response["Vary"]


def test_png_draws_polygons_in_the_default_accent_colour(districts, client_as):
    response = client_as(None).get("/map.png", {"layers": "districts", "width": 300})
    accent = settings.AUTHORITY_PROFILE.branding.accent_colour
    assert size_of(response.content) == (300, 600)
    assert response["Cache-Control"] == "public, max-age=300"
    assert pixels_like(response.content, accent) > 500


def red_pixel_centre(png: bytes, below: int = 40) -> tuple[float, float]:
    """The centre of the red pixels below the top ``below`` rows (where the legend's key is)."""
    image = (imread(io.BytesIO(png), format="png")[:, :, :3] * 255).astype(int)
    red = numpy.abs(image - [0xD4, 0x35, 0x1C]).sum(axis=2) <= 24
    red[:below] = False
    rows, columns = numpy.nonzero(red)
    assert len(rows), "nothing red drawn"
    return float(columns.mean()), float(rows.mean())


def test_png_draws_the_margins_a_box_of_other_proportions_gains(personas, client):
    """A box taller than the picture is widened to the picture's proportions about its
    centre, as the interactive map fits bounds; what lies in the margins is drawn there too,
    each point where Web Mercator (worked out here with pyproj) puts it."""
    dataset = dataset_make(
        slug="red-dots", owner=personas.organisation_a, style={"kind": "simple", "colour": RED}
    )
    # 14 km square about (575000, 155000), near Maidstone; an 800 x 600 picture of it shows
    # about 18.7 km across, so a point 8.8 km east of the centre is in the picture's margin.
    version_publish_points(dataset=dataset, points={"in-margin": (583800, 155000)})
    to_mercator = Transformer.from_crs(27700, 3857, always_xy=True)
    to_wgs84 = Transformer.from_crs(3857, 4326, always_xy=True)
    (west, south), (east, north) = (
        to_wgs84.transform(*to_mercator.transform(568000, 148000)),
        to_wgs84.transform(*to_mercator.transform(582000, 162000)),
    )
    bbox = f"{west:.6f},{south:.6f},{east:.6f},{north:.6f}"

    response = client.get(
        "/map.png", {"bbox": bbox, "layers": "red-dots", "width": 800, "height": 600}
    )

    (min_x, min_y), (max_x, max_y) = (
        to_mercator.transform(568000, 148000), to_mercator.transform(582000, 162000)
    )  # fmt: skip
    scale = (max_y - min_y) / 600  # metres per pixel: the box's height fills the picture's
    left, top = (min_x + max_x) / 2 - 400 * scale, max_y
    x, y = to_mercator.transform(583800, 155000)
    column, row = red_pixel_centre(response.content)
    assert abs(column - (x - left) / scale) < 1.5 and abs(row - (top - y) / scale) < 1.5


def test_png_leaves_out_layers_below_their_minimum_zoom(red_sites, client_as, personas):
    red_sites.min_zoom = 14
    red_sites.save()
    query = {"bbox": ASHFORD_BBOX, "layers": "red-sites", "width": 400, "height": 300}
    response = client_as(personas.viewer_a).get("/map.png", query)
    assert pixels_like(response.content, RED) == 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"bbox": "1,2,3"},
            "bbox: expected four numbers minlon,minlat,maxlon,maxlat, got 3 part(s)",
        ),
        ({"bbox": "a,b,c,d"}, "bbox: 'a,b,c,d' is not four comma-separated numbers"),
        (
            {"bbox": "1,51,0,52"},
            "bbox: the west edge (1) must be less than the east edge (0): "
            "give west, south, east, north",
        ),
        (
            {"bbox": "0,52,1,51"},
            "bbox: the south edge (52) must be less than the north edge (51): "
            "give west, south, east, north",
        ),
        (
            {"bbox": "0,89,1,90"},
            "bbox: the south edge (89) must be a latitude between -85 and 85 degrees",
        ),
        (
            {"bbox": "-190,51,1,52"},
            "bbox: the west edge (-190) must be a longitude between -180 and 180 degrees",
        ),
        ({"bbox": "0,51,inf,52"}, "bbox: '0,51,inf,52' is not four comma-separated numbers"),
        ({"width": "wide"}, "width: 'wide' is not a whole number of pixels"),
        ({"width": "5000"}, "width: must be between 64 and 2000 pixels"),
        ({"height": "10"}, "height: must be between 64 and 2000 pixels"),
        ({"width": "2000", "height": "2000"}, "width x height: at most 3,000,000 pixels"),
    ],
)
def test_bad_png_requests_are_400_with_a_clear_message(client, query, message):
    response = client.get("/map.png", query)
    assert response.status_code == 400
    assert response.content.decode() == f"Cannot draw this map: {message}."


def png_region(png: bytes, *, rows: slice, columns: slice) -> bytes:
    """A part of the picture, as a PNG of its own."""
    with Image.open(io.BytesIO(png)) as image:
        cropped = image.crop((columns.start, rows.start, columns.stop, rows.stop))
        buffer = io.BytesIO()
        cropped.save(buffer, format="PNG")
    return buffer.getvalue()


def png_text(png: bytes) -> dict[str, str]:
    """The PNG's text metadata (its tEXt chunks)."""
    with Image.open(io.BytesIO(png)) as image:
        return dict(image.text)


def test_png_carries_every_drawn_layers_whole_attribution(client_as):
    """The licences ask for each source's full attribution (the Ordnance Survey and Historic
    England statements are long): none is cut short, however many layers are drawn. The
    picture draws what its metadata holds."""
    datasets = demo_load(only={"districts", "wards", "listed-buildings", "scheduled-monuments"})
    query = {"bbox": "1.07,51.27,1.09,51.285", "width": 800, "height": 600,
             "layers": ",".join(version.dataset.slug for version in datasets)}  # fmt: skip
    response = client_as(None).get("/map.png", query)
    assert response.status_code == 200
    attribution = png_text(response.content)["Copyright"]
    for version in datasets:
        whole = " ".join(version.dataset.attribution.split()).rstrip(".")
        assert whole in attribution, version.dataset.slug
    # One sentence: each attribution's own full stop is not followed by the joining semicolon.
    assert ".;" not in attribution and attribution.endswith(".")
    distinct = {" ".join(version.dataset.attribution.split()) for version in datasets}
    assert attribution.count("; ") == len(distinct) - 1


def test_png_says_the_date_it_shows_and_whether_ended_features_are_drawn(client):
    """A picture kept as evidence says what the platform had published when, drawn at its top
    left and in its metadata."""
    query = {"bbox": ASHFORD_BBOX, "width": 400, "height": 300, "layers": ""}
    today = timezone.localdate()
    now = client.get("/map.png", query).content
    assert png_text(now)["Description"] == f"As published on {today.day} {today:%B %Y}"
    past = client.get("/map.png", {**query, "as_of": "2026-07-14", "ended": "show"}).content
    assert png_text(past)["Description"] == (
        "As published on 14 July 2026; features that have ended are shown"
    )
    # The caption is drawn: the pictures differ in their top strip, and only there.
    difference = numpy.abs(
        imread(io.BytesIO(now), format="png") - imread(io.BytesIO(past), format="png")
    ).sum(axis=2)
    rows, _ = numpy.nonzero(difference)
    assert rows.size and rows.max() < 30


def test_png_has_a_legend_of_the_layers_drawn(client):
    """Each layer drawn is named in the legend at the top right, in its colours: a categorised
    layer by each of its categories. The legend is in the picture's metadata too."""
    datasets = demo_load(only={"districts", "brownfield-land"})
    query = {"bbox": ASHFORD_BBOX, "width": 800, "height": 600,
             "layers": ",".join(version.dataset.slug for version in datasets)}  # fmt: skip
    png = client.get("/map.png", query).content
    assert png_text(png)["Comment"] == (
        "Legend: Local authority districts; Brownfield land registers (2018 to 2020): "
        "Permissioned; Brownfield land registers (2018 to 2020): Pending decision; Brownfield "
        "land registers (2018 to 2020): Not permissioned"
    )  # no site in view has no status: "Not stated" is not drawn, so not listed
    # Drawn at the top right: the categories' colours are there, over the map's background.
    corner = png_region(png, rows=slice(0, 150), columns=slice(500, 800))
    for colour in ("#00703c", "#e16700", "#d4351c"):
        assert pixels_like(corner, colour) > 10, colour
    nothing = client.get("/map.png", {**query, "layers": ""}).content
    assert "Comment" not in png_text(nothing)


def test_the_legend_lists_only_the_classes_drawn(personas, client):
    """A report's legend must not list what the picture does not show: a categorised layer
    with one category in view is listed by that one."""
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        style={"kind": "categorised", "field": "status", "other_colour": "#505a5f",
               "categories": [{"value": "open", "colour": "#00703c", "label": "Open"},
                              {"value": "closed", "colour": "#d4351c", "label": "Closed"}]},
    )  # fmt: skip
    version_publish_points(
        dataset=dataset, points=ASHFORD_POINTS,
        properties={reference: {"status": "open"} for reference in ASHFORD_POINTS},
    )  # fmt: skip
    query = {"bbox": ASHFORD_BBOX, "width": 400, "height": 300, "layers": "sites"}
    png = client.get("/map.png", query).content
    assert png_text(png)["Comment"] == "Legend: Sites: Open"


def test_scale_lengths_are_round_and_at_most_a_fifth_of_the_picture():
    assert scale_length(1.0, 1000) == 200  # 200 m of 1,000 m across
    assert scale_length(10.0, 960) == 1000  # 1,920 m at most: 1 km
    assert scale_length(50.0, 800) == 5000
    assert scale_length(0.3, 400) == 20


def test_a_picture_has_a_scale_bar_and_a_north_arrow_unless_a_thumbnail(client):
    """Drawn in near-black at the top left, under the date (which ends 20 pixels down)."""
    query = {"bbox": ASHFORD_BBOX, "width": 400, "height": 300, "layers": ""}
    png = client.get("/map.png", query).content
    under_the_date = pixels_like(
        png_region(png, rows=slice(24, 60), columns=slice(0, 200)), "#0b0c0c"
    )
    assert under_the_date > 150  # the bar (3 px by about 80 px), its label, the arrow and "N"
    thumbnail = client.get("/map.png", {**query, "width": 200, "height": 150}).content
    assert pixels_like(png_region(thumbnail, rows=slice(24, 60), columns=slice(0, 200)),
                       "#0b0c0c") < 20  # fmt: skip


def blend(colour: str, opacity: float) -> str:
    """``colour`` drawn at ``opacity`` over the picture's background."""
    under = [int(BACKGROUND[i : i + 2], 16) for i in (1, 3, 5)]
    channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(
        f"{round(c * opacity + u * (1 - opacity)):02x}"
        for c, u in zip(channels, under, strict=True)
    )


@pytest.mark.parametrize(
    ("style", "opacity"),
    [
        ({"kind": "simple", "colour": RED}, 0.15),
        ({"kind": "categorised", "field": "LAD13NM", "other_colour": RED,
          "categories": [{"value": "Nowhere", "colour": "#00703c", "label": "Nowhere"}]}, 0.6),
    ],
)  # fmt: skip
def test_a_layer_of_classes_is_filled_strongly_enough_to_tell_them_apart(
    districts, client, style, opacity
):
    """A layer of one colour is a faint tint over what lies under it; a categorised or
    graduated one is read by its fills, as on the map (``styling.fill_opacity``)."""
    districts.style = style
    districts.save(update_fields=["style"])
    png = client.get("/map.png", {"layers": "districts", "width": 300}).content
    filled = pixels_like(png, blend(RED, opacity), tolerance=12)
    other = pixels_like(png, blend(RED, 0.6 if opacity == 0.15 else 0.15), tolerance=12)
    assert filled > 5_000 and other < filled / 10  # the other's: edges' antialiasing


def test_areas_with_a_label_field_are_named_in_the_picture(districts, client):
    """Without WebGL the picture is the only map: districts are named in it, as on the map;
    a layer without a label field is not."""
    named = client.get("/map.png", {"layers": "districts", "width": 600}).content
    districts.label_field, districts.field_schema = "", []
    districts.save(update_fields=["label_field", "field_schema"])
    unnamed = client.get("/map.png", {"layers": "districts", "width": 601}).content
    # Text is drawn black on a white halo; the picture is otherwise the same.
    assert pixels_like(named, "#ffffff", tolerance=30) > pixels_like(unnamed, "#ffffff", 30) + 1_500
    assert pixels_like(named, "#0b0c0c", tolerance=150) > pixels_like(unnamed, "#0b0c0c", 150) + 300


def test_a_layer_faded_on_the_map_is_faded_in_its_picture(districts, client):
    """The view's picture follows the map's opacity sliders (``opacity=slug:percent``)."""
    districts.style = {"kind": "simple", "colour": RED}
    districts.save(update_fields=["style"])
    query = {"layers": "districts", "width": 300}
    full = client.get("/map.png", query).content
    faded = client.get("/map.png", {**query, "opacity": "districts:30"}).content
    assert pixels_like(full, RED, tolerance=40) > 300  # the outlines, drawn in the colour
    assert pixels_like(faded, RED, tolerance=40) < pixels_like(full, RED, tolerance=40) / 10
