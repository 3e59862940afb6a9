"""Time on the OGC API: ``datetime`` against the features' own validity (start and end date
properties), ended features hidden as on the map, and ``as_of``: the dataset as the platform had
published it on a date."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from infraplan.api.validity import ValidDuring, datetime_parse
from infraplan.catalogue.models import Feature
from infraplan.core.testing.data import (
    dataset_make,
    days_ago,
    published_days_ago,
    version_publish_points,
)

from .conftest import body

pytestmark = pytest.mark.django_db

ITEMS = "/ogcapi/collections/lives/items"
# Each feature's own dates, under the names sources use (planning.data.gov.uk, brownfield
# registers, others).
LIVES = {
    "always": {},
    "y2020": {"start-date": "2020-01-01", "end-date": "2021-01-01"},
    "from2022": {"start-date": "2022-01-01"},
    "until2019": {"end_date": "2019-06-01"},
    "badstart": {"StartDate": "2020-02-30", "EndDate": "2020-03-01"},  # no such start: unknown
    "backwards": {"start_date": "2020-06-01", "end_date": "2020-01-01"},  # never valid
    "to-july-2021": {"end-date": "2021-07-01"},
    "future": {"start-date": "2999-01-01"},
}


@pytest.fixture
def lives(personas):
    dataset = dataset_make(slug="lives", owner=personas.organisation_a)
    points = {reference: (615000 + 10 * index, 157500) for index, reference in enumerate(LIVES)}
    version_publish_points(dataset=dataset, points=points, properties=LIVES)
    return dataset


def references(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {feature["properties"]["reference"] for feature in body(response)["features"]}


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2020-06-15", {"always", "y2020", "to-july-2021"}),
        ("2019-01-01", {"always", "until2019", "badstart", "to-july-2021"}),
        ("2021-01-01", {"always", "to-july-2021"}),  # y2020 ended that day
        ("2020-12-31/2022-01-01", {"always", "y2020", "to-july-2021", "from2022"}),
        ("../2019-12-31", {"always", "until2019", "badstart", "to-july-2021"}),
        ("2022-06-01/..", {"always", "from2022", "future"}),
        ("2022-06-01/", {"always", "from2022", "future"}),
        ("../..", set(LIVES) - {"backwards"}),
        # Date-times fall on the platform's day: 23:00 BST is still 30 June, 00:30 BST is not.
        ("2021-06-30T22:00:00Z", {"always", "to-july-2021"}),
        ("2021-06-30T23:30:00Z", {"always"}),
        ("2021-06-30T23:30:00+00:00/2021-07-02", {"always"}),
    ],
)
def test_datetime_keeps_the_features_valid_then(lives, client, when, expected):
    assert references(client.get(ITEMS, {"datetime": when})) == expected


def test_python_and_sql_read_validity_alike(lives):
    """The rule is said twice (SQL for the store, Python for other sources): same answers."""
    for when in ("2020-06-15", "2019-01-01", "2021-01-01", "2020-12-31/2022-01-01", "../..",
                 "2022-06-01/..", "../2019-12-31"):  # fmt: skip
        rule = datetime_parse(when)
        sql, parameters = rule.sql("properties")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT reference FROM catalogue_feature WHERE dataset_id = %(dataset)s AND {sql}",
                {**parameters, "dataset": lives.pk},
            )
            in_sql = {row[0] for row in cursor.fetchall()}
        in_python = {reference for reference, dates in LIVES.items() if rule(dates)}
        assert in_sql == in_python, when


def test_an_instant_is_one_day_and_open_ends_are_open():
    assert datetime_parse("2024-03-27") == ValidDuring(date(2024, 3, 27), date(2024, 3, 27))
    assert datetime_parse("../2024-03-27") == ValidDuring(None, date(2024, 3, 27))
    assert datetime_parse("2024-03-27T10:00:00Z/..") == ValidDuring(date(2024, 3, 27), None)


def test_without_datetime_ended_features_are_hidden_unless_shown(lives, client):
    assert references(client.get(ITEMS)) == {"always", "from2022", "future"}
    assert references(client.get(ITEMS, {"ended": "show"})) == set(LIVES)
    ended = Feature.objects.get(reference="y2020").pk
    hidden = client.get(f"{ITEMS}/{ended}")
    assert hidden.status_code == 404
    # Its id, taken from a layer that shows ended features, says why and how to see it.
    assert body(hidden)["description"] == (
        f"Feature {ended} of Lives had ended on 2021-01-01: features that have ended are left "
        "out unless asked for with ended=show."
    )
    shown = client.get(f"{ITEMS}/{ended}", {"ended": "show"})
    assert shown.status_code == 200
    # Shown, an ended feature is labelled with the date it ended; a live one is not.
    assert body(shown)["properties"]["ended"] == "2021-01-01"
    labels = {
        feature["properties"]["reference"]: feature["properties"].get("ended")
        for feature in body(client.get(ITEMS, {"ended": "show"}))["features"]
    }
    assert labels["y2020"] == "2021-01-01" and labels["until2019"] == "2019-06-01"
    assert labels["always"] is None and labels["future"] is None


@pytest.fixture
def sites(personas):
    """Version 1 ten days ago (civic centre, station, whose source said it ended four days
    ago), version 2 two days ago (civic centre, library: the station gone)."""
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    first = {"civic-centre": (601300, 142700), "station": (601650, 142180)}
    second = {"civic-centre": (601300, 142700), "library": (601500, 142400)}
    closing = {"station": {"end-date": days_ago(4)}}
    published_days_ago(version_publish_points(dataset=dataset, points=first, properties=closing), 10)  # fmt: skip
    published_days_ago(version_publish_points(dataset=dataset, points=second), 2)
    return dataset


def test_as_of_gives_the_dataset_as_published_on_that_date(sites, client):
    url = "/ogcapi/collections/sites/items"
    then = client.get(url, {"as_of": days_ago(5)})
    now = client.get(url)
    today = client.get(url, {"as_of": days_ago(0)})  # today is now

    assert references(then) == {"civic-centre", "station"}
    assert references(now) == references(today) == {"civic-centre", "library"}
    # Three days ago version 1 was still current, and the station had ended by its own date.
    assert references(client.get(url, {"as_of": days_ago(3)})) == {"civic-centre"}
    station = Feature.objects.get(reference="station").pk
    assert client.get(f"{url}/{station}").status_code == 404
    old = client.get(f"{url}/{station}", {"as_of": days_ago(5)})
    assert old.status_code == 200 and body(old)["properties"]["reference"] == "station"
    (self_link,) = [link for link in body(then)["features"][0]["links"] if link["rel"] == "self"]
    assert self_link["href"].endswith(f"?as_of={days_ago(5)}")


def test_a_date_to_come_is_a_400_as_on_the_map(sites, client):
    """The map and the dataset page refuse a date to come; the API answered it with today's
    data, as if the client had asked for now."""
    station = Feature.objects.get(reference="station").pk
    for url in ("/ogcapi/collections/sites/items", f"/ogcapi/collections/sites/items/{station}"):
        for when in (days_ago(-1), "2999-01-01"):
            response = client.get(url, {"as_of": when})
            assert response.status_code == 400
            assert response["Content-Type"] == "application/json"
            assert body(response) == {
                "code": "InvalidParameterValue",
                "description": "as_of: The date must be today or in the past",
            }
    assert client.get("/ogcapi/collections/sites/items", {"as_of": days_ago(0)}).status_code == 200


def test_a_link_to_a_feature_that_changed_since_leads_to_it_as_it_is(personas, client):
    """A feature's id is its row's, and a load that changes it gives it a new row: a link kept
    from before (a report, a bookmark) is sent on to the same feature, not a dead end."""
    dataset = dataset_make(slug="moving", owner=personas.organisation_a)
    version_publish_points(dataset=dataset, points={"depot": (601300, 142700)})
    old = Feature.objects.get(reference="depot").pk
    version_publish_points(dataset=dataset, points={"depot": (601400, 142800)})  # moved
    new = Feature.objects.get(reference="depot", valid_to__isnull=True).pk
    url = "/ogcapi/collections/moving/items"

    response = client.get(f"{url}/{old}", {"f": "json"})

    assert response.status_code == 302 and response["Location"] == f"{url}/{new}?f=json"
    assert body(client.get(response["Location"]))["id"] == new
    # The row that never was the dataset's, and a feature since removed, stay 404s.
    assert client.get(f"{url}/{new + 1000}").status_code == 404
    version_publish_points(dataset=dataset, points={"other": (601400, 142800)})
    assert client.get(f"{url}/{old}").status_code == 404


def test_before_the_first_publish_is_a_404_that_says_so(sites, client):
    when = timezone.localdate() - timedelta(days=20)
    for url in ("/ogcapi/collections/sites/items",
                f"/ogcapi/collections/sites/items/{Feature.objects.first().pk}"):  # fmt: skip
        response = client.get(url, {"as_of": when.isoformat()})
        assert response.status_code == 404
        assert body(response) == {
            "code": "NotFound",
            "description": f"Sites had not been published by the end of {when:%-d %B %Y}: "
            "nothing to show on that date.",
        }
