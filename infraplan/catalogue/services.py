"""Writes to the catalogue's datasets: their metadata and style, creation, withdrawal and
restoring. Versions and their features are written by ``publishing``."""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from infraplan.accounts.models import Organisation
from infraplan.audit.services import audit_record, model_snapshot

from .models import Dataset
from .styles import style_digest

DATASET_FIELDS = [
    "slug", "title", "abstract", "theme", "access_level", "licence", "attribution", "lineage",
    "update_frequency", "geometry_type", "field_schema", "min_zoom", "source_key", "owner_id",
    "style", "label_field", "keywords", "temporal_start", "temporal_end", "reference_date",
    "source_format",
]  # fmt: skip


def dataset_save(
    *, actor: Any, slug: str, owner: Organisation,
    contributing_organisations: Iterable[Organisation] | None = None, **fields: Any,
) -> Dataset:  # fmt: skip
    """Create the dataset ``slug`` or update its metadata; audited either way.

    ``contributing_organisations``, when given, become the organisations that publish a part of
    it besides its owner (``Dataset.contributing_organisations``; the owner is never one), and
    the entry's before and after name them (their slugs). One taken off keeps the features it
    loaded, as its part, until a load of the whole dataset replaces them (``several_publishers``).

    Returns the dataset; an unchanged dataset is not written or audited again.
    """
    contributing = None if contributing_organisations is None else list(contributing_organisations)
    if contributing is not None and any(
        organisation.pk == owner.pk for organisation in contributing
    ):
        raise ValidationError(
            {"contributing_organisations": f"{owner} owns the dataset: it publishes it already"}
        )
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().filter(slug=slug).first()
        if dataset is None:
            dataset = Dataset(slug=slug, owner=owner, **fields)
            dataset.full_clean()
            dataset.save()
            after = model_snapshot(dataset, DATASET_FIELDS)
            if contributing is not None:
                dataset.contributing_organisations.set(contributing)
                after["contributing_organisations"] = _slugs(contributing)
            audit_record(actor=actor, action="dataset.create", target=dataset, after=after)
            return dataset
        before = model_snapshot(dataset, DATASET_FIELDS)
        dataset.owner = owner
        for name, value in fields.items():
            setattr(dataset, name, value)
        after = model_snapshot(dataset, DATASET_FIELDS)
        if contributing is not None:
            before["contributing_organisations"] = _slugs(dataset.contributing_organisations.all())
            after["contributing_organisations"] = _slugs(contributing)
        if after != before:
            dataset.full_clean()
            dataset.save()
            if contributing is not None:
                dataset.contributing_organisations.set(contributing)
            audit_record(
                actor=actor, action="dataset.update", target=dataset, before=before, after=after
            )
        return dataset


def _slugs(organisations: Iterable[Organisation]) -> list[str]:
    return sorted(organisation.slug for organisation in organisations)


class StyleChanged(Exception):
    """A style save refused: someone else saved a different style since the editor read it.
    ``saved`` is the style stored now, for the editor to be shown against."""

    def __init__(self, dataset: Dataset, saved: dict[str, Any]) -> None:
        super().__init__(
            f"Someone else saved a different style for {dataset.title} since it was read"
        )
        self.saved = saved


def dataset_style_save(
    *, actor: Any, dataset: Dataset, style: dict[str, Any], read_digest: str = ""
) -> Dataset:
    """Save ``style`` as how the map draws ``dataset``; audited (``dataset_save``).

    ``read_digest`` is the ``style_digest`` of the style the editor started from. The saved
    style is compared with it under the dataset's row lock, so that of two saves at once the
    second sees the first's style: StyleChanged, nothing saved, rather than replacing it unseen.
    Without a digest the style replaces whatever is saved.
    """
    with transaction.atomic():
        saved = Dataset.objects.select_for_update().only("style").get(pk=dataset.pk).style
        if read_digest and style_digest(saved) != read_digest:
            raise StyleChanged(dataset, saved)
        return dataset_save(actor=actor, slug=dataset.slug, owner=dataset.owner, style=style)


# What a withdrawal records, and a restore clears (the audit log keeps each one's values).
WITHDRAWAL_FIELDS = ["withdrawn_at", "withdrawn_by", "withdrawal_reason"]
WITHDRAWAL_REASON_MAX = 1000


def loads_refusal(dataset: Dataset) -> str:
    """What a load, refresh or rollback into a withdrawn ``dataset`` is told."""
    return f"{dataset.title} is withdrawn; restore it before loading new data"


class DatasetWithdrawn(ValueError):
    """A load, refresh, rollback or publish into a withdrawn dataset: refused until it is
    restored."""

    def __init__(self, dataset: Dataset) -> None:
        super().__init__(loads_refusal(dataset))
        self.dataset = dataset


def dataset_loads_check(dataset: Dataset) -> None:
    """Refuse (ValidationError on ``dataset``) anything that would load data into ``dataset``
    while it is withdrawn, as the database has it now: the instance may have been read before
    a withdrawal."""
    if Dataset.objects.filter(pk=dataset.pk, withdrawn_at__isnull=False).exists():
        raise ValidationError({"dataset": loads_refusal(dataset)})


def dataset_withdraw(*, actor: Any, dataset: Dataset, reason: str) -> Dataset:
    """Withdraw ``dataset``: from now only those who manage it and platform admins see it,
    and nothing loads into it (the gate, ``access``; the scheduler; the load services) until
    ``dataset_restore``. Its versions, features and sources are kept as they are. Audited.

    The update notifies the web processes of a catalogue change (migration 0008), so its public
    tiles stop at once (``maps.public_tiles``). ValidationError naming ``reason`` when it is
    empty or too long, or when the dataset is withdrawn already.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Enter why the dataset is being withdrawn"})
    if len(reason) > WITHDRAWAL_REASON_MAX:
        raise ValidationError(
            {"reason": f"The reason must be {WITHDRAWAL_REASON_MAX:,} characters or fewer"}
        )
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        if dataset.withdrawn_at is not None:
            raise ValidationError(f"{dataset.title} is withdrawn already")
        before = model_snapshot(dataset, WITHDRAWAL_FIELDS)
        dataset.withdrawn_at = timezone.now()
        dataset.withdrawn_by = actor if getattr(actor, "is_authenticated", False) else None
        dataset.withdrawal_reason = reason
        dataset.save(update_fields=WITHDRAWAL_FIELDS)
        audit_record(
            actor=actor, action="dataset.withdraw", target=dataset, before=before,
            after=model_snapshot(dataset, WITHDRAWAL_FIELDS),
        )  # fmt: skip
    return dataset


def dataset_restore(*, actor: Any, dataset: Dataset) -> Dataset:
    """Restore a withdrawn ``dataset``: seen again by everyone its access level lets see it,
    loaded again, its sources refreshed from their next scheduled time. Audited (the entry keeps
    who withdrew it, when and why). ValidationError when it is not withdrawn."""
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        if dataset.withdrawn_at is None:
            raise ValidationError(f"{dataset.title} is not withdrawn")
        before = model_snapshot(dataset, WITHDRAWAL_FIELDS)
        dataset.withdrawn_at, dataset.withdrawn_by, dataset.withdrawal_reason = None, None, ""
        dataset.save(update_fields=WITHDRAWAL_FIELDS)
        audit_record(
            actor=actor, action="dataset.restore", target=dataset, before=before,
            after=model_snapshot(dataset, WITHDRAWAL_FIELDS),
        )  # fmt: skip
    return dataset


# Addresses under /datasets/ that are pages of their own, not datasets.
RESERVED_SLUGS = frozenset({"new", "national"})
SLUG_MAX_LENGTH = 70  # leaves room for a number to tell two datasets of one title apart


def dataset_create(*, actor: Any, owner: Organisation, title: str, **fields: Any) -> Dataset:
    """A new dataset, with no version yet, its address (slug) made from its title: the next
    free one of ``title``, ``title-2``, ``title-3`` ... Audited.

    Never changes a dataset that exists (``dataset_save`` would, given its slug)."""
    base = slugify(title)[:SLUG_MAX_LENGTH].strip("-") or "dataset"
    taken = set(
        Dataset.objects.filter(slug__regex=rf"^{base}(-[0-9]+)?$").values_list("slug", flat=True)
    )
    number = 1
    while True:
        slug = base if number == 1 else f"{base}-{number}"
        number += 1
        if slug in taken or slug in RESERVED_SLUGS:
            continue
        dataset = Dataset(slug=slug, owner=owner, title=title, **fields)
        dataset.full_clean(validate_unique=False)
        try:
            with transaction.atomic():
                dataset.save()
                audit_record(
                    actor=actor, action="dataset.create", target=dataset,
                    after=model_snapshot(dataset, DATASET_FIELDS),
                )  # fmt: skip
        except IntegrityError:  # taken since it was read, by a dataset made at the same moment
            if not Dataset.objects.filter(slug=slug).exists():
                raise
            continue
        return dataset
