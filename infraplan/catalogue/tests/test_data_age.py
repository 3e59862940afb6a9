"""How old a dataset's data are (``selectors.dataset_data_age``), told apart from when the
platform loaded them: the catalogue's cards and the dataset's page say both, and that an update
is overdue where its update frequency made a newer version due long enough ago."""

import re
from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from infraplan.catalogue.models import Dataset, UpdateFrequency
from infraplan.catalogue.selectors import dataset_data_age
from infraplan.connectors.models import IngestRun, RunState, Source
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points

from .test_pages import summary


def _age(today: date, **dates):
    return dataset_data_age(Dataset(**dates), today=today)


def test_the_data_are_as_of_the_reference_date_else_the_end_of_their_period():
    today = date(2026, 12, 7)
    both = _age(today, reference_date=date(2020, 3, 12), temporal_end=date(2020, 1, 1))
    assert both.as_of == date(2020, 3, 12)
    assert _age(today, temporal_end=date(2020, 3, 12)).as_of == date(2020, 3, 12)
    # Unknown is not made up: not today, nor a period's end still to come (a plan to 2040).
    assert _age(today).as_of is None
    assert _age(today, temporal_end=date(2040, 3, 31)).as_of is None
    assert _age(today, temporal_end=today).as_of == today


@pytest.mark.parametrize(
    ("frequency", "as_of", "due", "last_day_not_overdue"),
    [
        (UpdateFrequency.CONTINUAL, date(2026, 1, 2), date(2026, 1, 3), date(2026, 1, 6)),
        (UpdateFrequency.DAILY, date(2026, 1, 2), date(2026, 1, 3), date(2026, 1, 6)),
        (UpdateFrequency.WEEKLY, date(2026, 1, 1), date(2026, 1, 8), date(2026, 1, 15)),
        # A month after the 31st of January is the last day of February.
        (UpdateFrequency.MONTHLY, date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 14)),
        (UpdateFrequency.QUARTERLY, date(2026, 1, 1), date(2026, 4, 1), date(2026, 5, 2)),
        (UpdateFrequency.BIANNUALLY, date(2026, 1, 1), date(2026, 7, 1), date(2026, 8, 31)),
        # The brownfield land registers: revised in March 2020, updated annually.
        (UpdateFrequency.ANNUALLY, date(2020, 3, 12), date(2021, 3, 12), date(2021, 6, 12)),
        (UpdateFrequency.ANNUALLY, date(2024, 2, 29), date(2025, 2, 28), date(2025, 5, 31)),
    ],
)
def test_an_update_is_overdue_only_once_its_grace_has_passed(
    frequency, as_of, due, last_day_not_overdue
):
    for today in (as_of, due, last_day_not_overdue):
        age = _age(today, reference_date=as_of, update_frequency=frequency)
        assert (age.as_of, age.update_due, age.overdue) == (as_of, due, False), today
    late = _age(
        last_day_not_overdue + timedelta(days=1), reference_date=as_of, update_frequency=frequency
    )
    assert (late.update_due, late.overdue) == (due, True)


@pytest.mark.parametrize(
    "frequency",
    [
        UpdateFrequency.AS_NEEDED,
        UpdateFrequency.IRREGULAR,
        UpdateFrequency.NOT_PLANNED,
        UpdateFrequency.UNKNOWN,
    ],
)
def test_a_frequency_that_promises_no_date_is_never_overdue(frequency):
    age = _age(date(2026, 12, 7), reference_date=date(2000, 1, 1), update_frequency=frequency)
    assert (age.as_of, age.update_due, age.overdue) == (date(2000, 1, 1), None, False)


def test_data_of_no_known_date_are_never_overdue():
    age = _age(date(2026, 12, 7), update_frequency=UpdateFrequency.DAILY)
    assert (age.as_of, age.update_due, age.overdue) == (None, None, False)


# The pages


def _card(content: str, title: str) -> dict[str, str]:
    """The rows of the catalogue card of the dataset ``title`` as {key: text}."""
    start = content.index(f">{title}</a>")
    card = content[start : content.index("</li>", start)]
    rows = re.findall(
        r'<dt class="govuk-summary-list__key">(.*?)</dt>\s*'
        r'<dd class="govuk-summary-list__value">(.*?)</dd>',
        card,
        flags=re.S,
    )
    return {key: " ".join(re.sub(r"<[^>]+>", " ", value).split()) for key, value in rows}


@pytest.fixture
def registers(personas):
    """Registers revised in March 2020 and updated annually, published on the platform today;
    a list revised lately; and one whose data are of no stated date, not published yet."""
    old = dataset_make(
        slug="registers", owner=personas.organisation_a, title="Registers",
        update_frequency="annually", temporal_start=date(2018, 5, 22),
        temporal_end=date(2020, 3, 12), reference_date=date(2020, 3, 12),
    )  # fmt: skip
    version_publish_points(dataset=old, points=ASHFORD_POINTS)
    dataset_make(
        slug="recent", owner=personas.organisation_a, title="Recent",
        update_frequency="annually", reference_date=timezone.localdate() - timedelta(days=30),
    )  # fmt: skip
    dataset_make(slug="undated", owner=personas.organisation_a, title="Undated",
                 update_frequency="weekly")  # fmt: skip
    return old


@pytest.mark.django_db
def test_a_card_says_how_old_the_data_are_apart_from_when_they_were_loaded(registers, client):
    content = client.get("/datasets/").content.decode()
    card = _card(content, "Registers")
    today = timezone.localdate()
    assert "Last updated" not in content
    assert card["Data as of"] == (
        "12 March 2020 Update overdue Its data are as of 12 March 2020 and its update frequency "
        "is annually: a newer version was due by 12 March 2021."
    )
    assert card["Loaded"] == f"{today:%-d %B %Y}"
    assert '<time datetime="2020-03-12">12 March 2020</time>' in content
    assert '<strong class="govuk-tag govuk-tag--orange">Update overdue</strong>' in content
    recent = _card(content, "Recent")
    assert recent["Data as of"] == f"{today - timedelta(days=30):%-d %B %Y}"
    assert "Loaded" not in recent  # nothing published: nothing loaded
    assert _card(content, "Undated")["Data as of"] == "Not known"
    assert content.count("Update overdue") == 1


@pytest.mark.django_db
def test_the_dataset_page_says_an_update_is_overdue_beside_its_dates(registers, client):
    metadata = summary(client.get("/datasets/registers/"))
    assert " ".join(metadata["Dataset reference date"].split()) == (
        "12 March 2020 Update overdue Its data are as of 12 March 2020 and its update frequency "
        "is annually: a newer version was due by 12 March 2021."
    )
    recent = summary(client.get("/datasets/recent/"))["Dataset reference date"]
    assert "overdue" not in recent


def test_data_read_from_a_service_are_as_of_their_last_read():
    """A service read weekly is as current as the service: its last published read, where that
    is later than the reference date its data manager gave (or there is none)."""
    today = date(2026, 12, 7)
    weekly = {"reference_date": date(2026, 1, 5), "update_frequency": UpdateFrequency.WEEKLY}
    read = timezone.make_aware(datetime(2026, 12, 4, 23, 30))
    age = dataset_data_age(Dataset(**weekly), today=today, fetched=read)
    assert (age.as_of, age.overdue) == (date(2026, 12, 4), False)
    assert dataset_data_age(Dataset(**weekly), today=today).overdue
    older = timezone.make_aware(datetime(2025, 6, 1))
    assert dataset_data_age(Dataset(**weekly), today=today, fetched=older).as_of == date(2026, 1, 5)


@pytest.mark.django_db
def test_pages_take_the_last_published_read_of_a_remote_source(registers, client):
    """Only a remote source's published read counts: not an upload, nor a failed read."""
    source = Source.objects.create(
        dataset=registers, connector_key="wfs", config={}, mapping={}, schedule="weekly"
    )
    finished = timezone.now() - timedelta(days=2)
    for state, connector in ((RunState.PUBLISHED, "wfs"), (RunState.FAILED, "wfs")):
        IngestRun.objects.create(
            source=source, dataset=registers, connector_key=connector, state=state,
            finished_at=finished if state == RunState.PUBLISHED else timezone.now(),
        )  # fmt: skip
    IngestRun.objects.create(
        dataset=registers, connector_key="upload", state=RunState.PUBLISHED,
        finished_at=timezone.now(),
    )  # fmt: skip
    shown = f"{timezone.localdate(finished):%-d %B %Y}"
    card = _card(client.get("/datasets/").content.decode(), "Registers")
    assert card["Data as of"] == shown
    metadata = summary(client.get("/datasets/registers/"))
    assert "overdue" not in metadata["Dataset reference date"]
