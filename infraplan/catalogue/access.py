"""The one gate: what a user may do with a dataset.

Every page, tile, download, API and count asks here, through ``Dataset.objects.permitting`` or
``dataset_permits``; nothing else decides visibility. The URL-matrix test in tests/ walks every
route to prove it.

Actions, each implying the ones before it for the same user:
- ``view``: see the dataset and its features. A dataset only named organisations see is seen
  by its owner's members and the members of the organisations it is shared with or that
  contribute to it.
- ``contribute``: add or change features on behalf of one's organisation.
- ``manage``: publish versions, roll back, edit metadata.
- ``administer``: change who may see it, withdraw and restore it, delete it.

A withdrawn dataset (``Dataset.withdrawn_at``) is the exception: those who may manage it (its
owner's data managers and admins) and platform admins still see it, manage and administer it,
everyone else sees it no more than a dataset they may not see, and nobody may contribute to it,
platform admins included, until it is restored.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import connections, models
from django.db.models import OuterRef, Q, Subquery

from infraplan.accounts.models import Membership, Role


class Action(StrEnum):
    VIEW = "view"
    CONTRIBUTE = "contribute"
    MANAGE = "manage"
    ADMINISTER = "administer"


def _roles_at_least(role: Role) -> list[str]:
    return [candidate.value for candidate in Role if candidate.includes(role)]


def _member_of(user: Any, relation: str, minimum: Role) -> Q:
    """Datasets where the user holds ``minimum`` or more in an active organisation reached by
    ``relation`` (the owner, or a many-to-many relation such as ``shared_with``).

    Written as subqueries on the user's own memberships, never as joins through the
    organisations' memberships: joined, each dataset was repeated once per member of its owner
    times each member of every organisation it is shared with, which at a few thousand people
    made the gate take seconds on every page for everyone signed in but platform admins.
    """
    from .models import Dataset  # the models import this module

    organisations = Membership.objects.filter(
        user=user, role__in=_roles_at_least(minimum), organisation__is_active=True
    ).values("organisation_id")
    if relation == "owner":
        return Q(owner__in=organisations)
    through = getattr(Dataset, relation).through
    return Q(pk__in=through.objects.filter(organisation__in=organisations).values("dataset_id"))


# Not withdrawn: what everyone but those who manage a dataset needs to see it, and anyone to
# contribute to it.
LIVE = Q(withdrawn_at__isnull=True)


def _rule(user: Any, action: Action) -> Q | None:
    """The condition for ``action``; None means nothing is permitted."""
    authenticated = user is not None and user.is_authenticated and user.is_active
    if authenticated and user.is_superuser:
        return LIVE if action == Action.CONTRIBUTE else Q()
    if action == Action.VIEW:
        rule = Q(access_level="public")
        if authenticated:
            rule |= Q(access_level="signed_in")
            rule |= _member_of(user, "owner", Role.VIEWER)
            # Named organisations: those it is shared with, and those that publish a part of
            # it, whose members see the dataset their part is in.
            rule |= Q(access_level="organisations") & (
                _member_of(user, "shared_with", Role.VIEWER)
                | _member_of(user, "contributing_organisations", Role.VIEWER)
            )
            # Those who manage it see it withdrawn too (they are its owner's members, so they
            # saw it before).
            return (LIVE & rule) | _rule(user, Action.MANAGE)
        return LIVE & rule
    if not authenticated:
        return None
    if action == Action.CONTRIBUTE:
        visible = _rule(user, Action.VIEW)
        return (
            LIVE
            & visible
            & (
                _member_of(user, "owner", Role.CONTRIBUTOR)
                | _member_of(user, "contributing_organisations", Role.CONTRIBUTOR)
            )
        )
    if action == Action.MANAGE:
        return _member_of(user, "owner", Role.DATA_MANAGER)
    if action == Action.ADMINISTER:
        return _member_of(user, "owner", Role.ORG_ADMIN)
    raise ValueError(f"Unknown action {action!r}")


class DatasetQuerySet(models.QuerySet):
    def permitting(self, user: Any, action: Action | str = Action.VIEW) -> "DatasetQuerySet":
        """The datasets on which ``user`` (a User, AnonymousUser or None) may do ``action``."""
        rule = _rule(user, Action(action))
        if rule is None:
            return self.none()
        # Joins through memberships can repeat a dataset; the subquery keeps the result a plain,
        # chainable set of datasets without DISTINCT's ordering restrictions.
        return self.filter(pk__in=self.model.objects.filter(rule).values("pk"))

    def with_current_version_number(self) -> "DatasetQuerySet":
        """Read each dataset's current version number in the same query."""
        from .models import DatasetVersion

        # No ordering: a dataset has at most one current version, and the default ordering
        # (by the dataset's title) would join the dataset table again on every read.
        current = DatasetVersion.objects.filter(dataset=OuterRef("pk"), is_current=True).order_by()
        return self.annotate(annotated_current_version=Subquery(current.values("number")[:1]))

    def permitted_get(
        self, user: Any, slug: str, action: Action | str = Action.VIEW
    ) -> models.Model | None:
        """The dataset ``slug`` if ``user`` may do ``action`` on it, with its current version
        number read in the same query; None otherwise. The same rule as ``permitting``, for the
        hot path of tiles and pop-ups (see ``_CompiledLookup``)."""
        compiled = _lookups.compiled(self.model.objects.all(), user, Action(action))
        if compiled is None:
            return None
        params = [*compiled.params[: compiled.slug_index], slug,
                  *compiled.params[compiled.slug_index + 1 :]]  # fmt: skip
        connection = connections[self.db]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        return None if row is None else compiled.instance(self.model, self.db, row, connection)


@dataclass(frozen=True)
class _Compiled:
    """A gate query's text and how to turn its one row into a dataset."""

    sql: str
    params: list
    slug_index: int
    field_names: list[str]
    # (column, converters, expression): as the ORM would convert that column (JSON, say).
    converters: list[tuple[int, list, Any]]

    def instance(
        self, model: type[models.Model], using: str, row: tuple, connection: Any
    ) -> models.Model:
        """The dataset of ``row``, its current version number read as the annotation."""
        values = list(row)
        for column, functions, expression in self.converters:
            for function in functions:
                values[column] = function(values[column], expression, connection)
        dataset = model.from_db(using, self.field_names, values[: len(self.field_names)])
        dataset.annotated_current_version = values[-1]
        return dataset


class _CompiledLookup:
    """The SQL of "this user's permitted dataset with this slug", compiled once per user.

    Compiling the gate's query through the ORM costs more than running it (about 1 ms against
    0.3 ms), and tiles ask it on every request; so does a raw queryset's per-call set-up, which
    is why the compiled text runs on a plain cursor. The compiled text depends only on who the
    user is (their id, whether active, whether a superuser) and the action; the memberships and
    access levels it tests are read by PostgreSQL each time it runs, so a cached compilation
    never grants what the database no longer permits.
    """

    SLUG_MARK = "\x00slug\x00"
    SIZE = 2048

    def __init__(self) -> None:
        self._compiled: OrderedDict[tuple, _Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def _key(self, user: Any, action: Action) -> tuple:
        if user is None or not user.is_authenticated:
            return (action, None)
        return (action, user.pk, user.is_active, user.is_superuser)

    def compiled(self, queryset: "DatasetQuerySet", user: Any, action: Action) -> _Compiled | None:
        """The gate query for ``user`` and ``action``, or None when nothing is permitted."""
        key = self._key(user, action)
        with self._lock:
            if key in self._compiled:
                self._compiled.move_to_end(key)
                return self._compiled[key]
        query = (
            queryset.permitting(user, action)
            .with_current_version_number()
            .filter(slug=self.SLUG_MARK)
            .order_by()[:1]
        )
        if query.query.is_empty():
            return None
        compiler = query.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        columns = [column for column, _, _ in compiler.select]
        fields = [column.target.attname for column in columns[:-1]]
        if fields != [field.attname for field in queryset.model._meta.concrete_fields]:
            raise RuntimeError("the gate query no longer reads a dataset's fields in order")
        entry = _Compiled(
            sql=sql,
            params=list(params),
            slug_index=list(params).index(self.SLUG_MARK),
            field_names=fields,
            converters=[
                (column, functions, expression)
                for column, (functions, expression) in compiler.get_converters(columns).items()
            ],
        )
        with self._lock:
            self._compiled[key] = entry
            if len(self._compiled) > self.SIZE:
                self._compiled.popitem(last=False)
        return entry


_lookups = _CompiledLookup()


def dataset_permits(user: Any, dataset: models.Model, action: Action | str = Action.VIEW) -> bool:
    """Whether ``user`` may do ``action`` on ``dataset``: the same rule as ``permitting``."""
    return type(dataset).objects.permitting(user, action).filter(pk=dataset.pk).exists()
