"""Adding a dataset and changing its details: data managers for their own organisations (any
organisation for platform admins); nobody else."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.services import dataset_create
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points
from infraplan.core.testing.pages import error_summary

pytestmark = pytest.mark.django_db

NEW_URL = "/datasets/new/"
ALLOCATIONS = {
    "owner": "org-a",
    "title": "Housing allocations",
    "abstract": "Sites allocated for housing in the adopted local plan.",
    "theme": "housing-growth",
    "geometry_type": "polygon",
    "access_level": "signed_in",
    "licence": "Open Government Licence v3.0",
    "attribution": "Organisation A, 2026",
    "lineage": "Digitised from the local plan's policies map.",
    "update_frequency": "annually",
    "keywords": "housing, local plan, housing,  ",
    "reference_date": "20/06/2026",
    "min_zoom": "10",
}


def test_a_data_manager_adds_a_dataset_for_their_organisation(personas, client_as):
    client = client_as(personas.data_manager_a)

    response = client.post(NEW_URL, ALLOCATIONS)

    dataset = Dataset.objects.get(slug="housing-allocations")
    assert response.status_code == 302 and response["Location"] == "/datasets/housing-allocations/"
    assert (dataset.owner, dataset.geometry_type, dataset.min_zoom) == (
        personas.organisation_a, "polygon", 10
    )  # fmt: skip
    assert dataset.keywords == ["housing", "local plan"]
    assert dataset.reference_date.isoformat() == "2026-06-20"
    assert (dataset.field_schema, dataset.current_version) == ([], None)
    entry = AuditEntry.objects.get(action="dataset.create", target_id=str(dataset.pk))
    assert entry.actor_id == personas.data_manager_a.pk
    page = client.get("/datasets/housing-allocations/").content.decode()
    assert "Housing allocations has been added. It has no features yet" in page
    assert 'href="/datasets/housing-allocations/upload/"' in page
    upload = client.get("/datasets/housing-allocations/upload/").content.decode()
    assert "This dataset has no fields yet: this file's columns become its fields" in upload


def test_the_list_offers_adding_only_to_those_who_may(personas, client_as):
    def offered(user) -> bool:
        return 'href="/datasets/new/"' in client_as(user).get("/datasets/").content.decode()

    assert offered(personas.data_manager_a) and offered(personas.platform_admin)
    assert not any(
        offered(user) for user in (personas.anonymous, personas.viewer_a, personas.contributor_a)
    )


def test_only_their_own_organisations_are_offered(personas, client_as):
    response = client_as(personas.data_manager_a).post(NEW_URL, {**ALLOCATIONS, "owner": "org-b"})

    assert response.status_code == 200
    assert error_summary(response) == ["Organisation: Choose one of the organisations listed"]
    assert not Dataset.objects.exists()
    # A platform admin adds one for any organisation.
    client_as(personas.platform_admin).post(NEW_URL, {**ALLOCATIONS, "owner": "org-b"})
    assert Dataset.objects.get().owner == personas.organisation_b


def test_contributors_and_viewers_are_refused(personas, client_as):
    for user in (personas.contributor_a, personas.viewer_a, personas.member_b):
        assert client_as(user).post(NEW_URL, ALLOCATIONS).status_code == 403
    assert client_as(None).get(NEW_URL).status_code == 302
    assert not Dataset.objects.exists()


def test_each_mistake_is_named_and_what_was_typed_is_kept(personas, client_as):
    response = client_as(personas.data_manager_a).post(
        NEW_URL,
        {**ALLOCATIONS, "title": "", "geometry_type": "", "reference_date": "31/06/2026",
         "min_zoom": "23"},
    )  # fmt: skip

    assert response.status_code == 200
    assert error_summary(response) == [
        "Title: Enter the dataset's title",
        "What its features are: Choose what the dataset's features are",
        "Reference date (optional): Enter the reference date as a real date (YYYY-MM-DD, "
        "DD/MM/YYYY or YYYYMMDD), for example 2026-03-27",
        "Drawn from zoom level: The zoom level must be 22 or less",
    ]
    assert "Sites allocated for housing in the adopted local plan." in response.content.decode()
    assert not Dataset.objects.exists()


def test_a_title_already_taken_gets_the_next_free_address(personas):
    dataset_make(slug="housing-allocations", owner=personas.organisation_b)
    fields = {key: value for key, value in ALLOCATIONS.items() if key not in ("owner", "title")}
    fields.update(keywords=[], reference_date=None, min_zoom=0)

    second = dataset_create(
        actor=None, owner=personas.organisation_a, title="Housing allocations", **fields
    )
    reserved = dataset_create(actor=None, owner=personas.organisation_a, title="New", **fields)

    assert (second.slug, reserved.slug) == ("housing-allocations-2", "new-2")
    assert Dataset.objects.get(slug="housing-allocations").owner == personas.organisation_b


def test_a_data_manager_changes_the_details_but_not_who_may_see_it(personas, client_as):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a, access_level="signed_in")
    client = client_as(personas.data_manager_a)
    form = client.get("/datasets/sites/details/").content.decode()
    assert 'name="access_level"' not in form and "Anyone signed in." in form

    response = client.post(
        "/datasets/sites/details/",
        {**ALLOCATIONS, "title": "Allocated sites", "access_level": "public"},
    )

    assert response.status_code == 302
    dataset.refresh_from_db()
    assert (dataset.title, dataset.access_level, dataset.slug) == (
        "Allocated sites", "signed_in", "sites"
    )  # fmt: skip
    entry = AuditEntry.objects.get(action="dataset.update", target_id=str(dataset.pk))
    assert (entry.before["title"], entry.after["title"]) == ("Sites", "Allocated sites")
    # The organisation's admin may change who sees it.
    client_as(personas.admin_a).post(
        "/datasets/sites/details/", {**ALLOCATIONS, "access_level": "public"}
    )
    dataset.refresh_from_db()
    assert dataset.access_level == "public"


def test_an_admin_changes_who_may_see_it_only_after_a_second_factor(personas, client_as):
    """A phished admin password alone must not publish a council's restricted data."""
    dataset = dataset_make(slug="sites", owner=personas.organisation_a, access_level="signed_in")
    client = client_as(personas.admin_a, two_factor=False)
    form = client.get("/datasets/sites/details/").content.decode()
    assert 'name="access_level"' not in form
    assert f'href="{reverse("mfa_activate_totp")}">use two-factor authentication</a>' in form

    response = client.post(
        "/datasets/sites/details/",
        {**ALLOCATIONS, "title": "Allocated sites", "access_level": "public"},
    )

    assert response.status_code == 302
    dataset.refresh_from_db()
    assert (dataset.title, dataset.access_level) == ("Allocated sites", "signed_in")
    form = client_as(personas.admin_a).get("/datasets/sites/details/").content.decode()
    assert 'name="access_level"' in form and "use two-factor authentication" not in form


def test_the_kind_of_features_is_fixed_once_a_version_is_published(personas, client_as):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    client = client_as(personas.data_manager_a)

    assert 'name="geometry_type"' not in client.get("/datasets/sites/details/").content.decode()
    client.post("/datasets/sites/details/", ALLOCATIONS)

    dataset.refresh_from_db()
    assert (dataset.geometry_type, dataset.title) == ("point", "Housing allocations")


def test_others_cannot_change_the_details(personas, client_as):
    dataset_make(slug="sites", owner=personas.organisation_a)

    for user in (personas.contributor_a, personas.viewer_a, personas.member_b):
        assert client_as(user).post("/datasets/sites/details/", ALLOCATIONS).status_code == 404
    assert Dataset.objects.get(slug="sites").title == "Sites"


def test_a_title_another_dataset_has_is_refused(personas, client_as):
    dataset_make(slug="brownfield", owner=personas.organisation_b, title="Brownfield land")
    dataset_make(slug="sites", owner=personas.organisation_a)
    client = client_as(personas.data_manager_a)

    added = client.post(NEW_URL, {**ALLOCATIONS, "title": " brownfield   LAND "})
    changed = client.post("/datasets/sites/details/", {**ALLOCATIONS, "title": "Brownfield land"})
    kept = client.post("/datasets/sites/details/", {**ALLOCATIONS, "title": "sites"})

    message = (
        "Title: There is already a dataset called brownfield LAND: choose a title that tells them "
        "apart, such as one naming the council, the plan or the year"
    )
    assert error_summary(added) == [message]
    assert error_summary(changed) == [message.replace("brownfield LAND", "Brownfield land")]
    assert kept.status_code == 302  # its own title, in other letters
    assert Dataset.objects.count() == 2


def test_the_command_line_adds_a_dataset_checked_as_the_page_does(personas):
    arguments = [
        "--owner", "org-a", "--geometry", "point", "--abstract", "Sites allocated for housing.",
        "--theme", "housing-growth", "--attribution", "Organisation A", "--lineage", "Local plan.",
    ]  # fmt: skip
    out = StringIO()

    call_command(
        "add_dataset", "--title", "Housing allocations", "--reference-date", "20/06/2026",
        *arguments, stdout=out,
    )  # fmt: skip

    assert out.getvalue().strip() == "housing-allocations"
    dataset = Dataset.objects.get()
    assert (dataset.owner, dataset.access_level, dataset.reference_date.isoformat()) == (
        personas.organisation_a, "signed_in", "2026-06-20"
    )  # fmt: skip
    assert AuditEntry.objects.filter(action="dataset.create", actor_id=None).count() == 1
    with pytest.raises(CommandError) as refused:
        call_command(
            "add_dataset", "--title", "housing allocations", "--reference-date", "31/06/2026",
            *arguments,
        )  # fmt: skip
    assert str(refused.value).startswith(
        "The dataset was not added. Title: There is already a dataset called housing allocations"
    )
    assert "Reference date (optional): Enter the reference date as a real date" in str(
        refused.value
    )
    assert Dataset.objects.count() == 1


def test_a_data_manager_adding_a_dataset_does_not_choose_who_may_see_it(personas, client_as):
    """Only the owner's admins choose who may see a dataset: a data manager who made one public
    could not make it private again."""
    client = client_as(personas.data_manager_a)
    form = client.get(NEW_URL).content.decode()
    assert 'name="access_level"' not in form
    assert "Anyone signed in: every new dataset starts so." in form

    response = client.post(NEW_URL, {**ALLOCATIONS, "access_level": "public"})

    assert response.status_code == 302
    assert Dataset.objects.get().access_level == "signed_in"


def test_an_organisation_admin_adding_a_dataset_chooses_who_may_see_it(personas, client_as):
    without_code = client_as(personas.admin_a, two_factor=False)
    form = without_code.get(NEW_URL).content.decode()
    assert 'name="access_level"' not in form
    assert f'href="{reverse("mfa_activate_totp")}">use two-factor authentication</a>' in form
    without_code.post(NEW_URL, {**ALLOCATIONS, "access_level": "public"})
    assert Dataset.objects.get().access_level == "signed_in"

    client = client_as(personas.admin_a)
    assert 'name="access_level"' in client.get(NEW_URL).content.decode()
    client.post(NEW_URL, {**ALLOCATIONS, "title": "Sites", "access_level": "public"})

    assert Dataset.objects.get(title="Sites").access_level == "public"


def test_the_period_and_the_format_are_set_on_the_details_page(personas, client_as):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    client = client_as(personas.data_manager_a)

    response = client.post(
        "/datasets/sites/details/",
        {**ALLOCATIONS, "temporal_start": "01/04/2025", "temporal_end": "2026-03-31",
         "source_format": " GeoJSON "},
    )  # fmt: skip

    assert response.status_code == 302
    dataset.refresh_from_db()
    assert (dataset.temporal_start.isoformat(), dataset.temporal_end.isoformat()) == (
        "2025-04-01", "2026-03-31"
    )  # fmt: skip
    assert dataset.source_format == "GeoJSON"
    entry = AuditEntry.objects.get(action="dataset.update", target_id=str(dataset.pk))
    assert (entry.before["temporal_start"], entry.after["temporal_start"]) == (None, "2025-04-01")
    assert (entry.before["source_format"], entry.after["source_format"]) == ("", "GeoJSON")
    page = client.get("/datasets/sites/").content.decode()
    assert "1 April 2025 to 31 March 2026" in page and "GeoJSON" in page
    form = client.get("/datasets/sites/details/").content.decode()
    assert 'name="temporal_start" type="text" value="2025-04-01"' in form


def test_a_period_ending_before_it_starts_or_on_no_real_day_is_refused(personas, client_as):
    dataset_make(slug="sites", owner=personas.organisation_a)
    client = client_as(personas.data_manager_a)

    backwards = client.post(
        "/datasets/sites/details/",
        {**ALLOCATIONS, "temporal_start": "2026-04-01", "temporal_end": "31/03/2026"},
    )
    impossible = client.post(
        NEW_URL, {**ALLOCATIONS, "temporal_start": "2026-02-30", "temporal_end": "2026-13-01"}
    )

    assert error_summary(backwards) == [
        "End of the period it describes (optional): The end of the period must be the same as "
        "or after its start (2026-04-01)"
    ]
    assert error_summary(impossible) == [
        "Start of the period it describes (optional): Enter the start of the period as a real "
        "date (YYYY-MM-DD, DD/MM/YYYY or YYYYMMDD), for example 2026-04-01",
        "End of the period it describes (optional): Enter the end of the period as a real date "
        "(YYYY-MM-DD, DD/MM/YYYY or YYYYMMDD), for example 2027-03-31",
    ]
    assert Dataset.objects.get().temporal_start is None
    assert Dataset.objects.count() == 1
