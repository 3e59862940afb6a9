"""The one gate: every persona against every access level and action."""

import json

import pytest
from django.db import connection

from infraplan.accounts.services import membership_set, user_create
from infraplan.catalogue.access import Action, dataset_permits
from infraplan.catalogue.models import Dataset
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db

PERSONAS = [
    "anonymous", "viewer_a", "contributor_a", "data_manager_a", "admin_a", "member_b",
    "platform_admin",
]  # fmt: skip

# Who may do what with a dataset owned by organisation A, by access level.
EXPECTED = {
    ("public", Action.VIEW): {*PERSONAS},
    ("signed_in", Action.VIEW): {*PERSONAS} - {"anonymous"},
    ("organisations", Action.VIEW): {
        "viewer_a",
        "contributor_a",
        "data_manager_a",
        "admin_a",
        "platform_admin",
    },
    ("shared_with_b", Action.VIEW): {
        "viewer_a",
        "contributor_a",
        "data_manager_a",
        "admin_a",
        "member_b",
        "platform_admin",
    },
    **{
        (level, Action.CONTRIBUTE): {"contributor_a", "data_manager_a", "admin_a", "platform_admin"}
        for level in ("public", "signed_in", "organisations", "shared_with_b")
    },
    **{
        (level, Action.MANAGE): {"data_manager_a", "admin_a", "platform_admin"}
        for level in ("public", "signed_in", "organisations", "shared_with_b")
    },
    **{
        (level, Action.ADMINISTER): {"admin_a", "platform_admin"}
        for level in ("public", "signed_in", "organisations", "shared_with_b")
    },
}


@pytest.fixture
def datasets(personas) -> dict[str, Dataset]:
    made = {
        level: dataset_make(
            slug=f"owned-{level}", owner=personas.organisation_a, access_level=level
        )
        for level in ("public", "signed_in", "organisations")
    }
    shared = dataset_make(
        slug="owned-shared", owner=personas.organisation_a, access_level="organisations"
    )
    shared.shared_with.add(personas.organisation_b)
    made["shared_with_b"] = shared
    return made


@pytest.mark.parametrize(("level", "action"), sorted(EXPECTED, key=str))
def test_permission_matrix(personas, datasets, level, action):
    dataset = datasets[level]
    allowed = {
        name for name, user in personas.all().items() if dataset_permits(user, dataset, action)
    }
    assert allowed == EXPECTED[(level, action)]
    # The queryset and the function are one rule: they agree for every persona.
    for name, user in personas.all().items():
        in_queryset = Dataset.objects.permitting(user, action).filter(pk=dataset.pk).exists()
        assert in_queryset == (name in allowed), name
        # The compiled look-up of the tile path too (asked twice: compiled, then reused).
        for _ in range(2):
            found = Dataset.objects.permitted_get(user, dataset.slug, action)
            assert (found == dataset) == (name in allowed), name


def test_contributing_organisation_may_contribute_but_not_manage(personas, datasets):
    dataset = datasets["signed_in"]
    dataset.contributing_organisations.add(personas.organisation_b)
    from infraplan.accounts.models import Role
    from infraplan.accounts.services import membership_set

    membership_set(
        actor=None, user=personas.member_b, organisation=personas.organisation_b,
        role=Role.CONTRIBUTOR,
    )  # fmt: skip
    assert dataset_permits(personas.member_b, dataset, Action.CONTRIBUTE)
    assert not dataset_permits(personas.member_b, dataset, Action.MANAGE)


def test_inactive_users_and_organisations_lose_access(personas, datasets):
    restricted = datasets["organisations"]
    personas.organisation_a.is_active = False
    personas.organisation_a.save()
    assert not dataset_permits(personas.viewer_a, restricted, Action.VIEW)
    assert dataset_permits(personas.viewer_a, datasets["signed_in"], Action.VIEW)
    personas.viewer_a.is_active = False
    personas.viewer_a.save()
    assert not dataset_permits(personas.viewer_a, datasets["signed_in"], Action.VIEW)
    assert dataset_permits(personas.viewer_a, datasets["public"], Action.VIEW)


def test_permitting_returns_each_dataset_once(personas, datasets):
    # The platform admin also belongs to both organisations: joins must not repeat rows.
    from infraplan.accounts.services import membership_set

    for organisation in (personas.organisation_a, personas.organisation_b):
        membership_set(
            actor=None, user=personas.platform_admin, organisation=organisation, role="viewer"
        )
    membership_set(
        actor=None, user=personas.viewer_a, organisation=personas.organisation_b, role="viewer"
    )
    slugs = list(Dataset.objects.permitting(personas.viewer_a).values_list("slug", flat=True))
    assert len(slugs) == len(set(slugs))
    assert set(slugs) == {"owned-public", "owned-signed_in", "owned-organisations", "owned-shared"}


def _plan_rows(queryset) -> int:
    """The most rows any step of ``queryset``'s plan produced, as PostgreSQL ran it."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        explained = cursor.fetchone()[0]
    (plan,) = json.loads(explained) if isinstance(explained, str) else explained

    def rows(node: dict) -> int:
        produced = node["Actual Rows"] * node.get("Actual Loops", 1)
        return max([produced, *(rows(child) for child in node.get("Plans", []))])

    return rows(plan["Plan"])


def test_the_gate_does_not_multiply_datasets_by_members(personas, datasets):
    # Forty more members in each organisation: joined through the organisations' memberships,
    # the gate read each dataset shared with B once per member of A times each member of B
    # (1,600 rows for one dataset), which at a county's thousands of officers took seconds.
    for organisation in (personas.organisation_a, personas.organisation_b):
        for n in range(40):
            user = user_create(
                actor=None, email=f"officer{n}@{organisation.slug}.example", password=None
            )
            membership_set(actor=None, user=user, organisation=organisation, role="viewer")
    for user in (personas.viewer_a, personas.member_b):
        for action in (Action.VIEW, Action.CONTRIBUTE):
            assert _plan_rows(Dataset.objects.permitting(user, action).values("pk")) < 40


def test_unknown_action_is_an_error(personas, datasets):
    with pytest.raises(ValueError, match="delete"):
        Dataset.objects.permitting(personas.viewer_a, "delete")


def test_compiled_lookup_reads_permissions_when_it_runs(personas, datasets):
    """The look-up's SQL is compiled once per user; who may see what is read each time."""
    from infraplan.accounts.models import Membership

    restricted = datasets["organisations"]
    assert Dataset.objects.permitted_get(personas.viewer_a, restricted.slug) == restricted
    Membership.objects.filter(user=personas.viewer_a).delete()
    assert Dataset.objects.permitted_get(personas.viewer_a, restricted.slug) is None

    public = datasets["public"]
    assert Dataset.objects.permitted_get(None, public.slug) == public
    public.access_level = "signed_in"
    public.save()
    assert Dataset.objects.permitted_get(None, public.slug) is None
    assert Dataset.objects.permitted_get(personas.member_b, public.slug) == public

    personas.member_b.is_active = False
    personas.member_b.save()
    assert Dataset.objects.permitted_get(personas.member_b, public.slug) is None


def test_compiled_lookup_reads_the_current_version(personas, datasets):
    from infraplan.core.testing.data import ASHFORD_POINTS, version_publish_points

    dataset = datasets["public"]
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    first = Dataset.objects.permitted_get(None, dataset.slug).current_version_number()
    version_publish_points(dataset=dataset, points=dict(list(ASHFORD_POINTS.items())[:1]))
    assert Dataset.objects.permitted_get(None, dataset.slug).current_version_number() == first + 1
    assert Dataset.objects.permitted_get(None, "no-such-dataset") is None
