"""A dataset's sources on its pages: a data manager adds one (the kind of service, then its
settings, column mapping and schedule), loads it at once, changes it and removes it; every bad
answer is an error beside its input and saves nothing; only the dataset's data managers get
there. The load itself runs as the task queue's job body against a local HTTP server."""

import html
import json
import re
from datetime import UTC

import pytest

from infraplan.accounts.models import Membership, Role, User
from infraplan.audit.models import AuditEntry
from infraplan.catalogue.store import current_features
from infraplan.connectors.models import IngestRun, RunState, Source
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.connectors.sources import source_save
from infraplan.connectors.tests.servers import replay_server
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db(transaction=True)

LAYER = "https://maps.example.org/arcgis/rest/services/Planning/Sites/FeatureServer/0"
GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"REF": f"S{n}", "UNITS": float(n * 10), "NAME": f"Site {n}"},
     "geometry": {"type": "Point", "coordinates": [1.0789 + n / 1000, 51.2802]}}
    for n in range(1, 4)
]}).encode()  # fmt: skip


@pytest.fixture
def sites(personas):
    return dataset_make(
        slug="sites", owner=personas.organisation_a, access_level="organisations",
        field_schema=[{"name": "status", "type": "string", "title": "Status"},
                      {"name": "homes", "type": "integer", "title": "Homes"}],
    )  # fmt: skip


@pytest.fixture
def server(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.OUTBOUND_PRIVATE_HOSTS = ["127.0.0.1"]
    with replay_server(lambda path, query: (200, "application/geo+json", GEOJSON)) as replay:
        yield replay.url


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def arcgis_form(**fields) -> dict:
    return {
        "url": LAYER, "where": "1=1", "page_size": "1000", "organisation": "org-a",
        "reference": "REF", "threshold": "5", "schedule": "weekly", "cron": "", "enabled": "1",
        **fields,
    }  # fmt: skip


def test_the_kind_of_service_is_chosen_first(sites, personas, client_as):
    manager = client_as(personas.data_manager_a)
    page = text(manager.get("/datasets/sites/"))
    assert "Add a source" in page
    choice = text(manager.get("/datasets/sites/sources/new/"))
    for title in ("ArcGIS REST layer", "WFS 2.0", "OGC API - Features", "planning.data.gov.uk",
                  "File at an address"):  # fmt: skip
        assert title in choice
    # An uploaded file is loaded once, from the upload page: it is not a source to set up here.
    assert "File upload" not in choice and "upload it" in choice
    assert "Choose one of the kinds of service listed" in text(
        manager.get("/datasets/sites/sources/new/?connector=upload")
    )
    assert "Choose the kind of service the data comes from" in text(
        manager.get("/datasets/sites/sources/new/?connector=")
    )
    form = text(manager.get("/datasets/sites/sources/new/?connector=arcgis"))
    assert "Add a source: ArcGIS REST layer" in form and "Layer address" in form


def test_an_unchosen_kind_of_service_is_announced_with_its_radios(sites, personas, client_as):
    """As GOV.UK's radios: the error message has an id and the fieldset is described by it, so
    a screen reader announces the error on entering the radios."""
    response = client_as(personas.data_manager_a).get(
        "/datasets/sites/sources/new/", {"chosen": "1"}
    )
    content = response.content.decode()

    (fieldset,) = re.findall(r"<fieldset [^>]*>", content)
    described_by = re.search(r'aria-describedby="([^"]*)"', fieldset)
    assert described_by and "id_connector-error" in described_by[1].split()
    error = re.search(r'<p class="govuk-error-message" id="id_connector-error">(.*?)</p>', content)
    assert error and "Choose the kind of service the data comes from" in error[1]
    assert content.count('id="id_connector-error"') == 1


def test_a_source_with_a_mapping_is_saved_loaded_and_refreshed_as_mapped(
    sites, personas, client_as, server
):
    manager = client_as(personas.data_manager_a)
    response = manager.post(
        "/datasets/sites/sources/new/?connector=url",
        {
            "url": f"{server}/sites.geojson", "layer": "", "organisation": "org-a",
            "reference": "REF", "threshold": "2.5", "schedule": "weekly", "enabled": "1",
            "column-0-source": "UNITS", "column-0-field": "homes",
            "column-1-source": "NAME", "column-1-field": "name", "column-1-type": "",
            "column-2-source": "REF", "column-2-type": "string",
            "constant-0-field": "status", "constant-0-value": "Allocated",
            "then": "load",
        },
    )  # fmt: skip
    source = Source.objects.get()
    run = IngestRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/datasets/sites/runs/{run.pk}/"
    assert run.source == source and run.requested_by == personas.data_manager_a
    assert source.organisation == personas.organisation_a and source.enabled
    assert source.config == {"url": f"{server}/sites.geojson", "layer": None,
                              "batch_size": 50_000}  # fmt: skip
    assert source.mapping == {
        "reference": "REF", "rename": {"UNITS": "homes", "NAME": "name"},
        "constants": {"status": "Allocated"}, "casts": {"REF": "string"},
        "max_invalid_share": 0.025, "allow_large_removal": False, "outside_areas_left_out": False,
    }  # fmt: skip
    # Weekly: Mondays at 2am UTC.
    assert source.schedule == "weekly"
    assert source.next_run_at.astimezone(UTC).weekday() == 0
    assert source.next_run_at.astimezone(UTC).hour == 2
    assert AuditEntry.objects.filter(action="source.create", target_id=str(source.pk)).exists()

    assert ingest_run_execute(run.pk).state == RunState.PUBLISHED
    properties = {feature.reference: feature.properties for feature in current_features(sites)}
    # The schema's integer field reads the source's doubles as whole numbers.
    assert properties["S2"] == {"REF": "S2", "homes": 20, "name": "Site 2", "status": "Allocated"}
    page = text(manager.get("/datasets/sites/"))
    assert "File at an address for Organisation A" in page and "Published" in page
    assert "Every week, on Mondays at 2am (UTC)" in page  # the schedule as the form named it


def test_bad_answers_are_errors_beside_their_inputs_and_save_nothing(sites, personas, client_as):
    manager = client_as(personas.data_manager_a)

    def errors(connector: str, data: dict) -> str:
        page = text(manager.post(f"/datasets/sites/sources/new/?connector={connector}", data))
        assert page.startswith(" Error: ") or "There is a problem" in page
        return page

    page = errors("arcgis", arcgis_form(url="https://maps.example.org/rest/services/Sites"))
    assert "Layer address: The layer address must be a layer's address ending in " \
           "/FeatureServer/<number> or /MapServer/<number>" in page  # fmt: skip
    page = errors("arcgis", arcgis_form(page_size="0", reference=""))
    assert "The features per request must be 1 or more" in page
    assert "Enter the name of the column holding each reference" in page
    page = errors("arcgis", arcgis_form(url="", threshold="120"))
    assert "Enter the layer address" in page
    assert "The rejection threshold must be 100 or less" in page
    page = errors("arcgis", arcgis_form(schedule="cron", cron=""))
    assert "Enter the cron expression, such as 30 6 * * 1-5" in page
    page = errors("arcgis", arcgis_form(schedule="cron", cron="every tuesday"))
    assert "'every tuesday' is not a schedule" in page
    page = errors("ogcapi", {**arcgis_form(url="https://example.org/collections/sites"),
                             "bbox": "0.6, 50.9, 1.5", "limit": "100"})  # fmt: skip
    assert "Area (optional): Enter 4 numbers separated by commas" in page
    for bbox in ["nan, nan, nan, nan", "0, 51, inf, 52", "1e309, 51, 1, 52"]:
        page = errors("ogcapi", {**arcgis_form(url="https://example.org/collections/sites"),
                                 "bbox": bbox, "limit": "100"})  # fmt: skip
        assert "Area (optional): Enter 4 numbers separated by commas" in page
    page = errors("ogcapi", {**arcgis_form(url="https://example.org/collections/sites"),
                             "bbox": "10, 10, 0, 0", "limit": "100"})  # fmt: skip
    assert (
        "Area (optional): The area must give west, south, east, north in that order (west "
        "less than east, south less than north)"
    ) in page
    page = errors("arcgis", arcgis_form(schedule="cron", cron="0 0 31 2 *"))
    assert "Cron expression: '0 0 31 2 *' never runs: none of the months" in page
    page = errors("url", arcgis_form(url="https://example.org:99999/sites.csv"))
    assert (
        "File address: The file address is not a valid address (port out of range 0-65535)"
    ) in page
    page = errors("wfs", {**arcgis_form(url="https://example.org/wfs"), "type_names": "1 bad",
                          "page_size": "100"})  # fmt: skip
    assert "The feature type is not in the right form. As the service's capabilities name " \
           "it, such as planning:sites." in page  # fmt: skip
    # A coordinate system the platform does not know is refused when the source is saved, not
    # at its first load.
    for srs, message in [
        ("banana", "The coordinate system 'banana' is not one the platform knows"),
        ("EPSG:99999", "The coordinate system EPSG:99999 is not one the platform knows"),
    ]:
        page = errors("wfs", {**arcgis_form(url="https://example.org/wfs"),
                              "type_names": "planning:sites", "srs_name": srs,
                              "page_size": "100"})  # fmt: skip
        assert message in page, srs
        assert "ask for The coordinate" not in page  # a sentence of its own, not run into the label
    page = errors("ogcapi", {**arcgis_form(url="https://example.org/collections/sites"),
                             "crs": "EPSG:27700", "limit": "100"})  # fmt: skip
    assert "Write the coordinate system as a URI, such as http://www.opengis.net" in page
    assert "ask for Write" not in page
    page = errors("url", {**arcgis_form(url="https://example.org/sites.csv"),
                          "column-0-field": "name", "column-1-source": "UNITS",
                          "column-1-type": "number", "column-2-source": "UNITS",
                          "constant-0-value": "Allocated"})  # fmt: skip
    assert "Column 1 in the source: Enter the column's name in the source" in page
    assert "Column 3 in the source: UNITS is in the list twice" in page
    assert "Constant 1 field: Enter the field the value goes in" in page
    # A constant every row would fail with is the error of its own input, linked to it.
    response = manager.post(
        "/datasets/sites/sources/new/?connector=url",
        {**arcgis_form(url="https://example.org/sites.csv"),
         "constant-0-field": "homes", "constant-0-value": "ten"},
    )  # fmt: skip
    assert re.search(
        r'<a href="#id_constant-0-value">[^<]*The constant for homes: [^<]*whole number',
        response.content.decode(),
    )
    page = errors("url", {**arcgis_form(url="https://example.org/sites.csv"),
                          "column-0-source": "UNITS", "column-0-field": "homes",
                          "column-0-type": "number"})  # fmt: skip
    assert (
        "homes is a field of the dataset, read as whole number by its type there: choose as "
        "the source gives it, or first change the field's type on the dataset's details page"
    ) in page
    page = errors("url", {**arcgis_form(url="https://example.org/sites.csv"),
                          "constant-60-field": "status", "constant-60-value": "allocated"})  # fmt: skip
    assert (
        "A source maps at most 60 constants: the ones after constant 60 were not saved."
    ) in page
    assert not Source.objects.exists() and not IngestRun.objects.exists()


def test_changing_a_source_shows_what_it_has_and_keeps_the_settings_not_shown(
    sites, personas, client_as
):
    source = source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="arcgis",
        config={"url": LAYER, "where": "STATUS = 'A'", "format": "json"},
        mapping={"reference": "REF", "rename": {"UNITS": "homes"}, "casts": {"CODE": "string"},
                 "constants": {"status": "Allocated"}, "max_invalid_share": 0.1,
                 "allow_large_removal": True},
        organisation=personas.organisation_a, schedule="30 6 * * 1-5",
    )  # fmt: skip
    manager = client_as(personas.data_manager_a)
    url = f"/datasets/sites/sources/{source.pk}/"
    assert f'href="{url}"' in manager.get("/datasets/sites/").content.decode()
    page = manager.get(url).content.decode()
    assert "Change the source: ArcGIS REST layer" in page
    assert 'value="STATUS = &#x27;A&#x27;"' in page
    assert re.search(r'value="cron" checked', page) and 'value="30 6 * * 1-5"' in page
    assert 'name="column-0-source" type="text" spellcheck="false" value="UNITS"' in page
    assert 'name="column-1-source" type="text" spellcheck="false" value="CODE"' in page
    assert '<option value="string" selected>Text</option>' in page
    assert 'name="constant-0-value" type="text" spellcheck="false" value="Allocated"' in page
    assert re.search(r'name="threshold" type="[a-z]+" value="10"', page)
    assert re.search(r'name="large_removal" type="checkbox" value="1" checked', page)

    response = manager.post(url, {
        **arcgis_form(where="STATUS = 'B'", schedule="", enabled=""),
        "column-0-source": "UNITS", "column-0-field": "homes",
        "constant-0-field": "status", "constant-0-value": "Allocated",
    })  # fmt: skip
    assert response.status_code == 302 and response["Location"] == "/datasets/sites/#sources"
    source.refresh_from_db()
    # The ArcGIS format the page does not show is kept; the cast left out is gone.
    assert source.config == {"url": LAYER, "where": "STATUS = 'B'", "page_size": 1000,
                             "format": "json"}  # fmt: skip
    assert source.mapping["casts"] == {} and source.mapping["rename"] == {"UNITS": "homes"}
    assert not source.mapping.get("allow_large_removal")  # unticked
    assert source.schedule == "" and source.next_run_at is None and not source.enabled
    assert not IngestRun.objects.exists()
    entry = AuditEntry.objects.get(action="source.update", target_id=str(source.pk))
    assert entry.before["schedule"] == "30 6 * * 1-5" and entry.after["schedule"] == ""


def test_a_layer_on_a_host_not_allowed_is_the_address_fields_error(sites, personas, client_as):
    manager = client_as(personas.data_manager_a)
    response = manager.post(
        "/datasets/sites/sources/new/?connector=arcgis",
        arcgis_form(
            url="https://gis.kent-council.example.com/arcgis/rest/services/Sites/FeatureServer/0"
        ),
    )
    page = response.content.decode()
    assert response.status_code == 200 and not Source.objects.exists()
    assert (
        '<a href="#id_url">Layer address: gis.kent-council.example.com is not on this '
        "platform&#x27;s list of allowed data hosts"
    ) in page
    assert 'id="id_url-error"' in page


def test_a_second_source_for_the_same_part_is_refused(sites, personas, client_as):
    source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="arcgis",
        config={"url": LAYER}, mapping={"reference": "REF"}, organisation=personas.organisation_a,
    )  # fmt: skip
    page = text(
        client_as(personas.data_manager_a).post(
            "/datasets/sites/sources/new/?connector=arcgis", arcgis_form()
        )
    )
    assert "Organisation A's part of Sites already has a source: change that one." in page
    assert Source.objects.count() == 1


def test_removing_a_source_keeps_its_loads(sites, personas, client_as, server):
    source = source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="url",
        config={"url": f"{server}/sites.geojson"}, mapping={"reference": "REF"},
    )  # fmt: skip
    manager = client_as(personas.data_manager_a)
    manager.post(f"/datasets/sites/sources/{source.pk}/refresh/")
    run = ingest_run_execute(IngestRun.objects.get().pk)
    url = f"/datasets/sites/sources/{source.pk}/remove/"
    assert "Remove the source (file at an address)" in text(manager.get(url))
    response = manager.post(url)
    assert response["Location"] == "/datasets/sites/#sources"
    assert not Source.objects.exists()
    run.refresh_from_db()
    assert run.source is None and run.version.is_current
    assert current_features(sites).count() == 3
    entry = AuditEntry.objects.get(action="source.delete", target_id=str(source.pk))
    assert entry.before["connector_key"] == "url"


def test_only_the_datasets_data_managers_reach_its_source_pages(sites, personas, client_as):
    upload_source = source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="upload",
        config={"path": "/nowhere/sites.csv"}, mapping={"reference": "REF"},
    )  # fmt: skip
    remote = source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="arcgis",
        config={"url": LAYER}, mapping={"reference": "REF"}, organisation=personas.organisation_a,
    )  # fmt: skip
    paths = [
        "/datasets/sites/sources/new/", "/datasets/sites/sources/new/?connector=arcgis",
        f"/datasets/sites/sources/{remote.pk}/", f"/datasets/sites/sources/{remote.pk}/remove/",
    ]  # fmt: skip
    for persona in ("viewer_a", "contributor_a", "member_b"):
        client = client_as(getattr(personas, persona))
        for path in paths:
            assert client.get(path).status_code == 404, (persona, path)
            assert client.post(path, arcgis_form()).status_code == 404, (persona, path)
    manager = client_as(personas.data_manager_a)
    for path in paths:
        assert manager.get(path).status_code == 200, path
    # An upload's source has no settings to change: each file is uploaded.
    assert manager.get(f"/datasets/sites/sources/{upload_source.pk}/").status_code == 404
    # A source is found only under its own dataset.
    other = dataset_make(slug="other", owner=personas.organisation_a)
    assert manager.get(f"/datasets/{other.slug}/sources/{remote.pk}/").status_code == 404
    assert Source.objects.count() == 2
    assert remote.updated_at == Source.objects.get(pk=remote.pk).updated_at


def test_a_key_in_a_sources_address_is_never_shown_back(personas, client_as, settings):
    """An address may carry a key or a signature (``?sig=``, OS Data Hub's ``?key=``): the
    version's source, the load's error and the run page name its parameters, not their values,
    since the dataset's pages reach everyone who may see it (anyone, for a public one)."""
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.OUTBOUND_PRIVATE_HOSTS = ["127.0.0.1"]
    public = dataset_make(slug="public-sites", owner=personas.organisation_a)
    answers = [(200, "application/geo+json", GEOJSON), (403, "text/plain", b"Signature expired")]
    with replay_server(lambda path, query: answers[0]) as replay:
        source = source_save(
            actor=personas.data_manager_a, dataset=public, connector_key="url",
            config={"url": f"{replay.url}/sites.geojson?sv=2024&sig=Zm9vYmFy%2Bc2VjcmV0"},
            mapping={"reference": "REF"}, organisation=personas.organisation_a,
        )  # fmt: skip
        manager = client_as(personas.data_manager_a)
        for _ in answers:
            manager.post(f"/datasets/public-sites/sources/{source.pk}/refresh/")
            ingest_run_execute(IngestRun.objects.order_by("-pk").first().pk)
            answers.append(answers.pop(0))
    published, failed = IngestRun.objects.order_by("pk")
    assert (published.state, failed.state) == (RunState.PUBLISHED, RunState.FAILED)
    shown = f"{replay.url}/sites.geojson?sv=…&sig=…"
    assert published.version.source == shown
    assert failed.error == f"127.0.0.1 answered HTTP 403 for {shown}: Signature expired"
    pages = {
        "anonymous": ["/datasets/public-sites/", "/datasets/public-sites/versions/1/"],
        "data_manager_a": [f"/datasets/public-sites/runs/{failed.pk}/",
                           f"/datasets/public-sites/runs/{published.pk}/"],
    }  # fmt: skip
    for persona, paths in pages.items():
        client = client_as(getattr(personas, persona))
        for path in paths:
            page = text(client.get(path))
            assert shown in page, (persona, path)
            assert "Zm9vYmFy" not in page, (persona, path)


def test_changing_another_organisations_source_keeps_it_theirs(sites, personas, client_as):
    """Organisation A owns the dataset, B publishes its own part: A's data manager may change
    B's source (switch it off, say), and it stays B's, not moved onto A's part or the whole."""
    sites.contributing_organisations.add(personas.organisation_b)
    theirs = source_save(
        actor=None, dataset=sites, connector_key="arcgis", config={"url": LAYER},
        mapping={"reference": "REF"}, organisation=personas.organisation_b, schedule="daily",
    )  # fmt: skip
    manager = client_as(personas.data_manager_a)
    page = manager.get(f"/datasets/sites/sources/{theirs.pk}/").content.decode()
    assert re.search(r'<option value="org-b"[^>]*selected>Organisation B</option>', page)
    form = arcgis_form(organisation="org-b", schedule="daily", enabled="")
    response = manager.post(f"/datasets/sites/sources/{theirs.pk}/", form)
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.organisation == personas.organisation_b and not theirs.enabled
    # A new source is still for the manager's own part or the whole dataset.
    page = manager.get("/datasets/sites/sources/new/?connector=arcgis").content.decode()
    assert 'value="org-b"' not in page


def test_a_contributing_councils_data_manager_manages_its_own_parts_source(
    sites, personas, client_as
):
    """Organisation A owns the dataset and B contributes its own part: B's data manager adds,
    changes, refreshes and removes the source of B's part, and reaches no other source; B's
    viewers reach none."""
    sites.shared_with.add(personas.organisation_b)
    sites.contributing_organisations.add(personas.organisation_b)
    b_manager = data_manager_of(personas.organisation_b, "data-manager@b.example")
    ours = source_save(
        actor=None, dataset=sites, connector_key="arcgis", config={"url": LAYER},
        mapping={"reference": "REF"}, organisation=personas.organisation_a,
    )  # fmt: skip
    client = client_as(b_manager)
    page = text(client.get("/datasets/sites/"))
    assert "Add a source" in page
    form_page = client.get("/datasets/sites/sources/new/?connector=arcgis").content.decode()
    # Only B's own part is offered: not A's, nor the whole dataset.
    (organisations,) = re.findall(r'<select[^>]*name="organisation".*?</select>', form_page, re.S)
    assert re.findall(r'<option value="([^"]*)"', organisations) == ["org-b"]
    response = client.post("/datasets/sites/sources/new/?connector=arcgis",
                           arcgis_form(organisation="org-b"))  # fmt: skip
    assert response.status_code == 302
    theirs = Source.objects.get(organisation=personas.organisation_b)
    assert client.get(f"/datasets/sites/sources/{theirs.pk}/").status_code == 200
    refreshed = client.post(f"/datasets/sites/sources/{theirs.pk}/refresh/")
    assert refreshed.status_code == 302 and IngestRun.objects.get().source == theirs
    # Not A's part, nor a part of theirs loaded as the whole dataset.
    for path in (
        f"/datasets/sites/sources/{ours.pk}/",
        f"/datasets/sites/sources/{ours.pk}/remove/",
    ):
        assert client.get(path).status_code == 404
    assert client.post(f"/datasets/sites/sources/{ours.pk}/refresh/").status_code == 404
    refused = client.post("/datasets/sites/sources/new/?connector=arcgis",
                          arcgis_form(organisation="org-a"))  # fmt: skip
    assert refused.status_code == 200 and Source.objects.count() == 2
    assert client.post(f"/datasets/sites/sources/{theirs.pk}/remove/").status_code == 302
    assert not Source.objects.filter(pk=theirs.pk).exists()
    # B's viewer contributes nothing and manages nothing.
    assert client_as(personas.member_b).get("/datasets/sites/sources/new/").status_code == 404


def data_manager_of(organisation, email: str):
    """A data manager of ``organisation``."""
    user = User.objects.create_user(email=email, password="not-used-1234")
    Membership.objects.create(user=user, organisation=organisation, role=Role.DATA_MANAGER)
    return user


@pytest.mark.parametrize(
    ("key", "in_text"),
    [
        ("url", "file at an address"),
        ("upload", "file upload"),
        ("ogcapi", "OGC API - Features"),
        ("arcgis", "ArcGIS REST layer"),
        ("wfs", "WFS 2.0"),
        ("planning_data", "planning.data.gov.uk"),
    ],
)
def test_a_connectors_name_within_a_sentence_keeps_its_capitals(key, in_text):
    """Not "ogc api - features" or "arcgis rest layer", as lower case made them."""
    assert Source(connector_key=key).connector_title_in_text == in_text


def test_a_coordinate_system_named_by_its_ogc_uri_is_not_checked_as_an_address(
    sites, personas, settings
):
    """http://www.opengis.net/def/crs/... names a coordinate system; nothing fetches it."""
    settings.OUTBOUND_ALLOWED_HOSTS = ["services.example.org"]
    crs = "http://www.opengis.net/def/crs/EPSG/0/27700"
    source = source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="ogcapi",
        config={"url": "https://services.example.org/collections/sites", "crs": crs},
        mapping={"reference": "REF"},
    )  # fmt: skip
    assert source.config["crs"] == crs
