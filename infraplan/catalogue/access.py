"""The one gate: what a user may do with a dataset.

Every page, tile, download, API and count asks here, through ``Dataset.objects.permitting`` or
``dataset_permits``; nothing else decides visibility. The URL-matrix test in tests/ walks every
route to prove it.

Actions, each implying the ones before it for the same user:
- ``view``: see the dataset and its features.
- ``contribute``: add or change features on behalf of one's organisation.
- ``manage``: publish versions, roll back, edit metadata.
- ``administer``: change who may see it, delete it.
"""

from enum import StrEnum
from typing import Any

from django.db import models
from django.db.models import OuterRef, Q, Subquery

from infraplan.accounts.models import Role


class Action(StrEnum):
    VIEW = "view"
    CONTRIBUTE = "contribute"
    MANAGE = "manage"
    ADMINISTER = "administer"


def _roles_at_least(role: Role) -> list[str]:
    return [candidate.value for candidate in Role if candidate.includes(role)]


def _member_of(user: Any, relation: str, minimum: Role) -> Q:
    """Datasets where the user holds ``minimum`` or more in an organisation reached by ``relation``."""
    return Q(
        **{
            f"{relation}__memberships__user": user,
            f"{relation}__memberships__role__in": _roles_at_least(minimum),
            f"{relation}__is_active": True,
        }
    )


def _rule(user: Any, action: Action) -> Q | None:
    """The condition for ``action``; None means nothing is permitted."""
    authenticated = user is not None and user.is_authenticated and user.is_active
    if authenticated and user.is_superuser:
        return Q()
    if action == Action.VIEW:
        rule = Q(access_level="public")
        if authenticated:
            rule |= Q(access_level="signed_in")
            rule |= _member_of(user, "owner", Role.VIEWER)
            rule |= Q(access_level="organisations") & _member_of(user, "shared_with", Role.VIEWER)
        return rule
    if not authenticated:
        return None
    if action == Action.CONTRIBUTE:
        visible = _rule(user, Action.VIEW)
        return visible & (
            _member_of(user, "owner", Role.CONTRIBUTOR)
            | _member_of(user, "contributing_organisations", Role.CONTRIBUTOR)
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

        current = DatasetVersion.objects.filter(dataset=OuterRef("pk"), is_current=True)
        return self.annotate(annotated_current_version=Subquery(current.values("number")[:1]))


def dataset_permits(user: Any, dataset: models.Model, action: Action | str = Action.VIEW) -> bool:
    """Whether ``user`` may do ``action`` on ``dataset``: the same rule as ``permitting``."""
    return type(dataset).objects.permitting(user, action).filter(pk=dataset.pk).exists()
