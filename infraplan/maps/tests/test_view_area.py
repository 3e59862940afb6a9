"""The features table's area and what it offers for it: a box whose coordinates are the wrong
way round is offered turned round, eastings and northings are taken as well as degrees (and
kept on the grid by the links and downloads, which choose the same features), each chosen
layer's features in the area can be downloaded, and the page's title says which page it is."""

import csv
import html
import io
import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from infraplan.core.testing.data import (
    dataset_make,
    days_ago,
    published_days_ago,
    version_publish_points,
)
from infraplan.maps import views
from infraplan.maps.areas import GRID_CRS_URI, parse_area, swapped_area

pytestmark = pytest.mark.django_db

GRID_BOX = "601000,142000,602000,143000"
# Just east of the grid box, where the box in degrees that holds it (its east edge slants, as
# grid north is not true north in Kent) reaches beyond it at one corner or the other.
EAST_OF_THE_BOX = {"east-low": (602020, 142010), "east-high": (602020, 142990)}


@pytest.fixture
def sites(personas):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    version_publish_points(
        dataset=dataset,
        points={"inside": (601500, 142500), "corner": (601010, 142990), **EAST_OF_THE_BOX},
    )
    return dataset


def listed(content: bytes) -> list[str]:
    rows = re.findall(r'<tr class="govuk-table__row">(.*?)</tr>', content.decode(), re.S)[1:]
    return sorted(
        re.findall(r'<td class="govuk-table__cell">(.*?)</td>', row, re.S)[2] for row in rows
    )


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def link(content: str, text: str) -> str:
    return html.unescape(
        re.search(rf'<a class="govuk-link" href="([^"]+)"[^>]*>{re.escape(text)}', content)[1]
    )


def downloads(content: str) -> dict[str, str]:
    """Each download link's accessible name (its text with the hidden words) -> its address."""
    section = content.split('id="downloads"', 1)[1]
    found = re.findall(
        r'<a class="govuk-link" href="([^"]+)">(\w+)<span class="govuk-visually-hidden">([^<]*)</span></a>',
        section,
    )
    return {f"{text}{hidden}": html.unescape(href) for href, text, hidden in found}


def csv_references(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    text = b"".join(response.streaming_content) if response.streaming else response.content
    return sorted(row["reference"] for row in csv.DictReader(io.StringIO(text.decode()[1:])))


# --- the wrong way round -----------------------------------------------------------------------


def test_a_box_with_latitude_first_is_offered_the_right_way_round(districts, client):
    response = client.get(
        "/map/features/", {"bbox": "51.27,1.07,51.285,1.09", "layers": "districts"}
    )
    content = response.content.decode()

    assert response.status_code == 200
    hint = re.search(
        r'<div class="govuk-inset-text[^"]*" id="area-swapped">(.*?)</div>', content, re.S
    )[1]
    assert "This area lies wholly outside the map's area." in hint
    assert "latitude before longitude" in hint
    swapped = link(hint, "List the features in 1.07,51.27,1.09,51.285")
    assert query_of(swapped) == {"bbox": "1.07,51.27,1.09,51.285", "layers": "districts"}
    turned = client.get(swapped)
    assert "E07000106" in listed(turned.content)  # Canterbury
    # Not offered for a box in the area, nor for one nowhere near it either way round.
    for bbox in ("1.07,51.27,1.09,51.285", "10,40,20,45", "600000,140000,620000,160000"):
        content = client.get("/map/features/", {"bbox": bbox}).content.decode()
        assert 'id="area-swapped"' not in content, bbox


def test_eastings_and_northings_the_wrong_way_round_are_offered_turned_round(districts, client):
    content = client.get("/map/features/", {"bbox": "140000,600000,160000,620000"}).content.decode()
    assert "northings before eastings" in content
    assert query_of(link(content, "List the features in 600000,140000,620000,160000"))["bbox"] == (
        "600000,140000,620000,160000"
    )


def test_turning_round_is_offered_only_where_it_helps():
    assert swapped_area(parse_area("51.27,1.07,51.285,1.09")).frame == (1.07, 51.27, 1.09, 51.285)
    assert swapped_area(parse_area("1.07,51.27,1.09,51.285")) is None  # in the area already
    assert swapped_area(parse_area("170,-10,175,-5")) is None  # turned round, not a box


# --- eastings and northings --------------------------------------------------------------------


def test_the_table_takes_eastings_and_northings(sites, client):
    response = client.get("/map/features/", {"bbox": GRID_BOX, "layers": "sites"})
    content = response.content.decode()

    assert response.status_code == 200
    assert listed(response.content) == ["corner", "inside"]  # on the grid's box, not beyond
    assert f'id="bbox" name="bbox" type="text" value="{GRID_BOX}"' in content
    assert (
        "eastings and northings in metres"
        in re.search(r'<div id="bbox-hint"[^>]*>(.*?)</div>', content)[1]
    )
    # The map and its picture show the box in degrees that holds it.
    picture = query_of(link(content, "download a picture of this view (PNG)"))
    west, south, east, north = (float(value) for value in picture["bbox"].split(","))
    assert (west, south, east, north) == pytest.approx((0.872, 51.142, 0.887, 51.151), abs=0.001)
    back = query_of(link(content, "Back to the map"))
    lon, lat = (float(value) for value in back["center"].split(","))
    assert west < lon < east and south < lat < north
    # The box in degrees holds a little more than the box on the grid.
    frame = client.get("/map/features/", {"bbox": picture["bbox"], "layers": "sites"})
    assert len(listed(frame.content)) == 3 and set(listed(frame.content)) - {"corner", "inside"}


def test_the_tables_own_links_keep_the_box_on_the_grid(sites, client, monkeypatch):
    monkeypatch.setattr(views, "ROWS_PER_PAGE", 1)
    content = client.get("/map/features/", {"bbox": GRID_BOX, "layers": "sites"}).content.decode()
    pages = re.findall(r'<a class="govuk-link govuk-pagination__link" href="([^"]+)"', content)
    assert pages and all(query_of(html.unescape(page))["bbox"] == GRID_BOX for page in pages)


def test_downloads_of_a_box_on_the_grid_choose_the_features_the_table_lists(sites, client):
    content = client.get("/map/features/", {"bbox": GRID_BOX, "layers": "sites"}).content.decode()

    csv_url = downloads(content)["CSV of Sites in this area"]
    assert query_of(csv_url) == {"bbox": GRID_BOX, "bbox-crs": GRID_CRS_URI}
    assert csv_references(client, csv_url) == ["corner", "inside"]


# --- downloads -----------------------------------------------------------------------------------


def test_the_table_links_to_each_chosen_layers_features_in_the_area(districts, sites, client):
    query = {"bbox": "0.85,51.14,0.9,51.16", "layers": "districts,sites", "ended": "show"}
    content = client.get("/map/features/", query).content.decode()

    links = downloads(content)
    assert list(links) == [
        f"{kind} of {layer} in this area"
        for layer in ("Local authority districts", "Sites")
        for kind in ("CSV", "GeoJSON", "GeoPackage", "XLSX")
    ]
    assert (
        urlsplit(links["GeoPackage of Sites in this area"]).path == "/datasets/sites/download.gpkg"
    )
    assert urlsplit(links["XLSX of Local authority districts in this area"]).path == (
        "/datasets/districts/download.xlsx"
    )
    assert {tuple(sorted(query_of(url).items())) for url in links.values()} == {
        (("bbox", "0.85,51.14,0.9,51.16"), ("ended", "show"))
    }
    # None for an area that cannot be read.
    unread = client.get("/map/features/", {**query, "bbox": "1,2,3"}).content.decode()
    assert 'id="downloads"' not in unread and "download.csv" not in unread
    # The download holds what the table lists.
    assert csv_references(client, links["CSV of Sites in this area"]) == sorted(
        reference
        for reference in listed(client.get("/map/features/", query).content)
        if reference in ("inside", "corner", *EAST_OF_THE_BOX)
    )


# Boxes the table doubts, and the box it offers instead (None: none).
DOUBTED = {
    "51.25,1.13,51.26,1.15": "1.13,51.25,1.15,51.26",  # latitude first: off the grid
    "140000,600000,160000,620000": "600000,140000,620000,160000",  # northings first: on it
    "10,40,20,45": None,  # off the grid either way round
}


@pytest.mark.parametrize("bbox", DOUBTED)
def test_no_downloads_are_offered_for_a_box_the_page_says_looks_wrong(
    districts, sites, client, bbox
):
    """Off the grid each would answer 400; on it, choose features from an area the page doubts.
    The page offers its box turned round, where it can, and that page offers the downloads."""
    response = client.get("/map/features/", {"bbox": bbox, "layers": "districts,sites"})
    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="downloads"' not in content and "/download." not in content
    turned = DOUBTED[bbox]
    if turned is not None:
        page = client.get(link(content, f"List the features in {turned}")).content.decode()
        assert downloads(page)["CSV of Sites in this area"]


def test_a_box_off_the_grid_is_refused_by_the_downloads_the_table_leaves_out(sites, client):
    assert client.get("/datasets/sites/download.csv", {"bbox": "10,40,20,45"}).status_code == 400


def test_a_layer_not_published_by_the_date_shown_is_not_offered_for_download(
    districts, sites, client
):
    query = {"bbox": "0.85,51.14,0.9,51.16", "layers": "sites", "as_of": "2001-01-01"}
    content = client.get("/map/features/", query).content.decode()
    assert (
        "Sites: cannot be downloaded as shown here: nothing had been published by the date shown."
        in content
    )
    assert "download.csv" not in content


# --- titles ---------------------------------------------------------------------------------------


def test_each_page_of_the_table_says_which_in_its_title(sites, districts, client, monkeypatch):
    monkeypatch.setattr(views, "ROWS_PER_PAGE", 5)
    second = client.get("/map/features/", {"layers": "districts", "page": 2}).content.decode()
    assert "<title>Features in this view, page 2 of 3 \N{EN DASH} " in second
    single = client.get("/map/features/", {"layers": "districts", "bbox": "1.07,51.27,1.09,51.285"})
    assert "<title>Features in this view \N{EN DASH} " in single.content.decode()
    # With a date, the date as the heading says it, then the page.
    monkeypatch.setattr(views, "ROWS_PER_PAGE", 2)
    published_days_ago(sites.versions.get(is_current=True), 10)
    as_of = days_ago(1)
    day = date.fromisoformat(as_of)
    dated = client.get("/map/features/", {"layers": "sites", "as_of": as_of, "page": 2})
    said = f"Features in this view as published on {day.day} {day:%B %Y}"
    assert f"<title>{said}, page 2 of 2 \N{EN DASH} " in dated.content.decode()
    assert f'<h1 class="govuk-heading-l">{said}</h1>' in dated.content.decode()
