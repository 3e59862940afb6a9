"""E-mail to the people responsible for a source when its loads stop publishing, and when they
publish again.

A scheduled refresh runs at night: without a mail, a source that stopped publishing is found
only by someone who opens the dataset's page. So when a load of a source ends without
publishing (``IngestRun.did_not_publish``, the same test as the dataset page's warning) after
the source's previous load published, or when the source had never loaded, its people are told
once; the failures after that say nothing more, and the next load that publishes tells them it
is working again. A temporary failure that will be retried has not ended, and says nothing.

Every load of a saved source counts, whoever asked for it: a scheduled refresh, "Refresh now",
a source saved and loaded at once, a national dataset switched on, ``infraplan ingest --save
--load``, a load the sweep found dead, and one refused before it started (its settings or its
schedule no longer pass). Someone who asked in their browser and watched the result is told
too: that is harmless, and counting every load keeps the streak honest (a failure seen on the
page followed by one at night is one streak, not two). Loads without a source (one-off uploads,
rollbacks) never mail: whoever asked is looking at them.

Sending happens after the transaction that finished the load commits, and a mail that cannot
be sent is logged, never raised: the load's outcome stands whatever the mail server does.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from infraplan.accounts.models import Role, User
from infraplan.accounts.services import absolute_url
from infraplan.catalogue.access import Action, dataset_permits

from .models import IngestRun, RunState, Source

logger = logging.getLogger(__name__)

FAILING = "source_failing"
WORKING = "source_working"
ENDED = (RunState.PUBLISHED, *IngestRun.UNPUBLISHED)


def ingest_run_notify_on_commit(*, run: IngestRun) -> None:
    """``ingest_run_notify`` the finished ``run`` once the transaction that finished it commits
    (at once outside a transaction); whatever goes wrong in it is logged, not raised."""
    if run.source_id is None:
        return
    run_id = run.pk
    transaction.on_commit(lambda: _notify_logging_errors(run_id))


def _notify_logging_errors(run_id: int) -> None:
    try:
        run = IngestRun.objects.select_related(
            "source__dataset__owner", "source__organisation", "version", "requested_by"
        ).get(pk=run_id)
        ingest_run_notify(run=run)
    except Exception:
        # The load has committed: a mail server that is down, or any other trouble telling
        # people, must not make its job fail (or the sweep stop before the other dead runs).
        logger.exception("Could not send the mail about the end of ingest run %s", run_id)


def ingest_run_notify(*, run: IngestRun) -> str | None:
    """Mail the people of ``run``'s source (``source_people``) if the run changed the source's
    standing: ``FAILING`` when it did not publish and the load of the source that ended before
    it published (or there was none), ``WORKING`` when it published after one that did not.
    Returns the mail sent (its template's name), or None."""
    source = run.source
    if source is None or run.state not in ENDED or run.finished_at is None:
        return None
    earlier = (
        source.runs.filter(state__in=ENDED, finished_at__lte=run.finished_at)
        .exclude(pk=run.pk)
        .order_by("-finished_at", "-pk")
    )
    previous = earlier.values_list("state", flat=True).first()
    was_failing = previous in IngestRun.UNPUBLISHED
    if run.did_not_publish == was_failing:
        return None
    people = source_people(source)
    if not people:
        return None
    template = FAILING if run.did_not_publish else WORKING
    context = _mail_context(run, source)
    if template == WORKING:
        failures = earlier.filter(state__in=IngestRun.UNPUBLISHED)
        published = earlier.filter(state=RunState.PUBLISHED).values_list("finished_at", flat=True)
        if (last_published := published.first()) is not None:
            failures = failures.filter(finished_at__gt=last_published)
        context["failures"] = failures.count()
        context["failing_since"] = failures.order_by("finished_at", "pk").first()
    subject = render_to_string(f"connectors/email/{template}_subject.txt", context)
    body = render_to_string(f"connectors/email/{template}_message.txt", context)
    EmailMessage(
        settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + " ".join(subject.split()),
        body,
        to=[user.email for user in people],
    ).send()
    logger.info("Mailed %d people that run %s of source %s %s", len(people), run.pk, source.pk,
                "did not publish" if run.did_not_publish else "published again")  # fmt: skip
    return template


def source_people(source: Source) -> list[User]:
    """Who is told how ``source``'s loads end: the person who set it up, and the data managers
    (organisation admins included) of the organisation whose part it loads, the dataset's owner
    for a source of the whole dataset. Only active people whom the dataset's gate still lets see
    its loads (the run page's *contribute*): someone who has moved on is not sent links to a
    dataset they may no longer see."""
    dataset = source.dataset
    organisation = source.organisation or dataset.owner
    managers = [role.value for role in Role if role.includes(Role.DATA_MANAGER)]
    wanted = Q(memberships__organisation=organisation, memberships__role__in=managers)
    if source.created_by_id is not None:
        wanted |= Q(pk=source.created_by_id)
    candidates = User.objects.filter(wanted, is_active=True).distinct().order_by("email")
    return [user for user in candidates if dataset_permits(user, dataset, Action.CONTRIBUTE)]


def _mail_context(run: IngestRun, source: Source) -> dict[str, Any]:
    dataset = source.dataset
    report = run.version.report if run.version_id is not None else {}
    current = dataset.versions.filter(is_current=True).values("number", "published_at")
    return {
        "service_name": settings.AUTHORITY_PROFILE.authority.service_name,
        "run": run,
        "source": source,
        "dataset": dataset,
        "part": source.organisation.name if source.organisation_id else "",
        "organisation": source.organisation or dataset.owner,
        "asked_by": _asked_by(run),
        "rejected_counts": _rejected_counts(report) if report.get("rejected") else "",
        "current": current.first(),
        "run_link": absolute_url(
            reverse("dataset-run", kwargs={"slug": dataset.slug, "run_id": run.pk})
        ),
        "dataset_link": absolute_url(reverse("dataset-detail", kwargs={"slug": dataset.slug})),
    }


def _asked_by(run: IngestRun) -> str:
    """Who asked for ``run``, as the run page says it."""
    if run.requested_by is not None:
        return run.requested_by.full_name or run.requested_by.email
    if run.job_id is not None:
        return "the platform, on the source's schedule"
    return "the platform (on the source's schedule, or the command line on its server)"


def _rejected_counts(report: dict[str, Any]) -> str:
    """A rejected load's counts in words (its error says which limit they broke)."""
    read, rejected = report.get("rows_read", 0), report.get("rows_rejected", 0)
    rows = "1 row was" if read == 1 else f"{read:,} rows were"
    problems = report.get("problem_count", 0)
    found = "1 problem was" if problems == 1 else f"{problems:,} problems were"
    return (
        f"{rows} read, of which {rejected:,} had problems; {found} found in all. The load's "
        "page lists them."
    )
