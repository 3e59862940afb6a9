"""The catalogue's forms tie each error message to its controls, as the GOV.UK Design System
does: the message's id in the ``aria-describedby`` of the fieldset or control, beside the hint's
(WCAG 1.3.1, 3.3.1); and the details page's table of field types scrolls in a region of its own
at 320 CSS pixels (WCAG 1.4.10)."""

from html.parser import HTMLParser

import pytest
from django import forms
from django.template.loader import render_to_string

from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db

VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "area", "wbr"}


class _Elements(HTMLParser):
    """Each element's tag and attributes, with those of the elements around it."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, dict[str, str]]] = []
        self.found: list[tuple[str, dict[str, str], list[tuple[str, dict[str, str]]]]] = []

    def handle_starttag(self, tag, attrs):
        element = (tag, {name: value or "" for name, value in attrs})
        self.found.append((*element, list(self.open)))
        if tag not in VOID:
            self.open.append(element)

    def handle_endtag(self, tag):
        while self.open and self.open.pop()[0] != tag:
            pass


def elements(content: str) -> _Elements:
    parsed = _Elements()
    parsed.feed(content)
    return parsed


def element(content: str, **wanted: str) -> tuple[dict[str, str], list[tuple[str, dict]]]:
    """The attributes of the one element that has ``wanted``, and the elements it is within."""
    found = [
        (attrs, around)
        for _, attrs, around in elements(content).found
        if all(attrs.get(name) == value for name, value in wanted.items())
    ]
    assert len(found) == 1, (wanted, len(found))
    return found[0]


def compare_fieldset(content: str) -> dict[str, str]:
    """The attributes of the compare form's fieldset."""
    (fieldset,) = [
        attrs
        for tag, attrs, around in elements(content).found
        if tag == "fieldset" and any(outer.get("id") == "compare" for _, outer in around)
    ]
    return fieldset


def described_by(attrs: dict[str, str]) -> list[str]:
    return attrs.get("aria-describedby", "").split()


def ids(content: str) -> list[str]:
    return [attrs["id"] for _, attrs, _ in elements(content).found if "id" in attrs]


@pytest.fixture
def sites(personas):
    dataset = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "homes", "title": "Homes", "type": "string"}],
    )  # fmt: skip
    for _ in range(2):
        version_publish_points(dataset=dataset, points={"A": (615000, 157500)})
    return dataset


# The compare form


def test_choosing_one_version_twice_describes_the_fieldset_by_the_error(sites, personas, client_as):
    client = client_as(personas.viewer_a)
    response = client.get("/datasets/sites/compare/", {"old": "2", "new": "2"})
    assert response.status_code == 400
    content = response.content.decode()
    fieldset = compare_fieldset(content)
    assert described_by(fieldset) == ["compare-error"]
    assert ids(content).count("compare-error") == 1
    _, around = element(content, id="compare-error")
    assert ("fieldset", fieldset) in around
    # No error: nothing describes the fieldset.
    content = client.get("/datasets/sites/").content.decode()
    fieldset = compare_fieldset(content)
    assert "aria-describedby" not in fieldset and "compare-error" not in ids(content)


# The field types form


DETAILS = "/datasets/sites/details/"


def test_an_error_of_the_whole_types_form_describes_each_select(sites, personas, client_as):
    client = client_as(personas.data_manager_a)
    # Sent against fields since changed (another manager renamed one).
    response = client.post(DETAILS, {"form": "field-types", "name-0": "units", "type-0": "integer"})
    assert response.status_code == 200
    content = response.content.decode()
    assert ids(content).count("field-types-error") == 1
    select, _ = element(content, id="id_type-0")
    assert described_by(select) == ["field-types-error"]
    # No error: nothing describes the select.
    select, _ = element(client.get(DETAILS).content.decode(), id="id_type-0")
    assert "aria-describedby" not in select


def test_the_table_of_field_types_scrolls_in_a_region_of_its_own(sites, personas, client_as):
    """At 320 CSS pixels the table with its drop-downs scrolls inside a named, focusable
    region, as the other wide tables do, not the whole page."""
    content = client_as(personas.data_manager_a).get(DETAILS).content.decode()
    _, around = element(content, id="id_type-0")
    regions = [attrs for tag, attrs in around if attrs.get("role") == "region"]
    assert regions == [
        {"class": "app-table-scroll app-table-scroll--wrap", "role": "region",
         "aria-label": "Fields", "tabindex": "0"}
    ]  # fmt: skip


# A single checkbox (includes/govuk_field.html)


class _Agreement(forms.Form):
    agree = forms.BooleanField(
        label="I agree", help_text="You can change this later.",
        error_messages={"required": "Agree to go on"},
    )  # fmt: skip
    plain = forms.BooleanField(label="No hint", error_messages={"required": "Tick it"})


@pytest.mark.parametrize(
    ("name", "data", "described"),
    [
        ("agree", {}, ["id_agree-hint", "id_agree-error"]),
        ("agree", {"agree": "1", "plain": "1"}, ["id_agree-hint"]),
        ("plain", {}, ["id_plain-error"]),
        ("plain", {"agree": "1", "plain": "1"}, []),
    ],
)
def test_a_checkbox_is_described_by_its_hint_and_its_error(name, data, described):
    form = _Agreement(data)
    form.is_valid()
    content = render_to_string("includes/govuk_field.html", {"field": form[name]})
    checkbox, _ = element(content, id=f"id_{name}")
    assert described_by(checkbox) == described
    for id_ in described:
        assert id_ in ids(content)
    if not described:
        assert "aria-describedby" not in checkbox
