"""Every connector's settings are checked when a source is saved: numbers, areas, addresses and
schedules a load could not use are refused with what is wrong, never saved to fail at 3 a.m."""

import pytest
from django.core.exceptions import ValidationError

from infraplan.connectors.models import Source
from infraplan.connectors.schedules import schedule_checked, schedule_cron
from infraplan.connectors.sources import source_save
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db
COLLECTION = "https://example.org/collections/sites"


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


def save(sites, personas, connector_key: str, config: dict, schedule: str = "") -> Source:
    return source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key=connector_key,
        config=config, mapping={"reference": "ref"}, schedule=schedule,
    )  # fmt: skip


AREA_IN_LON_LAT = "must be in longitude (-180 to 180) and latitude (-90 to 90)"


@pytest.mark.parametrize(
    ("connector_key", "config", "message"),
    [
        ("ogcapi", {"url": COLLECTION, "bbox": [float("nan"), 51, 1, 52]},
         "bbox.0: Input should be a finite number"),
        ("ogcapi", {"url": COLLECTION, "bbox": [0, 51, float("inf"), 52]},
         "bbox.2: Input should be a finite number"),
        ("ogcapi", {"url": COLLECTION, "bbox": [10, 10, 0, 0]},
         "bbox: Value error, must give west, south, east, north in that order"),
        ("wfs", {"url": "https://example.org/wfs", "type_names": "a:b",
                 "bbox": [1000, -1000, 2000, 3000]}, AREA_IN_LON_LAT),
        ("wfs", {"url": "https://example.org/wfs", "type_names": "a:b", "bbox": [0, 51, 1]},
         "bbox: List should have at least 4 items"),
        ("url", {"url": "http://example.org:99999/a.csv"},
         "url: Value error, is not a valid address (port out of range 0-65535)"),
        ("url", {"url": "http://exa mple.org/a.csv"}, "url: Value error, must not contain spaces"),
        ("url", {"url": "http://user:secret@example.org/a.csv"},
         "url: Value error, must not carry a user name or password"),
        ("ogcapi", {"url": "http://[::1/collections/x"},
         "url: Value error, is not a valid address (invalid ipv6 url)"),
        ("arcgis", {"url": "https://example.org:0/arcgis/rest/services/a/FeatureServer/0"},
         "url: Value error, has port 0"),
        ("planning_data", {"dataset": "green-belt", "geometry": "POLYGON((0 0, nan 0, 1 1, 0 0))"},
         "geometry: Value error, must have numbers for every coordinate"),
        ("planning_data", {"dataset": "green-belt", "geometry": "POLYGON((0 0, 1000 0, 1 1, 0 0))"},
         "geometry: Value error, must be in longitude (-180 to 180) then latitude"),
        ("planning_data", {"dataset": "green-belt",
                           "geometry": "POLYGON((0 50, 1 51, 1 50, 0 51, 0 50))"},
         "geometry: Value error, is not a valid polygon (Self-intersection"),
        ("planning_data", {"dataset": "green-belt", "service": "https://exa mple.org"},
         "service: Value error, must not contain spaces"),
    ],
)  # fmt: skip
def test_settings_a_load_could_not_use_are_refused(sites, personas, connector_key, config, message):
    with pytest.raises(ValidationError) as refused:
        save(sites, personas, connector_key, config)
    assert message in " ".join(refused.value.messages)
    assert not Source.objects.exists()


@pytest.mark.parametrize("cron", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6 *"])
def test_a_schedule_that_never_runs_is_refused(sites, personas, cron):
    with pytest.raises(ValidationError) as refused:
        save(sites, personas, "ogcapi", {"url": COLLECTION}, schedule=cron)
    assert refused.value.messages == [
        f"'{cron}' never runs: none of the months it names has the day of the month it names "
        "(such as the 31st in February). Choose a day those months have."
    ]
    assert not Source.objects.exists()


def test_sound_settings_are_saved(sites, personas):
    source = save(
        sites, personas, "ogcapi", {"url": COLLECTION, "bbox": [0.6, 50.9, 1.5, 51.5]},
        schedule="0 0 29 2 *",  # leap days only: rare, but it runs
    )  # fmt: skip
    assert source.config["bbox"] == [0.6, 50.9, 1.5, 51.5]
    assert (source.next_run_at.month, source.next_run_at.day) == (2, 29)


def test_a_constant_every_row_would_fail_with_is_refused(personas):
    dataset = dataset_make(
        slug="typed-sites", owner=personas.organisation_a,
        field_schema=[
            {"name": "units", "type": "integer", "title": "Units"},
            {"name": "status", "type": "string", "title": "Status", "allowed": ["allocated"]},
        ],
    )  # fmt: skip
    mapping = {
        "reference": "ref", "casts": {"permitted": "date"},
        "constants": {
            "units": "notanint", "status": "rumoured", "permitted": "2026-02-30",
            "ref": "S1", "geometry": "POINT(0 0)",
        },
    }  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        source_save(
            actor=personas.data_manager_a, dataset=dataset, connector_key="ogcapi",
            config={"url": COLLECTION}, mapping=mapping,
        )  # fmt: skip
    assert refused.value.messages == [
        "The column mapping is not valid: the constant for units: 'notanint' is not a whole "
        "number; the constant for status: 'rumoured' is not one of: allocated; the constant for "
        "permitted: '2026-02-30' is no such date: February 2026 has 28 days; the constant for "
        "ref: every feature would have the same reference: it comes from a column; the constant "
        "for geometry: a feature's geometry comes from the source's geometry or coordinates."
    ]
    source = source_save(
        actor=personas.data_manager_a, dataset=dataset, connector_key="ogcapi",
        config={"url": COLLECTION},
        mapping={**mapping, "constants": {"units": "12", "status": "allocated"}},
    )  # fmt: skip
    assert source.mapping["constants"] == {"units": "12", "status": "allocated"}


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ("61 * * * *", "its minute field, '61', must be 0 to 59."),
        ("0 24 * * *", "its hour field, '24', must be 0 to 23."),
        ("0 2 0 * *", "its day of the month field, '0', must be 1 to 31."),
        ("0 2 * 13 *", "its month field, '13', must be 1 to 12 or JAN to DEC."),
        ("0 2 * * 8", "its day of the week field, '8', must be 0 to 7 or SUN to SAT"),
        ("*/0 2 * * *", "its minute field, '*/0', must be 0 to 59."),
        ("60 24 * * *", "its minute field, '60', must be 0 to 59; its hour field, '24', must"),
        ("every tuesday", "use daily, weekly, monthly or a cron expression of five fields"),
    ],
)
def test_a_cron_expression_that_is_not_valid_names_the_field(schedule, why):
    with pytest.raises(ValidationError) as refused:
        schedule_cron(schedule)
    (message,) = refused.value.messages
    assert message.startswith(f"{schedule!r} is not a schedule: {why}")


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ("* * * * *", "would load the source twice within a minute"),
        ("*/30 * * * *", "would load the source twice within 30 minutes"),
        ("0,30 9 * * 1", "would load the source twice within 30 minutes (at 09:00 and 09:30 UTC)"),
    ],
)
def test_a_schedule_more_often_than_the_minimum_is_refused(schedule, why):
    with pytest.raises(ValidationError) as refused:
        schedule_checked(schedule)
    (message,) = refused.value.messages
    assert message.startswith(f"{schedule!r} {why}")
    assert "the platform loads a source at most once in an hour" in message


@pytest.mark.parametrize("schedule", ["0 * * * *", "0 9,10 * * *", "weekly", "monthly"])
def test_a_schedule_of_the_minimum_or_less_often_is_taken(schedule):
    assert schedule_checked(schedule)


def test_the_minimum_is_a_setting(settings):
    settings.SOURCE_MIN_INTERVAL_MINUTES = 5
    assert schedule_checked("*/5 * * * *") == "*/5 * * * *"
    with pytest.raises(ValidationError, match="at most once in 5 minutes"):
        schedule_checked("*/4 * * * *")
