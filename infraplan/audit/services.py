"""The one path by which changes (and reads of restricted data) are recorded.

Call ``audit_record`` inside the same transaction as the write it describes, so the change and
its record commit or roll back together.
"""

from datetime import timedelta
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from .models import AuditEntry

SYSTEM = "system"


def _actor_fields(actor: Any) -> tuple[int | None, str]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, SYSTEM if actor is None else "anonymous"
    return actor.pk, actor.get_username()


def _target_fields(target: models.Model | tuple[str, str, str]) -> tuple[str, str, str]:
    if isinstance(target, models.Model):
        return target._meta.label_lower, str(target.pk), str(target)[:300]
    return target


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | tuple[str, str, str],
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
) -> AuditEntry:
    """Append one entry. ``actor`` is a user, or None for the system (tasks, the demo load).

    ``target`` is a model instance or a ``(type, id, label)`` triple for things that are not rows.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the change it records")
    actor_id, actor_label = _actor_fields(actor)
    target_type, target_id, target_label = _target_fields(target)
    return AuditEntry.objects.create(
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        before=before,
        after=after,
        note=note,
    )


def audit_record_read(
    *,
    actor: Any,
    action: str,
    target: models.Model,
    window: timedelta = timedelta(hours=1),
) -> None:
    """Record a read of restricted data once per actor, action and target per ``window``.

    Reads come in bursts (a map pans through dozens of tiles); one entry per burst says who saw
    what and when without flooding the log.
    """
    actor_id, _ = _actor_fields(actor)
    target_type, target_id, _ = _target_fields(target)
    recent = AuditEntry.objects.filter(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        at__gte=timezone.now() - window,
    )
    if recent.exists():
        return
    with transaction.atomic():
        audit_record(actor=actor, action=action, target=target)


def model_snapshot(instance: models.Model, fields: list[str] | None = None) -> dict:
    """The field values of an instance, for an entry's before/after.

    A many-to-many field is the sorted list of its related objects' natural identifiers (their
    slugs where they have one, else their primary keys), read from the database: take the
    snapshot after the related objects are saved.
    """
    snapshot = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        if field.name in {"password", "geom", "geom_3857"}:
            continue
        snapshot[field.attname] = field.value_from_object(instance)
    if instance.pk is None:
        return snapshot  # an unsaved instance has no related objects yet
    for field in instance._meta.many_to_many:
        if fields is not None and field.name not in fields:
            continue
        snapshot[field.name] = _related_identifiers(instance, field)
    return snapshot


def _related_identifiers(instance: models.Model, field: models.ManyToManyField) -> list:
    has_slug = any(related.name == "slug" for related in field.related_model._meta.fields)
    # values_list queries afresh: a prefetched list could predate the save.
    return sorted(
        getattr(instance, field.name).values_list("slug" if has_slug else "pk", flat=True)
    )
