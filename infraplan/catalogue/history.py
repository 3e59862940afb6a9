"""A dataset's history: what changed between two versions, and what was published on a date.

Both read the version-validity columns (``valid_from``/``valid_to``) that publishing maintains:
a feature unchanged by a load keeps its row, so between two versions a feature identity
(organisation, reference) that is live in both under a different row has changed.
"""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from infraplan.maps.ended import ISO_DATE

from .loading import why_no_date
from .models import Dataset, DatasetVersion, Feature, VersionState
from .store import same_geometry_sql, same_properties_sql

VALUE_SHOWN_LENGTH = 80


def _shown(value: Any) -> str:
    """A value before or after a change as the changes page writes it."""
    if value is None:
        return "none"
    if value == "":
        return "empty"  # an empty text, not unknown; said, so the arrow is not followed by nothing
    text = ("Yes" if value else "No") if isinstance(value, bool) else str(value)
    if len(text) > VALUE_SHOWN_LENGTH:
        return text[: VALUE_SHOWN_LENGTH - 1].rstrip() + "…"
    return text


@dataclass(frozen=True)
class ChangedFeature:
    organisation: str  # the organisation's name: equal references of two councils differ
    reference: str
    fields: list[str]  # property names whose values differ; "geometry" when it moved
    # (field, before, after) of each changed property, district and ward
    values: list[tuple[str, Any, Any]] = field(default_factory=list)
    # How far the geometry moved, in metres: the furthest any vertex of either lies from the
    # other (for a point, the distance it moved); None when it did not, or one has none.
    moved_by: float | None = None

    @property
    def shown(self) -> list[tuple[str, str, str]]:
        return [(name, _shown(before), _shown(after)) for name, before, after in self.values]

    @property
    def moved(self) -> bool:
        return "geometry" in self.fields

    @property
    def moved_text(self) -> str:
        """The geometry's change in words, with how far when both versions have one."""
        if self.moved_by is None:
            return "the geometry moved or changed shape"
        return f"the geometry moved or changed shape, by up to {distance_text(self.moved_by)}"


def distance_text(metres: float) -> str:
    """A distance for a reader: centimetres under a metre, metres to 0.1 under a kilometre."""
    if metres < 1:
        return f"{max(round(metres * 100), 1)} cm"
    if metres < 1000:
        return f"{metres:,.1f} m"
    return f"{metres / 1000:,.2f} km"


@dataclass
class VersionDiff:
    """What changed from ``old`` to ``new``: the counts are complete, the lists hold the first
    features of each kind by reference (all of them when no limit was asked for)."""

    old: int
    new: int
    added_count: int = 0
    changed_count: int = 0
    removed_count: int = 0
    added: list[tuple[str, str]] = field(default_factory=list)  # (organisation name, reference)
    removed: list[tuple[str, str]] = field(default_factory=list)
    changed: list[ChangedFeature] = field(default_factory=list)


# Only rows live in one of the two versions can differ: a row live in both is the same feature
# in both. With lo <= hi, a row is live in lo alone when it ended after lo and by hi, and in hi
# alone when it began after lo (the validity index finds both without reading the rest).
_DIFF = """
    WITH lo_only AS (
        SELECT {columns} FROM {feature}
        WHERE dataset_id = %(dataset)s AND valid_from <= %(lo)s
          AND valid_to > %(lo)s AND valid_to <= %(hi)s
    ), hi_only AS (
        SELECT {columns} FROM {feature}
        WHERE dataset_id = %(dataset)s AND valid_from > %(lo)s AND valid_from <= %(hi)s
          AND (valid_to IS NULL OR valid_to > %(hi)s)
    ), compared AS (
        SELECT o.name AS organisation,
               COALESCE(new.reference, old.reference) AS reference,
               CASE WHEN old.id IS NULL THEN 'added' WHEN new.id IS NULL THEN 'removed'
                    ELSE 'changed' END AS kind,
               old.id AS old_id, new.id AS new_id
        FROM {old} old FULL JOIN {new} new
          ON new.organisation_id = old.organisation_id
         AND normalize(new.reference, NFC) = normalize(old.reference, NFC)
        JOIN {organisation} o ON o.id = COALESCE(new.organisation_id, old.organisation_id)
        -- A rollback copies rows, so "changed" with nothing different is the same feature.
        -- A null, an empty text and a missing key are the same (store.same_properties_sql).
        WHERE old.id IS NULL OR new.id IS NULL
           OR NOT {same_geometry} OR old.district <> new.district OR old.ward <> new.ward
           OR (old.properties <> new.properties AND (NOT {same_properties} OR EXISTS (
                SELECT FROM jsonb_each(old.properties) a
                FULL JOIN jsonb_each(new.properties) b USING (key)
                WHERE NULLIF(NULLIF(a.value, 'null'), '""')
                      IS DISTINCT FROM NULLIF(NULLIF(b.value, 'null'), '""'))))
    ), ranked AS (
        SELECT *, count(*) OVER (PARTITION BY kind) AS total,
               row_number() OVER (PARTITION BY kind ORDER BY reference, organisation) AS rank
        FROM compared
    )
    SELECT r.organisation, r.reference, r.kind, r.total,
           CASE WHEN r.kind = 'changed' THEN ARRAY(
               SELECT key FROM jsonb_each(old.properties) a
               FULL JOIN jsonb_each(new.properties) b USING (key)
               WHERE NULLIF(NULLIF(a.value, 'null'), '""')
                     IS DISTINCT FROM NULLIF(NULLIF(b.value, 'null'), '""')
               ORDER BY key
           ) || CASE WHEN NOT {same_geometry} THEN ARRAY['geometry'] ELSE ARRAY[]::text[] END
             || CASE WHEN old.district <> new.district
                     THEN ARRAY['district'] ELSE ARRAY[]::text[] END
             || CASE WHEN old.ward <> new.ward THEN ARRAY['ward'] ELSE ARRAY[]::text[] END
           END AS fields,
           CASE WHEN r.kind = 'changed' THEN (
               SELECT coalesce(jsonb_agg(jsonb_build_array(
                   key, NULLIF(a.value, 'null'), NULLIF(b.value, 'null')) ORDER BY key), '[]')
               FROM jsonb_each(old.properties) a
               FULL JOIN jsonb_each(new.properties) b USING (key)
               WHERE NULLIF(NULLIF(a.value, 'null'), '""')
                     IS DISTINCT FROM NULLIF(NULLIF(b.value, 'null'), '""')
           ) || CASE WHEN old.district <> new.district THEN jsonb_build_array(jsonb_build_array(
                    'district', old.district, new.district)) ELSE '[]' END
             || CASE WHEN old.ward <> new.ward THEN jsonb_build_array(jsonb_build_array(
                    'ward', old.ward, new.ward)) ELSE '[]' END
           END AS "values",
           CASE WHEN r.kind = 'changed' AND NOT {same_geometry}
                THEN ST_HausdorffDistance(old.geom, new.geom) END AS moved_by
    FROM ranked r  -- each listed pair's rows by key (LIMIT keeps the planner to look-ups)
    LEFT JOIN LATERAL (
        SELECT {columns} FROM {feature}
        WHERE dataset_id = %(dataset)s AND id = r.old_id LIMIT 1
    ) old ON true
    LEFT JOIN LATERAL (
        SELECT {columns} FROM {feature}
        WHERE dataset_id = %(dataset)s AND id = r.new_id LIMIT 1
    ) new ON true
    WHERE %(limit)s::integer IS NULL OR r.rank <= %(limit)s::integer
    ORDER BY r.reference, r.organisation
"""


def versions_diff(dataset: Dataset, old: int, new: int, limit: int | None = None) -> VersionDiff:
    """Features added, removed and changed (with the changed fields) from ``old`` to ``new``:
    every one, or with ``limit`` the first ``limit`` of each kind by reference, the counts
    still complete.

    Raises ValueError for a number that is not a published version of the dataset.
    """
    published = set(
        dataset.versions.filter(state=VersionState.PUBLISHED).values_list("number", flat=True)
    )
    for number in (old, new):
        if number not in published:
            raise ValueError(f"{dataset.slug} has no published version {number}")
    from infraplan.accounts.models import Organisation

    sql = _DIFF.format(
        feature=Feature._meta.db_table,
        organisation=Organisation._meta.db_table,
        same_geometry=same_geometry_sql("old.geom", "new.geom"),
        same_properties=same_properties_sql("old.properties", "new.properties"),
        columns="id, organisation_id, reference, properties, geom, district, ward",
        old="lo_only" if old <= new else "hi_only",
        new="hi_only" if old <= new else "lo_only",
    )  # table and CTE names from model metadata and the code above; values bound
    diff = VersionDiff(old=old, new=new)
    params = {"dataset": dataset.pk, "lo": min(old, new), "hi": max(old, new), "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for organisation, reference, kind, total, fields, values, moved_by in cursor.fetchall():
            setattr(diff, f"{kind}_count", total)
            if kind == "added":
                diff.added.append((organisation, reference))
            elif kind == "removed":
                diff.removed.append((organisation, reference))
            else:
                diff.changed.append(
                    ChangedFeature(
                        organisation, reference, list(fields),
                        # Django reads jsonb as its text, and decodes it in its model fields.
                        [tuple(change) for change in json.loads(values)], moved_by,
                    )
                )  # fmt: skip
    return diff


# What a page's date field, a download and the API say of a day to come (GOV.UK's wording for a
# date that cannot be later): tiles show it as now, but a page or a file that showed today
# without a word would leave the person who asked wondering why.
FUTURE_DATE = "The date must be today or in the past"


def as_of_in_future(text: str) -> bool:
    """Whether ``text``, which ``as_of_parse`` read, names a day to come."""
    value = text.strip()
    return bool(value) and date.fromisoformat(value) > timezone.localdate()


def as_of_parse(text: str) -> date | None:
    """The date ``as_of=YYYY-MM-DD`` asks for, the one reading of every page, tile and search
    that takes it; None for none, and for today or a date to come: the platform as now, which
    is all that has been published by then. ValueError, saying why, for anything else."""
    value = text.strip()
    if not value:
        return None
    # fromisoformat alone would also take 20260327 and week dates.
    if not ISO_DATE.fullmatch(value):
        raise ValueError("Enter the date as year-month-day with numbers, for example 2026-03-27")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a real date: {why_no_date(value)}") from None
    return None if day >= timezone.localdate() else day


def versions_current_at(when: date | datetime) -> QuerySet[DatasetVersion]:
    """The published versions of every dataset that had been published by ``when`` (a date
    means the end of that day, in the platform's time zone), each dataset's current one then
    first: filter it by a dataset and take the first.

    Publishing is the only way a version becomes current and rollbacks are new versions, so the
    current version at a moment is the last one published at or before it.
    """
    if not isinstance(when, datetime):
        when = timezone.make_aware(datetime.combine(when, time.max))
    return DatasetVersion.objects.filter(
        state=VersionState.PUBLISHED, published_at__lte=when
    ).order_by("-published_at", "-number")


def version_as_of(dataset: Dataset, when: date | datetime) -> DatasetVersion | None:
    """The version that was current at ``when`` (a date means the end of that day, in the
    platform's time zone); None if nothing had been published yet."""
    return versions_current_at(when).filter(dataset=dataset).first()


def first_published_at(dataset: Dataset) -> datetime | None:
    """When the dataset's first version was published on the platform; None before then."""
    return (
        dataset.versions.filter(state=VersionState.PUBLISHED, published_at__isnull=False)
        .order_by("published_at")
        .values_list("published_at", flat=True)
        .first()
    )
