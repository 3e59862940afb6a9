"""The organisations that contribute their own part of a dataset: chosen on its details page by
those who manage it, audited; and, where only named organisations see it, seeing it."""

import json
import re

import pytest

from infraplan.accounts.models import Organisation, Role
from infraplan.accounts.services import membership_set, user_create
from infraplan.audit.models import AuditEntry
from infraplan.catalogue.access import Action, dataset_permits
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import SHARED_POINTS, dataset_make, shared_sites_make
from infraplan.core.testing.personas import PASSWORD

from .test_dataset_details import ALLOCATIONS

pytestmark = pytest.mark.django_db

DETAILS_URL = "/datasets/sites/details/"
CONTRIBUTORS_LABEL = "Organisations that may contribute their own part"


def _offered(page: str) -> list[str]:
    return re.findall(r'name="contributing_organisations" type="checkbox" value="([^"]*)"', page)


def _ticked(page: str) -> list[str]:
    return re.findall(
        r'name="contributing_organisations" type="checkbox" value="([^"]*)" checked', page
    )


def _contributors_entries(dataset: Dataset) -> list[tuple[list[str], list[str]]]:
    entries = AuditEntry.objects.filter(
        action="dataset.update",
        target_id=str(dataset.pk),
        after__has_key="contributing_organisations",
    ).order_by("pk")
    return [
        (entry.before["contributing_organisations"], entry.after["contributing_organisations"])
        for entry in entries
    ]


@pytest.fixture
def organisation_c() -> Organisation:
    return Organisation.objects.create(slug="org-c", name="Organisation C", kind="district")


def test_a_data_manager_chooses_who_contributes_on_the_details_page(
    personas, client_as, organisation_c
):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a, access_level="signed_in")
    client = client_as(personas.data_manager_a)

    page = client.get(DETAILS_URL).content.decode()
    assert CONTRIBUTORS_LABEL in page
    assert "the features it loaded stay in the dataset as its part" in page
    # The platform's other organisations, never the owner.
    assert _offered(page) == ["org-b", "org-c"] and _ticked(page) == []

    response = client.post(DETAILS_URL, {**ALLOCATIONS, "contributing_organisations": ["org-b"]})

    assert response.status_code == 302
    assert list(dataset.contributing_organisations.values_list("slug", flat=True)) == ["org-b"]
    assert _contributors_entries(dataset) == [([], ["org-b"])]
    assert _ticked(client.get(DETAILS_URL).content.decode()) == ["org-b"]
    # Changing only who contributes is a change, audited with both lists.
    client.post(DETAILS_URL, {**ALLOCATIONS, "contributing_organisations": ["org-b", "org-c"]})
    client.post(DETAILS_URL, {**ALLOCATIONS, "contributing_organisations": ["org-c"]})
    assert _contributors_entries(dataset) == [
        ([], ["org-b"]), (["org-b"], ["org-b", "org-c"]), (["org-b", "org-c"], ["org-c"])
    ]  # fmt: skip
    # Saved unchanged: not audited again.
    client.post(DETAILS_URL, {**ALLOCATIONS, "contributing_organisations": ["org-c"]})
    assert len(_contributors_entries(dataset)) == 3


def test_the_owner_or_an_unknown_organisation_is_refused(personas, client_as):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a, access_level="signed_in")
    client = client_as(personas.data_manager_a)

    for slug in ("org-a", "org-z"):
        response = client.post(DETAILS_URL, {**ALLOCATIONS, "contributing_organisations": [slug]})
        assert response.status_code == 200
        assert "Choose organisations from those listed" in response.content.decode()
    assert not dataset.contributing_organisations.exists()


def test_an_organisation_taken_off_keeps_the_part_it_loaded(personas, client_as):
    sites = shared_sites_make(personas.organisation_a, personas.organisation_b)

    client_as(personas.data_manager_a).post(DETAILS_URL, ALLOCATIONS)

    assert not sites.contributing_organisations.exists()
    assert _contributors_entries(sites) == [(["org-b"], [])]
    part_b = current_features(sites).filter(organisation=personas.organisation_b)
    assert list(part_b.values_list("reference", flat=True)) == list(SHARED_POINTS["org-b"])
    # It loads no more.
    membership_set(
        actor=None, user=personas.member_b, organisation=personas.organisation_b,
        role=Role.CONTRIBUTOR,
    )  # fmt: skip
    assert not dataset_permits(personas.member_b, sites, Action.CONTRIBUTE)


def test_who_contributes_to_a_dataset_named_organisations_see_is_chosen_as_who_sees_it(
    personas, client_as
):
    """Adding a contributor to such a dataset lets its members see it: only those who may
    change who sees it (its admins, after a second factor) may."""
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a, access_level="organisations"
    )
    manager = client_as(personas.data_manager_a)
    page = manager.get(DETAILS_URL).content.decode()
    assert _offered(page) == [] and CONTRIBUTORS_LABEL in page
    assert "None: only Organisation A publishes it." in page

    sent = {**ALLOCATIONS, "access_level": "organisations", "contributing_organisations": "org-b"}
    assert manager.post(DETAILS_URL, sent).status_code == 302
    assert not dataset.contributing_organisations.exists()
    page = client_as(personas.admin_a, two_factor=False).get(DETAILS_URL).content.decode()
    assert _offered(page) == [] and "use two-factor authentication</a> first." in page

    assert client_as(personas.admin_a).post(DETAILS_URL, sent).status_code == 302
    assert list(dataset.contributing_organisations.values_list("slug", flat=True)) == ["org-b"]
    page = manager.get(DETAILS_URL).content.decode()
    assert "Organisation B. Only named organisations see it" in page


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def restricted_shared_sites(personas) -> Dataset:
    """Sites only named organisations see, B contributing its part, shared with nobody."""
    sites = shared_sites_make(personas.organisation_a, personas.organisation_b)
    Dataset.objects.filter(pk=sites.pk).update(access_level="organisations")
    sites.refresh_from_db()
    assert not sites.shared_with.exists()
    return sites


def test_a_contributing_organisation_sees_a_dataset_only_named_organisations_see(
    restricted_shared_sites, personas, client_as, organisation_c
):
    sites = restricted_shared_sites
    contributor_b = user_create(actor=None, email="contributor@b.example", password=PASSWORD)
    membership_set(
        actor=None, user=contributor_b, organisation=personas.organisation_b,
        role=Role.CONTRIBUTOR,
    )  # fmt: skip
    outsider = user_create(actor=None, email="member@c.example", password=PASSWORD)
    membership_set(actor=None, user=outsider, organisation=organisation_c, role=Role.VIEWER)
    feature_b = current_features(sites).get(organisation=personas.organisation_b).pk

    viewer = client_as(personas.member_b)
    assert viewer.get("/datasets/sites/").status_code == 200
    assert viewer.get(f"/datasets/sites/features/{feature_b}.json").status_code == 200
    table = viewer.get("/map/features/", {"layers": "sites"}).content.decode()
    assert "No features of the chosen layers in this area." not in table
    download = viewer.get("/datasets/sites/download.geojson")
    assert download.status_code == 200
    features = json.loads(_body(download))["features"]
    assert sorted(f["properties"]["organisation"] for f in features) == ["org-a", "org-a", "org-b"]
    # A viewer sees it; its contributors load their own part, as before.
    assert not dataset_permits(personas.member_b, sites, Action.CONTRIBUTE)
    upload = client_as(contributor_b).get("/datasets/sites/upload/")
    assert upload.status_code == 200
    assert re.findall(r'<option value="([^"]*)"', upload.content.decode()) == ["org-b"]
    for action in (Action.VIEW, Action.CONTRIBUTE):
        assert dataset_permits(contributor_b, sites, action)
        assert Dataset.objects.permitted_get(contributor_b, "sites", action) == sites
    assert not dataset_permits(contributor_b, sites, Action.MANAGE)

    # An organisation neither shared with nor contributing sees nothing of it.
    stranger = client_as(outsider)
    for url in (
        "/datasets/sites/", "/datasets/sites/upload/", "/datasets/sites/download.geojson",
        f"/datasets/sites/features/{feature_b}.json",
    ):  # fmt: skip
        assert stranger.get(url).status_code == 404, url
    assert Dataset.objects.permitted_get(outsider, "sites") is None
    # Nor does B once it no longer contributes.
    sites.contributing_organisations.clear()
    assert viewer.get("/datasets/sites/").status_code == 404
    assert client_as(contributor_b).get("/datasets/sites/upload/").status_code == 404
