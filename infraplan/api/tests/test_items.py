"""Features of the real demo schools through /items: bbox in three CRSs against PostGIS's own
counts, a real school in every output CRS, paging by next links, attribute filters, and every
bad parameter refused with its reason."""

from urllib.parse import parse_qs, urlsplit

import pytest
import shapely
from django.db import connection

from infraplan.catalogue.models import Feature
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make, version_publish_points

from .conftest import body

pytestmark = pytest.mark.django_db

ITEMS = "/ogcapi/collections/schools/items"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
# Simon Langton Girls' Grammar School, Canterbury (GIAS URN 118840), at its postcode centroid.
SCHOOL_URN, SCHOOL_LON, SCHOOL_LAT = "118840", 1.096579, 51.264737
# Canterbury and around, in longitude and latitude, and (roughly the same) in the grid.
CANTERBURY = (1.03, 51.24, 1.13, 51.31)
CANTERBURY_GRID = (610000, 154000, 620000, 162000)


def school_id(urn: str = SCHOOL_URN) -> int:
    return Feature.objects.get(reference=urn, valid_to__isnull=True).pk


def postgis_count(schools, box_sql: str, parameters: list) -> int:
    """How many schools of the current version, not closed, meet a box, counted by PostGIS
    alone. Closed schools (a close date) are left out, as the API leaves out ended features."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM catalogue_feature WHERE dataset_id = %s AND valid_to IS NULL "
            f"AND properties ->> 'close_date' IS NULL AND ST_Intersects(geom, {box_sql})",
            [schools.pk, *parameters],
        )
        return cursor.fetchone()[0]


def test_bbox_counts_equal_postgis_counts_in_every_bbox_crs(schools, client):
    west, south, east, north = CANTERBURY
    # The box's edges, in degrees, are curves on the grid: transform them finely.
    degrees = postgis_count(
        schools, "ST_Transform(ST_Segmentize(ST_MakeEnvelope(%s, %s, %s, %s, 4326), 0.001), 27700)",
        list(CANTERBURY),
    )  # fmt: skip
    grid = postgis_count(schools, "ST_MakeEnvelope(%s, %s, %s, %s, 27700)", list(CANTERBURY_GRID))

    lon_lat = body(client.get(ITEMS, {"bbox": ",".join(map(str, CANTERBURY)), "limit": 1000}))
    lat_lon = body(client.get(ITEMS, {
        "bbox": f"{south},{west},{north},{east}", "bbox-crs": f"{EPSG}4326", "limit": 1000,
    }))  # fmt: skip
    metres = body(client.get(ITEMS, {
        "bbox": ",".join(map(str, CANTERBURY_GRID)), "bbox-crs": f"{EPSG}27700", "limit": 1000,
    }))  # fmt: skip

    assert 20 < degrees < 200 and 20 < grid < 200
    assert lon_lat["numberMatched"] == lon_lat["numberReturned"] == degrees
    assert lat_lon["numberMatched"] == degrees
    assert {f["id"] for f in lat_lon["features"]} == {f["id"] for f in lon_lat["features"]}
    assert metres["numberMatched"] == grid
    box = shapely.box(*CANTERBURY)
    for feature in lon_lat["features"]:  # CRS84 by default: longitude first
        assert box.contains(shapely.geometry.shape(feature["geometry"]))


def test_a_real_school_in_every_output_crs(schools, client):
    feature = Feature.objects.get(pk=school_id())
    url = f"{ITEMS}/{feature.pk}"

    default = client.get(url)
    lat_first = client.get(url, {"crs": f"{EPSG}4326"})
    grid = client.get(url, {"crs": f"{EPSG}27700"})
    mercator = client.get(url, {"crs": f"{EPSG}3857"})

    assert default["Content-Crs"] == f"<{CRS84}>"
    assert default["Content-Type"] == "application/geo+json"
    school = body(default)
    assert school["id"] == feature.pk
    assert school["properties"]["name"] == "Simon Langton Girls' Grammar School"
    assert list(school["properties"])[:3] == ["reference", "urn", "name"]
    assert list(school["properties"])[-2:] == ["district", "ward"]
    assert school["properties"]["district"] == "E07000106"  # Canterbury
    lon, lat = school["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx((SCHOOL_LON, SCHOOL_LAT), abs=2e-7)
    assert all(len(str(value).split(".")[1]) <= 7 for value in (lon, lat))
    assert lat_first["Content-Crs"] == f"<{EPSG}4326>"
    assert body(lat_first)["geometry"]["coordinates"] == [lat, lon]  # latitude first
    assert grid["Content-Crs"] == f"<{EPSG}27700>"
    assert body(grid)["geometry"]["coordinates"] == [round(feature.geom.x, 2), round(feature.geom.y, 2)]  # fmt: skip
    assert body(mercator)["geometry"]["coordinates"] == [
        round(feature.geom_3857.x, 2), round(feature.geom_3857.y, 2)
    ]  # fmt: skip
    (self_link,) = [link for link in school["links"] if link["rel"] == "self"]
    assert self_link["href"] == f"http://testserver{url}"


def test_paging_by_next_links_gives_every_feature_once(schools, client):
    expected = set(current_features(schools).values_list("pk", flat=True))
    seen, pages, url = [], 0, f"http://testserver{ITEMS}?limit=400&ended=show"
    while url:
        page = body(client.get(url))
        pages += 1
        assert page["numberMatched"] == len(expected)
        assert page["numberReturned"] == len(page["features"])
        seen += [feature["id"] for feature in page["features"]]
        following = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if pages > 1:
            assert [link for link in page["links"] if link["rel"] == "prev"]
        url = following[0] if following else None

    assert pages == 4  # 1,504 schools, 400 a page
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected
    assert seen == sorted(seen)  # by id: the same order on every page


def test_next_and_prev_links_keep_every_other_parameter(schools, client):
    page = body(client.get(ITEMS, {
        "limit": 5, "offset": 10, "town": "Canterbury", "crs": f"{EPSG}27700",
        "bbox": ",".join(map(str, CANTERBURY)),
    }))  # fmt: skip
    (following,) = [link["href"] for link in page["links"] if link["rel"] == "next"]
    (previous,) = [link["href"] for link in page["links"] if link["rel"] == "prev"]

    assert following.startswith("http://testserver/ogcapi/collections/schools/items?")
    query = parse_qs(urlsplit(following).query)
    assert query == {
        "limit": ["5"], "offset": ["15"], "town": ["Canterbury"], "crs": [f"{EPSG}27700"],
        "bbox": [",".join(map(str, CANTERBURY))],
    }  # fmt: skip
    assert parse_qs(urlsplit(previous).query)["offset"] == ["5"]
    assert body(client.get(following))["features"][0]["properties"]["town"] == "Canterbury"


def page_offsets(page: dict) -> dict[str, int]:
    """The offset each of a page's ``next`` and ``prev`` links asks for, by rel."""
    return {
        link["rel"]: int(parse_qs(urlsplit(link["href"]).query)["offset"][0])
        for link in page["links"]
        if link["rel"] in ("next", "prev")
    }


def test_the_last_page_has_no_next_link_and_past_it_is_empty(schools, client):
    last = body(client.get(ITEMS, {"limit": 10, "offset": 1500, "ended": "show"}))
    past = body(client.get(ITEMS, {"limit": 10, "offset": 5000, "ended": "show"}))

    assert last["numberReturned"] == 4
    assert not [link for link in last["links"] if link["rel"] == "next"]
    assert past["features"] == [] and past["numberMatched"] == 1504
    assert body(client.get(ITEMS))["numberReturned"] == 10  # the default limit


def test_a_page_past_the_end_leads_back_to_the_last_page_with_features(schools, client):
    past = body(client.get(ITEMS, {"limit": 10, "offset": 100000, "ended": "show"}))
    assert past["numberReturned"] == 0 and past["numberMatched"] == 1504
    assert page_offsets(past) == {"prev": 1494}  # not 99,990: another empty page

    (previous,) = [link["href"] for link in past["links"] if link["rel"] == "prev"]
    last = body(client.get(previous))
    assert last["numberReturned"] == 10
    assert page_offsets(last) == {"prev": 1484}  # and no next: nothing lies beyond it
    # Where nothing matches, the way back is to the first page.
    nothing = {"limit": 10, "offset": 30, "bbox": "100,10,101,11"}
    assert page_offsets(body(client.get(ITEMS, nothing))) == {"prev": 0}
    # Within the features, prev steps back a page and next on, as ever.
    assert page_offsets(body(client.get(ITEMS, {"limit": 10, "offset": 25}))) == {
        "next": 35, "prev": 15
    }  # fmt: skip


def test_only_a_box_that_cannot_be_one_of_its_coordinate_system_is_refused(schools, client):
    """Numbers in degrees are refused as a box on the grid, which they cannot mean; the same
    numbers in Web Mercator's metres are a real place (off Africa) with no features, as a box
    in degrees far from Great Britain is; a box of the grid reaching over its edge holds the
    part on it."""
    degrees = {"bbox": "1.2,51.2,1.4,51.4"}
    as_grid = client.get(ITEMS, {**degrees, "bbox-crs": f"{EPSG}27700"})
    as_web = client.get(ITEMS, {**degrees, "bbox-crs": f"{EPSG}3857"})
    far = client.get(ITEMS, {"bbox": "100,10,101,11"})
    edge = client.get(ITEMS, {"bbox": "600000,-5000,700000,160000", "bbox-crs": f"{EPSG}27700"})

    assert as_grid.status_code == 400
    assert as_web.status_code == far.status_code == edge.status_code == 200
    assert body(as_web)["numberMatched"] == body(far)["numberMatched"] == 0
    assert body(edge)["numberMatched"] > 100


def test_attribute_filters_match_the_stored_values(schools, client):
    def count(**query) -> int:
        return body(client.get(ITEMS, {"limit": 1, "ended": "show", **query}))["numberMatched"]

    stored = current_features(schools)
    assert count(town="Canterbury") == stored.filter(properties__town="Canterbury").count() > 10
    assert count(town=["Canterbury", "Dover"]) == (
        stored.filter(properties__town__in=["Canterbury", "Dover"]).count()
    )
    assert count(is_open="false") == stored.filter(properties__is_open=False).count() > 100
    assert count(is_open="yes", town="Dover") == (
        stored.filter(properties__is_open=True, properties__town="Dover").count()
    )
    assert count(onspd_oseast1m="614868.0") == stored.filter(properties__onspd_oseast1m=614868).count()  # fmt: skip
    assert count(urn=SCHOOL_URN) == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "0"}, "limit: 0 is out of range; give 1 to 10,000"),
        ({"limit": "10001"}, "limit: 10001 is out of range; give 1 to 10,000"),
        ({"limit": "ten"}, "limit: 'ten' is not a whole number"),
        ({"limit": ["5", "6"]}, "limit: given 2 times; give it once"),
        ({"limit": "-1"}, "limit: -1 is out of range; give 1 to 10,000"),
        ({"limit": "-0"}, "limit: 0 is out of range; give 1 to 10,000"),
        ({"offset": "-1"}, "offset: -1 is out of range; give 0 to "),
        (
            {"bbox": "1,51,1.1,51.1,0,10"},
            "bbox: '1,51,1.1,51.1,0,10' has six numbers, a box in three dimensions, which this service does not support",
        ),
        ({"bbox": "1,51,1.1"}, "bbox: '1,51,1.1' has 3 part(s); give four"),
        ({"bbox": "a,b,c,d"}, "bbox: 'a,b,c,d' is not four comma-separated numbers"),
        ({"bbox": "1,51,nan,52"}, "holds a number that is not finite"),
        (
            {"bbox": "1.1,51,1,51.1"},
            "bbox: '1.1,51,1,51.1' in CRS84 must be minimum longitude, minimum latitude, maximum longitude, maximum latitude, each minimum below its maximum",
        ),
        ({"bbox": "1,51,2,95"}, "is outside longitudes -180 to 180 and latitudes -90 to 90"),
        (
            {"bbox": "51,1,52,2", "bbox-crs": "EPSG:4326"},
            "bbox-crs: 'EPSG:4326' is not a coordinate reference system this service offers",
        ),
        (
            {"bbox-crs": f"{EPSG}27700"},
            "bbox-crs: it names the coordinate system of bbox, which is not given; give bbox "
            "too, or leave bbox-crs out",
        ),
        (
            {"bbox": "1.2,51.2,1.4,51.4", "bbox-crs": f"{EPSG}27700"},
            "bbox: '1.2,51.2,1.4,51.4' in EPSG:27700 looks like degrees: on the British National "
            "Grid it is a box 0.2 by 0.2 metres at the grid's origin, out in the Atlantic. Leave "
            "bbox-crs out for a box in degrees (longitude first), or give eastings from 0 to "
            "700,000 and northings from 0 to 1,300,000 metres",
        ),
        (  # latitude first, as EPSG:4326 has it: degrees still
            {"bbox": "51.2,1.2,51.4,1.4", "bbox-crs": f"{EPSG}27700"},
            "in EPSG:27700 looks like degrees",
        ),
        (
            {"bbox": "-9000000,-9000000,-8000000,-8000000", "bbox-crs": f"{EPSG}27700"},
            "bbox: '-9000000,-9000000,-8000000,-8000000' in EPSG:27700 lies outside Great "
            "Britain and its waters, where every feature is: the grid's eastings run from 0 to "
            "700,000 and its northings from 0 to 1,300,000 metres",
        ),
        (
            {"bbox": "700000,0,800000,100000", "bbox-crs": f"{EPSG}27700"},
            "in EPSG:27700 lies outside Great Britain and its waters",
        ),
        (
            {"bbox": "51.1,1,51,1.1", "bbox-crs": f"{EPSG}4326"},
            "in EPSG:4326 must be minimum latitude, minimum longitude, maximum latitude, maximum longitude",
        ),
        ({"crs": f"{EPSG}2154"}, f"crs: '{EPSG}2154' is not a coordinate reference system"),
        ({"datetime": "2024-02-30"}, "datetime: '2024-02-30' is not a real date"),
        (
            {"datetime": "yesterday"},
            "datetime: 'yesterday' is neither a date (2024-03-27) nor a date and time",
        ),
        (
            {"datetime": "2024-05-01/2024-01-01"},
            "datetime: '2024-05-01/2024-01-01' ends before it starts",
        ),
        ({"datetime": "2024-01-01/2024-02-01/2024-03-01"}, "has more than one '/'"),
        ({"datetime": ".."}, "datetime: '..' names no date"),
        (
            {"datetime": "9999-12-31T23:00:00-01:00"},
            "datetime: '9999-12-31T23:00:00-01:00' falls outside the years 1 to 9999",
        ),
        ({"datetime": "0001-01-01T00:00:00Z/.."}, "falls outside the years 1 to 9999"),
        ({"as_of": "27/03/2026"}, "as_of: Enter the date as year-month-day with numbers"),
        ({"as_of": "2026-02-30"}, "as_of: '2026-02-30' is not a real date"),
        ({"ended": "yes"}, "ended: 'yes' is not an option; give ended=show"),
        ({"is_open": "maybe"}, "is_open: 'maybe' is not true or false"),
        ({"onspd_oseast1m": "east"}, "onspd_oseast1m: 'east' is not a whole number"),
        ({"town": "Can\x00terbury"}, "town: a value cannot contain the NUL character"),
        ({"colour": "red"}, "'colour' is neither a parameter of this address"),
        ({"f": "html"}, "f: 'html' is not a format this service answers in"),
    ],
)
def test_every_bad_parameter_is_a_400_saying_which_and_why(schools, client, query, message):
    response = client.get(ITEMS, query)
    assert response.status_code == 400, response.content
    error = body(response)
    assert error["code"] == "InvalidParameterValue"
    assert message in error["description"]


def test_a_feature_id_that_is_none_of_the_collection_is_a_404(schools, districts, client):
    district = Feature.objects.filter(dataset=districts).first().pk
    for feature_id in (district, 0, 2**70):
        response = client.get(f"{ITEMS}/{feature_id}")
        assert response.status_code == 404
        assert body(response) == {
            "code": "NotFound", "description": f"{schools.title} has no feature {feature_id}."
        }  # fmt: skip


def test_plain_json_on_request_and_geojson_otherwise(schools, client):
    plain = client.get(ITEMS, HTTP_ACCEPT="application/json")
    geojson = client.get(ITEMS, HTTP_ACCEPT="application/geo+json, application/json;q=0.9")
    browser = client.get(ITEMS, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")

    assert plain["Content-Type"] == "application/json"
    assert geojson["Content-Type"] == browser["Content-Type"] == "application/geo+json"
    assert "Accept" in plain["Vary"]
    assert body(plain)["type"] == "FeatureCollection"


def test_an_empty_filter_value_keeps_the_unknown(personas, client):
    dataset = dataset_make(
        slug="statuses", owner=personas.organisation_a,
        field_schema=[{"name": "status", "type": "string"}, {"name": "homes", "type": "integer"}],
    )  # fmt: skip
    version_publish_points(
        dataset=dataset,
        points={"known": (615000, 157500), "null": (615010, 157500), "missing": (615020, 157500)},
        properties={"known": {"status": "pending", "homes": 0}, "null": {"status": None}},
    )

    def references(**query) -> set[str]:
        page = body(client.get("/ogcapi/collections/statuses/items", query))
        return {feature["properties"]["reference"] for feature in page["features"]}

    assert references(status="") == {"null", "missing"}
    assert references(status=["", "pending"]) == {"known", "null", "missing"}
    assert references(homes="0") == {"known"}  # zero is a value; unknown is not zero
    assert references(homes="") == {"null", "missing"}
