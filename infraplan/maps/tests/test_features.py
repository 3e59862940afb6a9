"""The map's reads behind the gate: a feature's pop-up, labels, and the features-in-view table."""

import csv
import html
import io
import re

import pytest
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction

from infraplan.catalogue.models import Feature
from infraplan.catalogue.publishing import (
    FeatureRow,
    version_add_features,
    version_publish,
    version_start,
)
from infraplan.core.testing.data import (
    ASHFORD_POINTS,
    dataset_make,
    demo_dataset_load,
    version_publish_points,
)
from infraplan.maps import views

pytestmark = pytest.mark.django_db

ASHFORD_BBOX = "0.86,51.14,0.89,51.16"
SCHEMA = [
    {"name": "name", "type": "string", "title": "Name"},
    {"name": "kind", "type": "string", "title": "Kind of site"},
]


@pytest.fixture
def sites(personas):
    """Organisation A's sites, restricted to it, with titled fields."""
    dataset = dataset_make(
        slug="a-sites", owner=personas.organisation_a, access_level="organisations",
        field_schema=SCHEMA,
    )  # fmt: skip
    version_publish_points(
        dataset=dataset, points=ASHFORD_POINTS,
        properties={"civic-centre": {"kind": "offices", "extra": 3}},
    )  # fmt: skip
    return dataset


def live_id(reference: str) -> int:
    return Feature.objects.get(reference=reference, valid_to__isnull=True).pk


def test_popup_lists_properties_with_their_titles(sites, personas, client_as, districts):
    response = client_as(personas.viewer_a).get(
        f"/datasets/a-sites/features/{live_id('civic-centre')}.json"
    )

    assert response.status_code == 200
    detail = response.json()
    assert detail["reference"] == "civic-centre"
    assert detail["label"] == "civic-centre"
    assert detail["dataset"] == {"slug": "a-sites", "title": "A sites"}
    assert detail["properties"] == [
        {"name": "name", "title": "Name", "value": "civic-centre"},
        {"name": "kind", "title": "Kind of site", "value": "offices"},
        {"name": "extra", "title": "extra", "value": 3},  # not in the schema: its own name
    ]
    assert detail["point"] == pytest.approx({"lon": 0.8767, "lat": 51.1482}, abs=1e-3)
    assert response["Cache-Control"] == "private, max-age=300"


def test_popup_names_the_district_and_ward_the_feature_lies_in(personas, client_as):
    dataset = dataset_make(slug="placed", owner=personas.organisation_a)
    version = version_start(actor=None, dataset=dataset, source="test")
    row = FeatureRow(
        organisation=dataset.owner, reference="depot", properties={},
        geometry=GEOSGeometry("POINT(601300 142700)", srid=27700),
        district="E07000105", ward="E05005000",
    )  # fmt: skip
    with transaction.atomic():
        version_add_features(version=version, rows=[row])
        version_publish(actor=None, version=version)

    detail = client_as(None).get(f"/datasets/placed/features/{live_id('depot')}.json").json()

    assert detail["district"] == {"code": "E07000105", "name": "Ashford"}  # from the profile
    assert detail["ward"] == {"code": "E05005000", "name": ""}  # no wards dataset: the code
    assert ["Ward", "E05005000", None] in detail["rows"]

    wards = dataset_make(slug="wards", owner=personas.organisation_a, label_field="name")
    version_publish_points(
        dataset=wards, points={"E05005000": (601300, 142700)},
        properties={"E05005000": {"name": "Victoria"}},
    )  # fmt: skip
    detail = client_as(None).get(f"/datasets/placed/features/{live_id('depot')}.json").json()
    assert detail["ward"] == {"code": "E05005000", "name": "Victoria"}
    assert ["Ward", "Victoria", None] in detail["rows"]


@pytest.mark.parametrize("persona", ["anonymous", "member_b"])
def test_popup_is_404_for_people_who_may_not_see_the_dataset(sites, personas, client_as, persona):
    user = getattr(personas, persona, None)
    response = client_as(user).get(f"/datasets/a-sites/features/{live_id('station')}.json")
    assert response.status_code == 404


def test_popup_is_404_for_unknown_features_and_features_of_another_dataset(
    sites, districts, personas, client_as
):
    client = client_as(personas.viewer_a)
    assert client.get("/datasets/a-sites/features/0.json").status_code == 404
    other = live_id("E07000105")  # a district, asked for under the sites dataset
    assert client.get(f"/datasets/a-sites/features/{other}.json").status_code == 404


def test_a_link_to_a_feature_that_changed_since_shows_it_as_it_is_now(sites, personas, client_as):
    """A link shared before a load changed the feature names a row since replaced: it leads to
    the same feature (organisation and reference) as it is now; a removed one is gone."""
    old_centre, old_station = live_id("civic-centre"), live_id("station")
    version_publish_points(
        dataset=sites, points={"civic-centre": ASHFORD_POINTS["civic-centre"]},
        properties={"civic-centre": {"kind": "library"}},
    )  # fmt: skip
    client = client_as(personas.viewer_a)

    followed = client.get(f"/datasets/a-sites/features/{old_centre}.json").json()
    assert followed["id"] == live_id("civic-centre") != old_centre
    assert {"name": "kind", "title": "Kind of site", "value": "library"} in followed["properties"]
    assert client.get(f"/datasets/a-sites/features/{old_centre}/").status_code == 200
    assert client.get(f"/datasets/a-sites/features/{old_station}.json").status_code == 404


def test_a_features_page_lists_what_its_popup_shows(sites, personas, client_as):
    feature_id = live_id("civic-centre")

    response = client_as(personas.viewer_a).get(f"/datasets/a-sites/features/{feature_id}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert '<h1 class="govuk-heading-l govuk-!-text-break-word">civic-centre</h1>' in page
    rows = re.findall(
        r'<dt class="govuk-summary-list__key">([^<]*)</dt>\s*'
        r'<dd class="govuk-summary-list__value">([^<]*)</dd>',
        page,
    )
    assert rows == [
        ("Reference", "civic-centre"), ("Name", "civic-centre"), ("Kind of site", "offices"),
        ("extra", "3"),
    ]  # fmt: skip
    map_link = re.search(r'href="(/map/\?[^"]*)">Show civic-centre on the map', page)[1]
    assert html.unescape(map_link).endswith(f"&feature=a-sites%2F{feature_id}")
    assert "layers=a-sites&center=0.8" in html.unescape(map_link)


@pytest.mark.parametrize("persona", ["anonymous", "member_b"])
def test_a_features_page_is_404_for_people_who_may_not_see_it(sites, personas, client_as, persona):
    user = getattr(personas, persona, None)
    response = client_as(user).get(f"/datasets/a-sites/features/{live_id('station')}/")
    assert response.status_code == 404
    assert "station" not in response.content.decode()


def test_a_features_page_is_404_once_the_feature_has_gone_and_explains_a_bad_date(
    sites, personas, client_as
):
    old_station = live_id("station")
    version_publish_points(dataset=sites, points={"civic-centre": ASHFORD_POINTS["civic-centre"]})
    client = client_as(personas.viewer_a)

    assert client.get(f"/datasets/a-sites/features/{old_station}/").status_code == 404
    bad = client.get(f"/datasets/a-sites/features/{live_id('civic-centre')}/?as_of=27+March")
    assert bad.status_code == 400
    assert "Enter the date as year-month-day" in bad.content.decode()


def test_the_features_table_links_each_feature_to_its_page(sites, personas, client_as):
    response = client_as(personas.viewer_a).get(
        "/map/features/", {"bbox": ASHFORD_BBOX, "layers": "a-sites"}
    )

    link = f'<a class="govuk-link" href="/datasets/a-sites/features/{live_id("station")}/'
    assert link in response.content.decode()


def test_labels_are_the_named_features_in_the_box(districts, client_as, personas):
    response = client_as(None).get("/map/labels/districts.json", {"bbox": "1.0,51.2,1.2,51.35"})

    labels = {label["text"]: label for label in response.json()["labels"]}
    assert "Canterbury" in labels
    assert "Maidstone" not in labels  # far to the west of the box
    assert 0.9 < labels["Canterbury"]["lon"] < 1.3 and 51.1 < labels["Canterbury"]["lat"] < 51.4


def test_labels_refuse_a_bad_box_and_restricted_layers(sites, client_as, personas):
    bad = client_as(personas.viewer_a).get("/map/labels/a-sites.json", {"bbox": "1,2,3"})
    assert bad.status_code == 400
    assert bad.json() == {
        "error": "bbox: expected four numbers minlon,minlat,maxlon,maxlat, got 3 part(s)"
    }
    assert client_as(personas.member_b).get("/map/labels/a-sites.json").status_code == 404


def table_rows(content: bytes) -> list[str]:
    text = content.decode()
    return [
        reference
        for reference in ("civic-centre", "station", "E07000105", "E07000106")
        if f'<td class="govuk-table__cell">{reference}</td>' in text
    ]


def test_features_table_filters_by_box_and_layer(sites, districts, client_as, personas):
    client = client_as(personas.viewer_a)

    ashford = client.get("/map/features/", {"bbox": ASHFORD_BBOX, "layers": "a-sites,districts"})
    sites_only = client.get("/map/features/", {"bbox": ASHFORD_BBOX, "layers": "a-sites"})
    elsewhere = client.get("/map/features/", {"bbox": "1.05,51.25,1.1,51.3", "layers": "a-sites"})

    assert table_rows(ashford.content) == ["civic-centre", "station", "E07000105"]
    assert table_rows(sites_only.content) == ["civic-centre", "station"]
    assert table_rows(elsewhere.content) == []
    assert "No features of the chosen layers in this area." in elsewhere.content.decode()


@pytest.mark.parametrize(
    ("bbox", "same_in_kent"),
    [
        # the whole world, as the map's link at zoom 1 asks
        ("-180,-85,180,85", "0,50.5,2,51.7"),
        # far beyond the grid's area of use on every side
        ("-90,0,90,80", "0,50.5,2,51.7"),
        # tall and narrow: its corners alone miss the middle of its edges
        ("0.86,30,0.89,70", "0.86,50.5,0.89,51.7"),
    ],
)
def test_a_box_reaching_beyond_great_britain_finds_what_lies_in_it(
    sites, districts, client_as, personas, bbox, same_in_kent
):
    client = client_as(personas.viewer_a)
    table = client.get("/map/features/", {"bbox": bbox, "layers": "a-sites"})
    assert table.status_code == 200
    assert table_rows(table.content) == ["civic-centre", "station"]
    labels = client.get("/map/labels/districts.json", {"bbox": bbox})
    in_kent = client.get("/map/labels/districts.json", {"bbox": same_in_kent})
    assert labels.status_code == 200 and len(in_kent.json()["labels"]) >= 3
    assert labels.json() == in_kent.json()
    png = client.get("/map.png", {"bbox": bbox, "layers": "a-sites", "width": 200, "height": 150})
    assert png.status_code == 200 and png["Content-Type"] == "image/png"


def test_a_box_away_from_great_britain_finds_nothing(sites, client_as, personas):
    response = client_as(personas.viewer_a).get(
        "/map/features/", {"bbox": "10,40,20,45", "layers": "a-sites"}
    )
    assert response.status_code == 200 and table_rows(response.content) == []


def test_features_table_shows_only_permitted_layers(sites, districts, client_as, personas):
    response = client_as(personas.member_b).get(
        "/map/features/", {"bbox": ASHFORD_BBOX, "layers": "a-sites,districts"}
    )
    assert response.status_code == 200
    assert table_rows(response.content) == ["E07000105"]
    assert "a-sites" not in response.content.decode()


def test_a_layer_name_that_cannot_be_a_slug_names_no_layer(districts, client_as):
    """A NUL (which PostgreSQL refuses in text) or other junk among the layers is passed over,
    on the table and on the map alike."""
    client = client_as(None)
    response = client.get(
        "/map/features/", {"bbox": ASHFORD_BBOX, "layers": "dis\x00tricts,districts"}
    )
    assert response.status_code == 200
    assert table_rows(response.content) == ["E07000105"]
    assert client.get("/map/", {"layers": "\x00"}).status_code == 200


def test_features_table_pages_and_takes_the_forms_repeated_layers(
    districts, client_as, monkeypatch
):
    monkeypatch.setattr(views, "ROWS_PER_PAGE", 5)
    client = client_as(None)

    first = client.get("/map/features/?layers=districts&layers=").content.decode()
    last = client.get("/map/features/?layers=districts&page=3").content.decode()

    assert "13 features in this view (page 1 of 3)" in first
    assert first.count('<tr class="govuk-table__row">') == 1 + 5
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert last.count('<tr class="govuk-table__row">') == 1 + 3
    assert 'aria-current="page">3</a>' in last


FOUR_NUMBERS = (
    "Enter the area as four numbers: west, south, east, north in degrees, or the minimum "
    "easting, northing, maximum easting, northing in metres"
)


@pytest.mark.parametrize(
    ("bbox", "message"),
    [
        ("garbage", FOUR_NUMBERS),
        ("west,south,east,north", FOUR_NUMBERS),
        ("1.2,51.1,0.8,51.3", "The west edge (1.2) must be less than the east edge (0.8): give west, south, east, north"),
        ("0.8,51.3,1.2,51.1", "The south edge (51.3) must be less than the north edge (51.1): give west, south, east, north"),
        ("0.8,51.1,1.2,95", "The north edge (95) must be a latitude between -85 and 85 degrees"),
        ("620000,140000,610000,160000", "The box's first easting (620000) is east of its second (610000): give the west edge first, as west,south,east,north"),
        ("600000,160000,620000,140000", "The box's first northing (160000) is north of its second (140000): give the south edge first, as west,south,east,north"),
        ("610000,140000,610000.0,160000", "The box's two eastings are the same (610000), so it has no width: give a west edge and an east edge, as west,south,east,north"),
        ("600000,150000,620000,150000", "The box's two northings are the same (150000), so it has no height: give a south edge and a north edge, as west,south,east,north"),
        ("800000,140000,900000,160000", "The area 800000,140000,900000,160000 in metres lies outside the British National Grid (eastings 0 to 700000, northings 0 to 1300000)"),
        ("nan,51.1,inf,51.3", FOUR_NUMBERS),
    ],
)  # fmt: skip
def test_features_table_explains_a_bad_area_in_the_words_of_its_field(
    districts, personas, client_as, bbox, message
):
    """The field is "Area (west, south, east, north)", in degrees or metres: its error says
    which number is wrong and why in its words, not the link's parameter, and nothing is listed
    or said of the whole area the page falls back to (sites drawn from zoom 12 would be "not
    listed" there)."""
    close = dataset_make(slug="close-sites", owner=personas.organisation_a, min_zoom=12)
    version_publish_points(dataset=close, points=ASHFORD_POINTS)
    query = {"bbox": bbox, "layers": "districts,close-sites"}

    response = client_as(None).get("/map/features/", query)

    content = response.content.decode()
    assert response.status_code == 400
    assert f'<a href="#bbox">{html.escape(message)}</a>' in content  # the error summary
    assert (
        f'<span class="govuk-visually-hidden">Error:</span> {html.escape(message)}</p>' in content
    )
    assert f'id="bbox" name="bbox" type="text" value="{bbox}"' in content  # kept as typed
    assert "bbox:" not in content and "minlon" not in content
    assert "layers-not-listed" not in content and "is not listed" not in content
    assert '<table class="govuk-table">' not in content and "No features" not in content
    # Links and the picture name the box as the API does.
    labels = client_as(None).get("/map/labels/districts.json", {"bbox": bbox})
    assert labels.status_code == 400 and labels.json()["error"].startswith("bbox: ")


def back_to_the_map(response) -> str:
    pattern = r'<a class="govuk-link" href="([^"]*)">Back to the map</a>'
    return html.unescape(re.search(pattern, response.content.decode())[1])


def test_back_to_the_map_returns_to_the_view_layers_and_date(districts, client_as):
    client = client_as(None)
    view = {"center": "0.9,51.1", "zoom": "11", "as_of": "2001-01-01", "ended": "show"}
    map_page = client.get("/map/", {"layers": "districts", **view}).content.decode()
    table_url = html.unescape(re.search(r'id="map-features-link" href="([^"]+)"', map_page)[1])

    back = back_to_the_map(client.get(table_url))

    assert back == (
        "/map/?layers=districts&center=0.90000%2C51.10000&zoom=11.00&as_of=2001-01-01&ended=show"
    )
    # A table of the whole area (no box asked for) returns to the map as it opens.
    whole_area = back_to_the_map(client.get("/map/features/", {"layers": "districts"}))
    assert whole_area == "/map/?layers=districts"


def test_unticking_every_layer_lists_no_layer(districts, client_as):
    """The form always sends ``layers``, so with every box unticked it asks for no layer,
    not for the default ones."""
    client = client_as(None)
    form = client.get("/map/features/", {"layers": "districts"}).content.decode()
    assert '<input type="hidden" name="layers" value="">' in form.split("</form>")[0]

    # What the form sends with every layer unticked.
    response = client.get("/map/features/", {"bbox": ASHFORD_BBOX, "as_of": "", "layers": ""})

    content = response.content.decode()
    assert response.status_code == 200 and table_rows(response.content) == []
    assert 'name="layers" type="checkbox" value="districts">' in content  # not checked
    assert (
        "No layers are chosen. Choose one or more layers, then select “Show features”." in content
    )
    assert "No features of the chosen layers" not in content
    assert back_to_the_map(response).startswith("/map/?layers=&center=")


def test_popup_rows_read_as_the_dataset_page_reads_values(personas, client_as):
    """A yes-or-no property said "True" in the pop-up and "Yes" on the dataset page."""
    dataset = dataset_make(slug="flags", owner=personas.organisation_a)
    version_publish_points(
        dataset=dataset, points={"depot": (601300, 142700)},
        properties={"depot": {"is_open": True, "closed": False, "closed_on": None}},
    )  # fmt: skip
    detail = client_as(None).get(f"/datasets/flags/features/{live_id('depot')}.json").json()
    rows = {key: value for key, value, _ in detail["rows"]}
    assert (rows["is_open"], rows["closed"]) == ("Yes", "No")
    assert "None" not in rows.values()  # a property without a value is not listed as "None"
    assert {item["name"]: item["value"] for item in detail["properties"]}["is_open"] is True


def test_values_of_spaces_alone_are_left_out_as_empty_ones_are_but_downloaded(personas, client_as):
    """A ward's Welsh name of one space is no value to read: the pop-up and the feature's page
    leave it out, as they leave out an empty one; a download keeps the value as given."""
    dataset = dataset_make(slug="spaced", owner=personas.organisation_a)
    blank = {"welsh": " ", "tabbed": "\t \u00a0", "empty": "", "name": " Nailbourne "}
    version_publish_points(
        dataset=dataset, points={"ward": (601300, 142700)}, properties={"ward": blank}
    )
    client = client_as(None)
    detail = client.get(f"/datasets/spaced/features/{live_id('ward')}.json").json()
    assert [(key, value) for key, value, _ in detail["rows"]] == [
        ("Reference", "ward"), ("name", " Nailbourne "),
    ]  # fmt: skip
    page = client.get(f"/datasets/spaced/features/{live_id('ward')}/").content.decode()
    keys = re.findall(r'<dt class="govuk-summary-list__key">([^<]*)</dt>', page)
    assert keys == ["Reference", "name"]
    download = client.get("/datasets/spaced/download.csv")
    (row,) = csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig")))
    assert (row["welsh"], row["name"]) == (" ", " Nailbourne ")


# Values of a property ``url``, by feature, and whether each is shown as a link.
ADDRESSES = {
    "plan": ("  https://example.org/plans/4.pdf ", "https://example.org/plans/4.pdf"),
    "upper": ("HTTP://EXAMPLE.ORG/Plan", "HTTP://EXAMPLE.ORG/Plan"),
    "quoted": ('https://example.org/?q=<b>"x"</b>', 'https://example.org/?q=<b>"x"</b>'),
    "script": ("javascript:alert(document.cookie)", None),
    "data": ("data:text/html,<script>alert(1)</script>", None),
    "mail": ("mailto:planning@example.org", None),
    "words": ("See https://example.org/plans/4.pdf", None),
    "spaced": ("https://example.org/site plan.pdf", None),
    "bare": ("www.example.org", None),
}


@pytest.fixture
def addressed(personas):
    """Public points, each with a ``url`` of ADDRESSES, laid along a street in Ashford."""
    dataset = dataset_make(
        slug="addressed", owner=personas.organisation_a,
        field_schema=[{"name": "url", "type": "string", "title": "Web address"}],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset,
        points={name: (601300 + 10 * index, 142700) for index, name in enumerate(ADDRESSES)},
        properties={name: {"url": text} for name, (text, _) in ADDRESSES.items()},
    )
    return dataset


@pytest.mark.parametrize("name", ADDRESSES)
def test_popup_marks_a_value_that_is_a_web_address_as_a_link(addressed, client_as, name):
    text, address = ADDRESSES[name]

    detail = client_as(None).get(f"/datasets/addressed/features/{live_id(name)}.json").json()

    rows = {key: (value, href) for key, value, href in detail["rows"]}
    assert rows["Web address"] == (text, address)
    assert rows["Reference"] == (name, None)


def web_address_cell(page: str) -> str:
    return re.search(
        r'<dt class="govuk-summary-list__key">Web address</dt>\s*'
        r"<dd class=\"govuk-summary-list__value\">(.*?)</dd>",
        page,
        re.DOTALL,
    )[1]


def test_a_features_page_links_a_web_address_to_open_in_a_new_tab(addressed, client_as):
    page = client_as(None).get(f"/datasets/addressed/features/{live_id('plan')}/").content.decode()

    assert web_address_cell(page) == (
        '<a class="govuk-link govuk-!-text-break-word" href="https://example.org/plans/4.pdf"'
        ' target="_blank" rel="noreferrer noopener">'
        "https://example.org/plans/4.pdf (opens in new tab)</a>"
    )


def test_a_features_page_escapes_a_web_address(addressed, client_as):
    page = client_as(None).get(f"/datasets/addressed/features/{live_id('quoted')}/")

    escaped = "https://example.org/?q=&lt;b&gt;&quot;x&quot;&lt;/b&gt;"
    assert web_address_cell(page.content.decode()) == (
        f'<a class="govuk-link govuk-!-text-break-word" href="{escaped}"'
        f' target="_blank" rel="noreferrer noopener">{escaped} (opens in new tab)</a>'
    )


@pytest.mark.parametrize("name", ["script", "data", "mail", "words", "spaced", "bare"])
def test_a_features_page_shows_anything_else_as_text(addressed, client_as, name):
    page = client_as(None).get(f"/datasets/addressed/features/{live_id(name)}/").content.decode()

    assert web_address_cell(page) == html.escape(ADDRESSES[name][0])
    assert "<a " not in web_address_cell(page)


def test_a_brownfield_sites_plan_is_a_link_in_its_popup_and_on_its_page(client_as):
    """The demo registers' ``site-plan-url``, as the register publishes it."""
    demo_dataset_load("brownfield-land")
    site = Feature.objects.get(reference="local-authority-eng:ASF/BE16", valid_to__isnull=True)
    plan = "https://www.ashford.gov.uk/media/5754/be16.pdf"
    client = client_as(None)

    detail = client.get(f"/datasets/brownfield-land/features/{site.pk}.json").json()
    page = client.get(f"/datasets/brownfield-land/features/{site.pk}/").content.decode()

    assert ["Site plan", plan, plan] in detail["rows"]
    assert ["Site address", "Former Ashford South Primary School", None] in detail["rows"]
    assert (
        f'<a class="govuk-link govuk-!-text-break-word" href="{plan}" target="_blank"'
        f' rel="noreferrer noopener">{plan} (opens in new tab)</a>'
    ) in page
