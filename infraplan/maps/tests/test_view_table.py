"""The features-in-view table read a page at a time: its count and pages come from the database
in a stable order, a layer the map would not draw at the view's zoom is named rather than
listed, and a dataset without geometry is sent to its dataset page."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from infraplan.catalogue.store import StoreFeatureSource
from infraplan.core.testing.data import dataset_make, version_publish_points
from infraplan.maps import views
from infraplan.maps.selectors import table_zoom

pytestmark = pytest.mark.django_db

ASHFORD_BBOX = "0.86,51.14,0.89,51.16"
# 0.02 degrees about the civic centre (601300, 142700): as wide as a map at zoom 13.8.
NEAR_CIVIC_CENTRE = "0.8667,51.138,0.8867,51.158"


def listed(content: bytes) -> list[str]:
    """The references in the table's rows, in order."""
    rows = re.findall(r'<tr class="govuk-table__row">(.*?)</tr>', content.decode(), re.S)[1:]
    return [re.findall(r'<td class="govuk-table__cell">(.*?)</td>', row, re.S)[2] for row in rows]


@pytest.fixture
def register(personas):
    """Organisation A's register of 17 points in Ashford, restricted to it: 14 live (site-00 to
    site-13, published in another order), 2 ended last year and one outside the box."""
    dataset = dataset_make(
        slug="register", owner=personas.organisation_a, access_level="organisations"
    )
    points = {f"site-{n:02}": (601000 + 37 * n, 142500) for n in (7, 3, 12, 0, 9, 1, 13)}
    points |= {f"site-{n:02}": (601000 + 37 * n, 142500) for n in (5, 11, 2, 8, 4, 10, 6)}
    points |= {"ended-a": (601100, 142600), "ended-b": (601200, 142600)}
    points["far-away"] = (560000, 160000)  # Maidstone
    version_publish_points(
        dataset=dataset, points=points,
        properties={"ended-a": {"end-date": "2001-01-01"}, "ended-b": {"EndDate": "2001-01-01"}},
    )  # fmt: skip
    return dataset


def test_pages_come_in_reference_order_with_the_right_count(register, personas, client_as, monkeypatch):  # fmt: skip
    monkeypatch.setattr(views, "ROWS_PER_PAGE", 5)
    client = client_as(personas.viewer_a)
    query = {"bbox": ASHFORD_BBOX, "layers": "register"}

    pages = [client.get("/map/features/", {**query, "page": n}) for n in (1, 2, 3)]

    assert all(page.status_code == 200 for page in pages)
    assert "14 features in this view (page 2 of 3)" in pages[1].content.decode()
    assert listed(pages[1].content) == ["site-05", "site-06", "site-07", "site-08", "site-09"]
    every = [reference for page in pages for reference in listed(page.content)]
    assert every == [f"site-{n:02}" for n in range(14)]  # each once, none ended or outside
    shown = client.get("/map/features/", {**query, "ended": "show", "page": 1})
    assert "16 features in this view" in shown.content.decode()
    assert listed(shown.content)[:3] == ["ended-a", "ended-b", "site-00"]


def test_a_page_is_read_in_the_database_not_from_the_whole_layer(
    register, personas, client_as, monkeypatch
):
    """The table asks the store for one page and a count, never for the layer's every feature."""
    monkeypatch.setattr(views, "ROWS_PER_PAGE", 5)

    def whole_layer(*args, **kwargs):
        raise AssertionError("the table read the whole layer")

    monkeypatch.setattr(StoreFeatureSource, "features", whole_layer)
    monkeypatch.setattr(StoreFeatureSource, "features_within", whole_layer)
    with CaptureQueriesContext(connection) as queries:
        response = client_as(personas.viewer_a).get(
            "/map/features/", {"bbox": ASHFORD_BBOX, "layers": "register", "page": 2}
        )

    assert listed(response.content) == ["site-05", "site-06", "site-07", "site-08", "site-09"]
    assert any("LIMIT 5 OFFSET 5" in query["sql"] for query in queries.captured_queries)


@pytest.mark.parametrize("persona", ["anonymous", "member_b"])
def test_a_page_of_a_restricted_layer_shows_outsiders_nothing(
    register, districts, personas, client_as, persona
):
    response = client_as(getattr(personas, persona, None)).get(
        "/map/features/", {"bbox": ASHFORD_BBOX, "layers": "register", "page": 2}
    )
    content = response.content.decode()
    assert response.status_code == 200 and listed(response.content) == []
    assert "site-0" not in content and "Register" not in content
    assert "No layers are chosen" in content


@pytest.fixture
def dense(personas):
    """Public sites the map draws from zoom 16."""
    dataset = dataset_make(slug="dense", owner=personas.organisation_a, min_zoom=16)
    version_publish_points(dataset=dataset, points={"civic-centre": (601300, 142700)})
    return dataset


def test_a_layer_the_map_would_not_draw_at_the_views_zoom_is_named_not_listed(
    dense, districts, client_as
):
    client = client_as(None)
    assert table_zoom((0.8667, 51.138, 0.8867, 51.158)) == pytest.approx(13.8)

    response = client.get("/map/features/", {"bbox": NEAR_CIVIC_CENTRE, "layers": "dense,districts"})  # fmt: skip

    content = response.content.decode()
    assert response.status_code == 200
    assert listed(response.content) == ["E07000105"]  # the districts are listed, dense is not
    assert "1 feature in this view" in content
    notice = re.search(r'<div class="govuk-inset-text" id="layers-not-listed">(.*?)</div>', content, re.S)[1]  # fmt: skip
    assert (
        "Dense is not listed: the map shows it from zoom 16, and this area is as wide as a map at"
        " zoom 13.8. Zoom in on the map, enter a smaller area, or" in notice
    )
    closer = html.unescape(re.search(r'href="([^"]+)">list the features in the middle', notice)[1])

    nearer = client.get(closer)

    assert nearer.status_code == 200
    assert listed(nearer.content) == ["E07000105", "civic-centre"]  # in the map's layer order
    assert "layers-not-listed" not in nearer.content.decode()


def test_a_far_layer_alone_is_named_not_called_unchosen(dense, client_as):
    content = client_as(None).get("/map/features/", {"layers": "dense"}).content.decode()
    assert "Dense is not listed: the map shows it from zoom 16" in content
    assert "No layers are chosen" not in content
    assert "No features of the chosen layers" not in content


@pytest.fixture
def lists(personas):
    """Two datasets without geometry: a public list and one only organisation A may see."""
    public = dataset_make(slug="conservation-areas-list", owner=personas.organisation_a,
                          geometry_type="none", title="Conservation areas list")  # fmt: skip
    restricted = dataset_make(slug="a-contacts", owner=personas.organisation_a,
                              geometry_type="none", access_level="organisations")  # fmt: skip
    return public, restricted


def test_a_dataset_without_geometry_is_sent_to_its_dataset_page(lists, client_as):
    response = client_as(None).get("/map/features/", {"layers": "conservation-areas-list"})

    content = response.content.decode()
    assert response.status_code == 200
    assert "No layers are chosen" not in content
    assert (
        "Conservation areas list has no map geometry, so it is not on the map and has no"
        ' features to list in an area. Its records are on <a class="govuk-link"'
        ' href="/datasets/conservation-areas-list/">the Conservation areas list dataset page</a>.'
    ) in content


@pytest.mark.parametrize("persona", ["anonymous", "member_b"])
def test_a_restricted_dataset_without_geometry_stays_unnamed(
    lists, districts, personas, client_as, persona
):
    response = client_as(getattr(personas, persona, None)).get(
        "/map/features/", {"layers": "a-contacts"}
    )
    content = response.content.decode()
    assert "/datasets/a-contacts/" not in content and "A contacts" not in content
    assert "No layers are chosen" in content


@pytest.mark.parametrize("persona", [None, "anonymous", "member_b"])
def test_the_map_page_says_a_dataset_without_geometry_is_not_on_it(
    lists, districts, personas, client_as, persona
):
    """A link naming a list (no geometry) says where its records are instead of dropping it;
    a restricted one stays unnamed to people who may not see it."""
    user = personas.data_manager_a if persona is None else getattr(personas, persona, None)
    content = (
        client_as(user)
        .get("/map/", {"layers": "districts,conservation-areas-list,a-contacts"})
        .content.decode()
    )
    assert (
        "Conservation areas list has no map geometry, so it is not on the map. Its records are on"
        ' <a class="govuk-link" href="/datasets/conservation-areas-list/">the Conservation areas'
        " list dataset page</a>."
    ) in content
    assert ("A contacts has no map geometry" in content) is (persona is None)


def test_the_area_said_paged_and_pictured_is_the_area_listed(personas, client_as, monkeypatch):
    """A view's box as the map's links write it (five decimal places, about a metre) is the
    area the page says it lists, and the one its other pages and its picture ask for: rounded
    to six significant figures, 51.27824 would be 51.2782, 4 m south, and a feature between
    the two would be counted on the first page and gone from the second."""
    monkeypatch.setattr(views, "ROWS_PER_PAGE", 5)
    dataset = dataset_make(slug="street", owner=personas.organisation_a)
    # In EPSG:27700: points in the view, and one 2 m inside its north edge (51.27822 N).
    points = {f"house-{n}": (614865.0 + n, 157700.0) for n in range(5)}
    points["north-edge"] = (614865.9, 157734.6)
    version_publish_points(dataset=dataset, points=points)
    bbox = "1.07871,51.27766,1.08012,51.27824"
    client = client_as(personas.viewer_a)

    first = client.get("/map/features/", {"bbox": bbox, "layers": "street"}).content.decode()

    assert f'name="bbox" type="text" value="{bbox}"' in first
    assert "6 features in this view (page 1 of 2)" in first
    (next_page,) = re.findall(r'href="\?([^"]+)" rel="next"', first)
    (picture,) = re.findall(r'href="/map\.png\?([^"]+)"', first)
    assert f"bbox={bbox.replace(',', '%2C')}&" in html.unescape(picture)
    second = client.get("/map/features/?" + html.unescape(next_page)).content.decode()
    assert "6 features in this view (page 2 of 2)" in second
    assert listed(second.encode()) == ["north-edge"]


def test_a_layer_drawn_in_classes_names_each_features_class(personas, client_as):
    """The map tells a categorised or graduated layer's classes apart by colour alone: the table,
    its text alternative, says each feature's class in words (WCAG 1.4.1)."""
    sites = dataset_make(
        slug="sites", owner=personas.organisation_a,
        style={"kind": "graduated", "field": "homes", "classes": [
            {"minimum": 0, "colour": "#5694ca", "label": "Fewer than 50"},
            {"minimum": 50, "colour": "#003078", "label": "50 or more"},
        ]},
    )  # fmt: skip
    version_publish_points(
        dataset=sites,
        points={"a": (601000, 142500), "b": (601100, 142500), "c": (601200, 142500)},
        properties={"a": {"homes": 12}, "b": {"homes": 80}, "c": {}},
    )
    dataset_make(slug="plain", owner=personas.organisation_a)
    client = client_as(personas.viewer_a)

    content = client.get("/map/features/", {"bbox": ASHFORD_BBOX, "layers": "sites"}).content
    text = content.decode()
    assert '<th scope="col" class="govuk-table__header">Shown on the map as</th>' in text
    rows = re.findall(r'<tr class="govuk-table__row">(.*?)</tr>', text, re.S)[1:]
    classes = [
        re.findall(r'<td class="govuk-table__cell">(.*?)</td>', row, re.S)[-1] for row in rows
    ]
    assert classes == ["Fewer than 50", "50 or more", "No value"]
    plain = client.get("/map/features/", {"bbox": ASHFORD_BBOX, "layers": "plain"}).content
    assert "Shown on the map as" not in plain.decode()
