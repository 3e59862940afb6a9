"""The style editor: data managers change how the map draws a dataset; nobody else can."""

import re
import threading
import time

import mapbox_vector_tile
import psycopg
import pytest
from django.db import connection
from django.test import Client
from psycopg.types.json import Jsonb

from infraplan.audit.models import AuditEntry
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points
from infraplan.core.testing.pages import error_summary
from tests.test_queue import database_url_of_tests

pytestmark = pytest.mark.django_db

STYLE_URL = "/datasets/sites/style/"
CATEGORISED = {
    "kind": "categorised",
    "categorised_field": "status",
    "category-0-value": "allocated",
    "category-0-colour": "#1d70b8",
    "category-0-label": "Allocated",
    "category-1-value": "permitted",
    "category-1-colour": "#00703c",
    "category-1-label": "With permission",
    "category-2-value": "",
    "category-2-colour": "",
    "category-2-label": "",
}


@pytest.fixture
def sites(personas):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a, access_level="signed_in")
    version_publish_points(
        dataset=dataset,
        points=ASHFORD_POINTS,
        properties={
            "civic-centre": {"status": "allocated", "homes": 120},
            "station": {"status": "permitted", "homes": 45},
        },
    )
    return dataset


def audit_entries(dataset) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(
            action="dataset.update", target_type="catalogue.dataset", target_id=str(dataset.pk)
        )
    )


def test_a_valid_categorised_style_is_saved_audited_and_shown(sites, personas, client_as):
    client = client_as(personas.data_manager_a)
    response = client.post(STYLE_URL, CATEGORISED)
    assert response.status_code == 302 and response["Location"] == "/datasets/sites/"
    sites.refresh_from_db()
    assert sites.style == {
        "kind": "categorised",
        "field": "status",
        "categories": [
            {"value": "allocated", "colour": "#1d70b8", "label": "Allocated"},
            {"value": "permitted", "colour": "#00703c", "label": "With permission"},
        ],
        "other_colour": "#6f777b",
        "other_label": "Other",
    }
    (entry,) = audit_entries(sites)
    assert entry.actor_id == personas.data_manager_a.pk
    assert entry.before["style"] == {} and entry.after["style"] == sites.style

    page = client.get(response["Location"]).content.decode()
    assert "The style of Sites has been saved." in page
    assert "govuk-notification-banner--success" in page
    legend = page[page.index('id="legend-heading"') :].split("</ul>")[0]
    assert re.findall(r'fill="(#[0-9a-f]{6})"', legend) == ["#1d70b8", "#00703c", "#6f777b"]
    assert "With permission" in legend


def test_a_graduated_style_is_saved(sites, personas, client_as):
    response = client_as(personas.admin_a).post(
        STYLE_URL,
        {
            "kind": "graduated",
            "graduated_field": "homes",
            "class-0-minimum": "0", "class-0-colour": "#85994b", "class-0-label": "Under 50",
            "class-1-minimum": "50", "class-1-colour": "#1d70b8", "class-1-label": "50 or more",
        },
    )  # fmt: skip
    assert response.status_code == 302
    sites.refresh_from_db()
    assert sites.style["kind"] == "graduated"
    assert [item["minimum"] for item in sites.style["classes"]] == [0, 50]


def test_a_simple_colour_and_back_to_the_default(sites, personas, client_as):
    client = client_as(personas.data_manager_a)
    assert client.post(STYLE_URL, {"kind": "simple", "colour": "#d4351c"}).status_code == 302
    sites.refresh_from_db()
    assert sites.style == {"kind": "simple", "colour": "#d4351c"}
    assert client.post(STYLE_URL, {"kind": "simple", "colour": ""}).status_code == 302
    sites.refresh_from_db()
    assert sites.style == {"kind": "simple"}
    assert len(audit_entries(sites)) == 2


def test_the_form_shows_the_current_style(sites, personas, client_as):
    client = client_as(personas.data_manager_a)
    client.post(STYLE_URL, CATEGORISED)
    content = client.get(STYLE_URL).content.decode()
    assert re.search(r'value="categorised"\s+checked', content)
    assert '<option value="status" selected>' in content
    assert 'name="category-1-label" type="text" spellcheck="false" value="With permission"' in (
        content
    )
    # Spare empty rows for new categories, without JavaScript.
    assert 'name="category-4-value"' in content


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"category-0-colour": "blue"},
            ["Category 1 colour: Enter the colour as # followed by 6 letters a to f or digits, "
             "like #00857c"],
        ),
        ({"category-1-label": ""}, ["Category 2 label: Enter the label, or clear the whole row"]),
        ({"categorised_field": ""}, ["Field: Choose the field whose values set the colour"]),
        (
            {"categorised_field": "no-such-field"},
            ["Field: Select a valid choice. no-such-field is not one of the available choices."],
        ),
        (
            {"category-1-value": "allocated"},
            ["Category 1 value: Each category value may appear once"],
        ),
        (
            {"kind": "graduated", "graduated_field": "homes",
             "class-0-minimum": "100", "class-0-colour": "#1d70b8", "class-0-label": "Many",
             "class-1-minimum": "ten", "class-1-colour": "#00703c", "class-1-label": "Few"},
            ["Class 2 minimum: Enter the minimum as a number, like 10 or 2.5"],
        ),
        (
            {"kind": "graduated", "graduated_field": "homes",
             "class-0-minimum": "100", "class-0-colour": "#1d70b8", "class-0-label": "Many",
             "class-1-minimum": "10", "class-1-colour": "#00703c", "class-1-label": "Few"},
            ["Class 1 minimum: Classes must be in ascending order of minimum, "
             "each minimum once"],
        ),
        (
            {"kind": "graduated", "graduated_field": "status"},
            ["Numeric field: Select a valid choice. status is not one of the available choices."],
        ),
        ({"kind": ""}, ["How to draw it: Choose how to draw the dataset"]),
        (
            {"category-1-colour": "#1D70B8"},
            ["Category 2 colour: #1d70b8 is already the colour of category 1: give each its "
             "own, so that the map's legend can tell them apart"],
        ),
        (
            {"category-1-colour": "#6f777b"},  # the colour for any other value, left blank
            ["Colour for any other value: #6f777b is already the colour of category 2: give "
             "each its own, so that the map's legend can tell them apart"],
        ),
        (
            {"kind": "graduated", "graduated_field": "homes",
             "class-0-minimum": "0", "class-0-colour": "#00703c", "class-0-label": "Few",
             "class-1-minimum": "50", "class-1-colour": "#00703c", "class-1-label": "Many"},
            ["Class 2 colour: #00703c is already the colour of class 1: give each its own, so "
             "that the map's legend can tell them apart"],
        ),
        (
            {"category-1-colour": "#ffdd00", "other_colour": "#f3f2f1"},
            ["Colour for any other value: #f3f2f1 is too pale to see on the map's white "
             "background (contrast 1.12:1, at least 3:1 needed): choose a darker colour, like "
             "#1d70b8",
             "Category 2 colour: #ffdd00 is too pale to see on the map's white background "
             "(contrast 1.35:1, at least 3:1 needed): choose a darker colour, like #1d70b8"],
        ),
        (
            {"kind": "simple", "colour": "#ffffff"},
            ["Colour: #ffffff is too pale to see on the map's white background (contrast 1.00:1, "
             "at least 3:1 needed): choose a darker colour, like #1d70b8"],
        ),
        (
            {"kind": "graduated", "graduated_field": "homes",
             "class-0-minimum": "0", "class-0-colour": "#f47738", "class-0-label": "Few",
             "class-1-minimum": "50", "class-1-colour": "#00703c", "class-1-label": "Many"},
            ["Class 1 colour: #f47738 is too pale to see on the map's white background "
             "(contrast 2.78:1, at least 3:1 needed): choose a darker colour, like #1d70b8"],
        ),
    ],
)  # fmt: skip
def test_invalid_input_is_explained_and_changes_nothing(
    sites, personas, client_as, changes, expected
):
    response = client_as(personas.data_manager_a).post(STYLE_URL, {**CATEGORISED, **changes})
    assert response.status_code == 200
    assert error_summary(response) == expected
    assert "<title>Error: Map style of Sites" in response.content.decode()
    sites.refresh_from_db()
    assert sites.style == {}
    assert audit_entries(sites) == []


def test_people_who_may_not_manage_cannot_see_or_post_the_style(sites, personas, client_as):
    for persona in (personas.viewer_a, personas.contributor_a, personas.member_b):
        client = client_as(persona)
        assert client.get(STYLE_URL).status_code == 404
        assert client.post(STYLE_URL, CATEGORISED).status_code == 404
        assert "Save style" not in client.get("/datasets/sites/").content.decode()
    anonymous = client_as(None).post(STYLE_URL, CATEGORISED)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    sites.refresh_from_db()
    assert sites.style == {}
    assert audit_entries(sites) == []


def test_managers_see_the_style_form_on_the_dataset_page(sites, personas, client_as):
    content = client_as(personas.data_manager_a).get("/datasets/sites/").content.decode()
    assert f'action="{STYLE_URL}"' in content
    assert 'name="csrfmiddlewaretoken"' in content


def test_a_dataset_without_geometry_has_no_style_to_edit(personas, client_as):
    dataset_make(slug="areas", owner=personas.organisation_a, geometry_type="none")
    manager = client_as(personas.data_manager_a)
    page = manager.get("/datasets/areas/").content.decode()
    assert "Map style" not in page and 'action="/datasets/areas/style/"' not in page
    assert manager.get("/datasets/areas/style/").status_code == 404
    assert manager.post("/datasets/areas/style/", {"kind": "simple"}).status_code == 404


def test_the_style_form_needs_its_csrf_token(sites, personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.data_manager_a)
    assert client.post(STYLE_URL, CATEGORISED).status_code == 403
    sites.refresh_from_db()
    assert sites.style == {}


def test_a_style_without_any_rows_is_explained(sites, personas, client_as):
    client = client_as(personas.data_manager_a)
    response = client.post(STYLE_URL, {"kind": "categorised", "categorised_field": "status"})
    assert error_summary(response) == ["Category 1 value: Enter at least one category"]
    response = client.post(STYLE_URL, {"kind": "graduated", "graduated_field": "homes"})
    assert error_summary(response) == ["Class 1 minimum: Enter at least two classes"]
    sites.refresh_from_db()
    assert sites.style == {}


def test_a_missing_way_to_draw_is_announced_with_its_radios(sites, personas, client_as):
    """As GOV.UK's radios: the fieldset is described by its hint and the error message, so a
    screen reader announces the error on entering the radios."""
    response = client_as(personas.data_manager_a).post(STYLE_URL, {**CATEGORISED, "kind": ""})
    content = response.content.decode()

    assert '<fieldset class="govuk-fieldset" aria-describedby="kind-hint kind-error">' in content
    assert re.search(
        r'<p id="kind-error" class="govuk-error-message"><span class="govuk-visually-hidden">'
        r"Error:</span> Choose how to draw the dataset</p>",
        content,
    )


def test_categories_past_the_last_row_offered_are_refused_not_dropped(sites, personas, client_as):
    """The form offers 30 category rows; a post with a 31st (a crafted request, or a page kept
    open across an upgrade) is told why instead of losing it without a word."""
    rows = {
        f"category-{n}-{part}": value
        for n in range(31)
        for part, value in (
            ("value", f"status {n}"),
            ("colour", f"#0030{n:02x}"),
            ("label", f"S{n}"),
        )
    }
    data = {"kind": "categorised", "categorised_field": "status", **rows}
    response = client_as(personas.data_manager_a).post(STYLE_URL, data)
    assert response.status_code == 200
    assert error_summary(response) == [
        "A style has at most 30 categories: the ones after category 30 were not saved. "
        "Remove them, or merge some."
    ]
    sites.refresh_from_db()
    assert sites.style == {}
    # Thirty are saved as ever; an empty row past the limit is no problem.
    del data["category-30-value"], data["category-30-colour"], data["category-30-label"]
    data["category-40-label"] = " "
    assert client_as(personas.data_manager_a).post(STYLE_URL, data).status_code == 302
    sites.refresh_from_db()
    assert len(sites.style["categories"]) == 30


def test_a_style_saved_for_a_dataset_without_a_schema_is_drawn_by_the_map(
    sites, personas, client_as
):
    """The editor offers the fields the features have when the dataset has no schema; the
    tiles, the map page and the PNG draw the style it saved."""
    client = client_as(personas.data_manager_a)
    assert client.post(STYLE_URL, CATEGORISED).status_code == 302

    tile = client.get("/tiles/sites/10/514/342.mvt")  # both Ashford points
    assert tile.status_code == 200
    features = mapbox_vector_tile.decode(tile.content)["sites"]["features"]
    assert {feature["properties"].get("status") for feature in features} == {
        "allocated", "permitted"
    }  # fmt: skip
    map_page = client.get("/map/", {"layers": "sites"})
    assert map_page.status_code == 200 and "#00703c" in map_page.content.decode()
    png = client.get("/map.png", {"layers": "sites", "bbox": "0.86,51.14,0.89,51.16"})
    assert png.status_code == 200 and png["Content-Type"] == "image/png"


def saved_digest(response) -> str:
    return re.search(
        r'<input type="hidden" name="saved" value="(\w+)">', response.content.decode()
    )[1]


def test_a_style_someone_else_saved_meanwhile_is_not_replaced_without_a_word(
    sites, personas, client_as
):
    manager, admin = client_as(personas.data_manager_a), client_as(personas.admin_a)
    opened = saved_digest(manager.get(STYLE_URL))
    simple = {"kind": "simple", "colour": "#d4351c"}
    assert (
        admin.post(STYLE_URL, {**simple, "saved": saved_digest(admin.get(STYLE_URL))}).status_code
        == 302
    )

    response = manager.post(STYLE_URL, {**CATEGORISED, "saved": opened})

    assert response.status_code == 200
    assert error_summary(response) == [
        "Someone else saved a different style for this dataset while you were editing it. "
        "See theirs on the dataset page; save this form again to replace it."
    ]
    sites.refresh_from_db()
    assert sites.style == simple
    # Saving again, having been told, replaces it.
    again = manager.post(STYLE_URL, {**CATEGORISED, "saved": saved_digest(response)})
    assert again.status_code == 302
    sites.refresh_from_db()
    assert sites.style["kind"] == "categorised"


@pytest.mark.django_db(transaction=True)
def test_of_two_saves_at_once_the_second_is_told_of_the_first(sites, personas, client_as):
    """The second save reads the saved style only once the first has committed (under the
    dataset's row lock), so it is told of the first instead of replacing it unseen."""
    manager = client_as(personas.data_manager_a)
    opened = saved_digest(manager.get(STYLE_URL))
    simple = {"kind": "simple", "colour": "#d4351c"}
    answers = []

    def save() -> None:
        try:
            answers.append(manager.post(STYLE_URL, {**CATEGORISED, "saved": opened}))
        finally:
            connection.close()

    with (
        psycopg.connect(database_url_of_tests()) as first,
        psycopg.connect(database_url_of_tests(), autocommit=True) as watcher,
    ):
        # The first save, in the middle of its transaction: the dataset's row is locked.
        first.execute("SELECT 1 FROM catalogue_dataset WHERE id = %s FOR UPDATE", [sites.pk])
        second = threading.Thread(target=save)
        second.start()
        waited = 0.0
        # Watched from a connection of its own: within a transaction, PostgreSQL answers
        # pg_stat_activity from the snapshot it took first.
        while not watcher.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()[0]:
            assert waited < 30 and second.is_alive(), "the second save never waited for the first"
            time.sleep(0.05)
            waited += 0.05
        first.execute(
            "UPDATE catalogue_dataset SET style = %s WHERE id = %s", [Jsonb(simple), sites.pk]
        )
        first.commit()
        second.join(60)
    (response,) = answers
    assert response.status_code == 200
    assert error_summary(response)[0].startswith("Someone else saved a different style")
    sites.refresh_from_db()
    assert sites.style == simple
