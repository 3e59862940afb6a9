"""Mail when a source's loads stop publishing, and when they publish again: real sources on a
local HTTP server, refreshed by the minute tick as at night, mails caught by Django's locmem
backend (or sent to a mail server that is not there)."""

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from infraplan.accounts.models import Role, User
from infraplan.accounts.services import membership_set, user_create
from infraplan.catalogue.ingest import IngestMapping
from infraplan.connectors.load_requests import ingest_request
from infraplan.connectors.models import IngestRun, RunState, Source
from infraplan.connectors.run_execution import IngestRetry, ingest_run_execute
from infraplan.connectors.sources import source_save
from infraplan.connectors.tasks import sources_tick_task
from infraplan.core.testing.data import dataset_make, version_publish_points

from .servers import HTML, Answer, free_port, json_answer, replay_server

pytestmark = pytest.mark.django_db(transaction=True)
REFERENCE = IngestMapping(reference="ref")
SITE = "https://infraplan.example.gov.uk"
PREFIX = f"[{django_settings.AUTHORITY_PROFILE.authority.service_name}] "


def points(*refs: str) -> Answer:
    """Two GeoJSON points in Canterbury, with these references (each may be empty)."""
    features = [
        {
            "type": "Feature",
            "properties": {"ref": ref},
            "geometry": {"type": "Point", "coordinates": xy},
        }
        for ref, xy in zip(refs, ([1.0789, 51.2802], [1.0801, 51.2811]), strict=True)
    ]
    return json_answer({"type": "FeatureCollection", "features": features}, "application/geo+json")


WEB_PAGE: Answer = (200, "text/html", HTML.encode())  # a sign-in page where the data was
DATA = points("P1", "P2")
UNAVAILABLE: Answer = (503, "text/plain", b"Service Unavailable")


@dataclass
class Service:
    """A local service answering every request with ``answer``, which a test changes."""

    url: str
    answer: Answer


@pytest.fixture
def service(settings) -> Iterator[Service]:
    settings.OUTBOUND_ALLOWED_HOSTS = settings.OUTBOUND_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.SITE_URL = SITE + "/"
    local = Service(url="", answer=WEB_PAGE)
    with replay_server(lambda path, query: local.answer) as replay:
        local.url = f"{replay.url}/points.geojson"
        yield local


@dataclass
class People:
    left_a: User  # a data manager of organisation A who has left (inactive)
    manager_b: User  # a data manager of organisation B


@pytest.fixture
def people(personas) -> People:
    def member(email: str, organisation, role: Role) -> User:
        user = user_create(actor=None, email=email, password=None)
        membership_set(actor=None, user=user, organisation=organisation, role=role)
        return user

    left_a = member("left@a.example", personas.organisation_a, Role.DATA_MANAGER)
    User.objects.filter(pk=left_a.pk).update(is_active=False)
    return People(
        left_a=left_a,
        manager_b=member("manager@b.example", personas.organisation_b, Role.DATA_MANAGER),
    )


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


def scheduled_refresh(source: Source, *, attempt: int = 1) -> IngestRun:
    """Make ``source`` due, let the minute tick ask for its load, and run it as the worker
    would (attempt ``attempt``)."""
    Source.objects.filter(pk=source.pk).update(next_run_at=timezone.now() - timedelta(minutes=1))
    assert sources_tick_task(timestamp=int(time.time()))["started"] == 1
    source.refresh_from_db()
    return ingest_run_execute(source.last_run_id, attempt=attempt)


def test_a_failing_scheduled_refresh_mails_once_and_again_when_it_works(
    sites, personas, people, service, mailoutbox
):
    """Set up by a platform admin: they and organisation A's data managers (its admin among
    them) are told, not its viewer or contributor, not a manager who left, not organisation B."""
    version_publish_points(dataset=sites, points={"OLD": (615000, 157500)})
    source = source_save(actor=personas.platform_admin, dataset=sites, connector_key="url",
                          config={"url": service.url}, mapping=REFERENCE,
                          schedule="daily")  # fmt: skip
    told = sorted(
        [personas.platform_admin.email, personas.data_manager_a.email, personas.admin_a.email]
    )

    run = scheduled_refresh(source)
    assert run.state == RunState.FAILED
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert sorted(mail.to) == told
    assert mail.subject == f"{PREFIX}Refresh of Sites failed"
    assert mail.from_email == django_settings.DEFAULT_FROM_EMAIL
    body = mail.body
    assert "The refresh of Sites did not publish: the source could not be loaded." in body
    assert f"Source: File at an address, {service.url}\n" in body
    assert "Asked for by: the platform, on the source's schedule\n" in body
    assert "The server answered with a web page, not data: check the address" in body
    assert "Nothing was lost: version 1 of the dataset, published " in body
    assert "is still the live version, and stays so until a load publishes." in body
    assert f"{SITE}/datasets/sites/runs/{run.pk}/\n" in body
    assert f"{SITE}/datasets/sites/\n" in body
    assert "{{" not in body and "{%" not in body and "&#x27;" not in body

    # Failing again, at night or asked for: nobody is told twice.
    run = scheduled_refresh(source)
    assert run.state == RunState.FAILED and len(mailoutbox) == 1
    run = ingest_request(actor=personas.data_manager_a, dataset=sites, connector_key="url",
                         config=source.config, mapping=source.mapping, source=source)  # fmt: skip
    assert ingest_run_execute(run.pk).state == RunState.FAILED and len(mailoutbox) == 1

    service.answer = DATA
    run = scheduled_refresh(source)
    assert run.state == RunState.PUBLISHED and run.version.is_current
    assert len(mailoutbox) == 2
    mail = mailoutbox[1]
    assert sorted(mail.to) == told
    assert mail.subject == f"{PREFIX}Refresh of Sites is working again"
    assert f"is working again: it published version {run.version.number} of the dataset." in (
        mail.body
    )
    assert "(3 loads did not)" in mail.body
    assert f"{SITE}/datasets/sites/runs/{run.pk}/\n" in mail.body

    # Working, and working again: nothing to say.
    assert scheduled_refresh(source).state == RunState.PUBLISHED and len(mailoutbox) == 2


def test_a_rejected_load_of_a_part_mails_that_organisations_managers(
    sites, personas, people, service, mailoutbox
):
    """Organisation B's part, set up by A's data manager: they and B's data manager are told;
    A's other managers are not (the part is B's), nor B's viewer."""
    sites.contributing_organisations.add(personas.organisation_b)
    source = source_save(actor=personas.data_manager_a, dataset=sites, connector_key="url",
                          config={"url": service.url}, mapping=REFERENCE, schedule="weekly",
                          organisation=personas.organisation_b)  # fmt: skip
    service.answer = points("", "")  # read, but no row has its reference

    run = scheduled_refresh(source)
    assert run.state == RunState.REJECTED
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert sorted(mail.to) == [personas.data_manager_a.email, people.manager_b.email]
    assert mail.subject == f"{PREFIX}Refresh of Sites (Organisation B's part) was rejected"
    assert "did not publish: its data did not pass the checks." in mail.body
    assert "Dataset: Sites, Organisation B's part\n" in mail.body
    assert "2 of 2 rows have problems" in mail.body
    assert "2 rows were read, of which 2 had problems" in mail.body
    assert "the dataset had no published version before this load, and still has none" in (
        mail.body
    )
    assert "you set up this source or are a data manager or admin of Organisation B.\n" in (
        mail.body
    )


def test_a_temporary_failure_being_retried_mails_nobody(
    sites, personas, people, service, mailoutbox, settings
):
    """Only the attempt that gives up is an end: the ones that will be retried say nothing."""
    source = source_save(actor=personas.data_manager_a, dataset=sites, connector_key="url",
                          config={"url": service.url}, mapping=REFERENCE,
                          schedule="daily")  # fmt: skip
    service.answer = UNAVAILABLE
    with pytest.raises(IngestRetry):
        scheduled_refresh(source)
    source.refresh_from_db()
    assert source.last_run.state == RunState.QUEUED and source.last_run.temporary
    assert mailoutbox == []

    run = ingest_run_execute(source.last_run_id, attempt=settings.INGEST_RETRY_ATTEMPTS)
    assert run.state == RunState.FAILED and run.error.startswith("Gave up after")
    assert len(mailoutbox) == 1
    assert "answered HTTP 503" in mailoutbox[0].body


def test_a_mail_server_that_cannot_be_reached_does_not_fail_the_load(
    sites, personas, service, settings, caplog
):
    """The mails are logged as not sent; the loads end as they would have, published or not."""
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 5},
        }
    }
    source = source_save(actor=personas.data_manager_a, dataset=sites, connector_key="url",
                          config={"url": service.url}, mapping=REFERENCE,
                          schedule="daily")  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="infraplan.connectors.notifications"):
        failed = scheduled_refresh(source)
        service.answer = DATA
        published = scheduled_refresh(source)
    assert failed.state == RunState.FAILED
    assert published.state == RunState.PUBLISHED and published.version.is_current
    logged = [
        record
        for record in caplog.records
        if record.name == "infraplan.connectors.notifications" and record.exc_info
    ]
    assert [record.getMessage() for record in logged] == [
        f"Could not send the mail about the end of ingest run {failed.pk}",
        f"Could not send the mail about the end of ingest run {published.pk}",
    ]
    assert all(isinstance(record.exc_info[1], OSError) for record in logged)
