"""Reads of the audit log for its viewer and CSV export."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import AuditEntry


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    target_type: str = ""
    since: date | None = None
    until: date | None = None
    text: str = ""


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_entries(criteria: AuditFilter) -> QuerySet[AuditEntry]:
    """Entries matching every given criterion, newest first.

    ``actor`` matches the actor's email (or 'system') in part; ``action`` is exact, or a family
    when it ends with a dot (``token.`` for every token action); dates are whole days in the
    service's time zone, both included; ``text`` is looked for in the actor, action, target and
    note.
    """
    entries = AuditEntry.objects.all()
    if criteria.actor:
        entries = entries.filter(actor_label__icontains=criteria.actor)
    if criteria.action:
        if criteria.action.endswith("."):
            entries = entries.filter(action__startswith=criteria.action)
        else:
            entries = entries.filter(action=criteria.action)
    if criteria.target_type:
        entries = entries.filter(target_type=criteria.target_type)
    if criteria.since:
        entries = entries.filter(at__gte=_day_start(criteria.since))
    if criteria.until and criteria.until < date.max:  # no day after the last one to stop at
        entries = entries.filter(at__lt=_day_start(criteria.until + timedelta(days=1)))
    if criteria.text:
        entries = entries.filter(
            Q(actor_label__icontains=criteria.text)
            | Q(action__icontains=criteria.text)
            | Q(target_label__icontains=criteria.text)
            | Q(target_id=criteria.text)
            | Q(note__icontains=criteria.text)
        )
    return entries.order_by("-at", "-id")


def audit_actions() -> list[str]:
    return list(AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct())


def audit_target_types() -> list[str]:
    return list(
        AuditEntry.objects.order_by("target_type").values_list("target_type", flat=True).distinct()
    )
