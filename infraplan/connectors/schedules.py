"""Schedules of sources: named ones (daily, weekly, monthly) and cron expressions in UTC,
checked when a source is saved and worked forward to a source's next run."""

from datetime import UTC, datetime, timedelta

from croniter import CroniterBadDateError, croniter  # procrastinate's own cron parser
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

# Named schedules as cron expressions (UTC): loads at night, when nobody is looking at the map.
SCHEDULES = {"daily": "0 2 * * *", "weekly": "0 2 * * 1", "monthly": "0 2 1 * *"}

# The fields of a cron expression, in order, with the values each takes.
CRON_FIELDS = (
    ("minute", "0 to 59"),
    ("hour", "0 to 23"),
    ("day of the month", "1 to 31"),
    ("month", "1 to 12 or JAN to DEC"),
    ("day of the week", "0 to 7 or SUN to SAT (0 and 7 are Sunday)"),
)


def _cron_field_problems(cron: str) -> list[str]:
    """What is wrong with each field of a five-field ``cron`` that is not valid, each field
    checked on its own (the others ``*``)."""
    fields = cron.split()
    problems = []
    for index, (name, values) in enumerate(CRON_FIELDS):
        alone = ["*"] * len(CRON_FIELDS)
        alone[index] = fields[index]
        if not croniter.is_valid(" ".join(alone)):
            problems.append(f"its {name} field, '{fields[index]}', must be {values}")
    return problems


def schedule_cron(schedule: str) -> str | None:
    """The cron expression of ``schedule`` (None for no schedule); ValidationError when it is
    neither a named schedule nor a valid five-field cron expression, naming the field that is
    wrong where one is."""
    schedule = schedule.strip()
    if not schedule:
        return None
    cron = SCHEDULES.get(schedule.lower(), schedule)
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        problems = _cron_field_problems(cron) if len(cron.split()) == 5 else []
        why = (
            "; ".join(problems) + ". A field may also be *, a list (1,15), a range (1-5) or a "
            "step of 1 or more (*/2)."
            if problems
            else "use daily, weekly, monthly or a cron expression of five fields (minute hour "
            "day-of-month month day-of-week), such as '30 6 * * 1-5'."
        )
        raise ValidationError({"schedule": f"{schedule!r} is not a schedule: {why}"})
    try:
        croniter(cron, timezone.now()).get_next(datetime)
    except CroniterBadDateError:
        raise ValidationError(
            {
                "schedule": f"{schedule!r} never runs: none of the months it names has the day "
                "of the month it names (such as the 31st in February). Choose a day those "
                "months have."
            }
        ) from None
    return cron


# How many runs of a schedule are looked at for two too close together: a year of weekly runs,
# five years of monthly ones.
_INTERVAL_SAMPLE = 60


def schedule_checked(schedule: str) -> str | None:
    """``schedule_cron``, refusing also a schedule that would load more often than once in
    ``SOURCE_MIN_INTERVAL_MINUTES``, anywhere in its next runs. Only a schedule being saved is
    checked: one saved before a smaller minimum keeps running."""
    cron = schedule_cron(schedule)
    if cron is None:
        return None
    minimum = timedelta(minutes=settings.SOURCE_MIN_INTERVAL_MINUTES)
    runs = croniter(cron, timezone.now())
    previous = runs.get_next(datetime)
    for _ in range(_INTERVAL_SAMPLE):
        following = runs.get_next(datetime)
        gap = following - previous
        if gap < minimum:
            raise ValidationError(
                {
                    "schedule": f"{schedule.strip()!r} would load the source twice within "
                    f"{_duration(gap)} (at {previous:%H:%M} and {following:%H:%M} UTC): the "
                    f"platform loads a source at most once in {_duration(minimum)}, so as "
                    "not to weigh on the service it reads. Use hours, such as '0 6 * * *'."
                }
            )
        previous = following
    return cron


def _duration(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "an hour" if hours == 1 else f"{hours} hours"
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def schedule_next(schedule: str, after: datetime) -> datetime | None:
    """When a source on ``schedule`` next runs after ``after``; None for no schedule."""
    cron = schedule_cron(schedule)
    if cron is None:
        return None
    return croniter(cron, after.astimezone(UTC)).get_next(datetime)
