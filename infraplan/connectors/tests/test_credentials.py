"""A source's credentials, from the settings form to the secured service: an ArcGIS layer that
answers "Token Required" without its token and data with it, a file behind HTTP Basic, a
service that redirects to another server. The secret travels only in a header to the source's
own address, and is found in no column, run, audit entry, error, page or lineage; a key that
has changed, a refused token and a bad header each fail with a message saying what to do."""

import base64
import html
import json
import re

import pytest
from django.db import connection
from django.test import Client

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.store import current_features
from infraplan.connectors.credentials import EnteredCredentials
from infraplan.connectors.fetch import Credentials, fetch, origin
from infraplan.connectors.load_requests import ingest_request
from infraplan.connectors.models import IngestRun, RunState, Source
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.connectors.sources import source_save
from infraplan.connectors.tests.servers import json_answer, local_policy, replay_server
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "tok3n-Zq8vW1xY2-secret"
PASSWORD = "pa55-Hx7-secret"
LAYER = "/arcgis/rest/services/Planning/Sites/FeatureServer/0"
GEOJSON = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"REF": f"S{n}", "UNITS": n * 10},
     "geometry": {"type": "Point", "coordinates": [1.0789 + n / 1000, 51.2802]}}
    for n in range(1, 4)
]}  # fmt: skip
DESCRIPTION = {
    "currentVersion": 11.1, "type": "Feature Layer", "objectIdField": "OBJECTID",
    "maxRecordCount": 2, "supportedQueryFormats": "JSON, geoJSON",
    "fields": [{"name": "REF", "type": "esriFieldTypeString"}],
}  # fmt: skip


def secured_layer(path, query, headers):
    """An ArcGIS layer that answers only a request carrying its token, as ArcGIS Enterprise
    does: error 499 without one, 498 for a wrong one (both with HTTP 200)."""
    given = headers.get("X-Esri-Authorization")
    if given is None:
        return json_answer({"error": {"code": 499, "message": "Token Required", "details": []}})
    if given != f"Bearer {TOKEN}":
        return json_answer({"error": {"code": 498, "message": "Invalid token", "details": []}})
    if path == LAYER:
        return json_answer(DESCRIPTION)
    offset = int(query["resultOffset"])
    page = {**GEOJSON, "features": GEOJSON["features"][offset : offset + 2]}
    return json_answer({**page, "properties": {"exceededTransferLimit": offset == 0}})


def basic_protected(path, query, headers):
    expected = "Basic " + base64.b64encode(f"planner:{PASSWORD}".encode()).decode()
    if headers.get("Authorization") != expected:
        return (
            401,
            "text/plain",
            f"Wrong password, you sent {headers.get('Authorization')}".encode(),
        )
    return json_answer(GEOJSON, "application/geo+json")


@pytest.fixture
def sites(personas, settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1", "gis.example.org"]
    settings.OUTBOUND_PRIVATE_HOSTS = ["127.0.0.1"]
    return dataset_make(
        slug="sites", owner=personas.organisation_a, access_level="organisations",
        field_schema=[{"name": "homes", "type": "integer", "title": "Homes"}],
    )  # fmt: skip


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def arcgis_form(url: str, **fields) -> dict:
    return {
        "url": url, "where": "1=1", "page_size": "1000", "organisation": "org-a",
        "reference": "REF", "threshold": "5", "schedule": "", "cron": "", "enabled": "1",
        "credentials_kind": "none", **fields,
    }  # fmt: skip


def load(client, source) -> IngestRun:
    """Refresh ``source`` through its page and run the load as the task queue would."""
    client.post(f"/datasets/sites/sources/{source.pk}/refresh/")
    return ingest_run_execute(IngestRun.objects.order_by("-pk").first().pk)


def rows_holding(secret: str) -> list[str]:
    """Every row of the tables a source, its loads and their audit touch that holds
    ``secret``, read raw."""
    found = []
    with connection.cursor() as cursor:
        for table in ("connectors_source", "connectors_ingestrun", "audit_auditentry",
                      "catalogue_datasetversion"):  # fmt: skip
            cursor.execute(f"SELECT row_to_json(t)::text FROM {table} t")
            found += [f"{table}: {row}" for (row,) in cursor.fetchall() if secret in row]
    return found


def test_a_secured_arcgis_layer_loads_with_its_saved_token_and_fails_clearly_without(
    sites, personas, client_as
):
    manager = client_as(personas.data_manager_a)
    with replay_server(secured_layer, with_headers=True) as replay:
        response = manager.post(
            "/datasets/sites/sources/new/?connector=arcgis",
            arcgis_form(f"{replay.url}{LAYER}", credentials_kind="arcgis_token",
                        credentials_token=f"  {TOKEN}\n", then="load"),
        )  # fmt: skip
        assert response.status_code == 302, text(response)
        published = ingest_run_execute(IngestRun.objects.get().pk)
        sent = [headers.get("X-Esri-Authorization") for headers in replay.headers]
        # The description and both pages, each with the token, and never in an address.
        assert published.state == RunState.PUBLISHED, published.error
        assert current_features(sites).count() == 3
        assert len(sent) == 3 and set(sent) == {f"Bearer {TOKEN}"}
        assert not any(TOKEN in json.dumps(query) for _, query in replay.requests)

        source = Source.objects.get()
        form = arcgis_form(f"{replay.url}{LAYER}", credentials_kind="arcgis_token")
        assert manager.post(f"/datasets/sites/sources/{source.pk}/", form).status_code == 302
        kept = load(manager, source)  # saved without a new token: the saved one is kept
        assert kept.state == RunState.PUBLISHED, kept.error

        removed = {**form, "credentials_remove": "1"}
        assert manager.post(f"/datasets/sites/sources/{source.pk}/", removed).status_code == 302
        without = load(manager, source)
    assert without.state == RunState.FAILED and not without.temporary
    assert without.error == (
        "The ArcGIS layer is secured (error 499: Token Required) (the layer's description): add "
        "an ArcGIS token on the source's settings (Credentials), and the platform sends it with "
        "every request."
    )
    actions = AuditEntry.objects.filter(action="source.credentials", target_id=str(source.pk))
    assert [entry.after for entry in actions.order_by("pk")] == [
        {"credentials": "set", "kind": "ArcGIS token"},
        {"credentials": "removed", "kind": "ArcGIS token"},
    ]
    assert rows_holding(TOKEN) == []


def test_the_token_is_in_no_column_audit_entry_run_or_page(sites, personas, client_as):
    manager = client_as(personas.data_manager_a)
    with replay_server(secured_layer, with_headers=True) as replay:
        manager.post(
            "/datasets/sites/sources/new/?connector=arcgis",
            arcgis_form(f"{replay.url}{LAYER}", credentials_kind="arcgis_token",
                        credentials_token=TOKEN),
        )  # fmt: skip
        source = Source.objects.get()
        run = load(manager, source)
        # Replaced by another token, which the service refuses.
        manager.post(
            f"/datasets/sites/sources/{source.pk}/",
            arcgis_form(f"{replay.url}{LAYER}", credentials_kind="arcgis_token",
                        credentials_token="expired-9f8e7d"),
        )  # fmt: skip
        refused = load(manager, source)
    assert run.state == RunState.PUBLISHED
    assert refused.state == RunState.FAILED and not refused.temporary
    assert refused.error == (
        "The ArcGIS server refused the request (error 498: Invalid token) (the layer's "
        "description). The service refused the credentials saved on the source of Sites "
        "(Organisation A's part): they may be wrong or have expired. Enter them again on the "
        "source's settings."
    )
    source.refresh_from_db()
    assert source.credentials_encrypted and source.config == {
        "url": f"{replay.url}{LAYER}", "where": "1=1", "page_size": 1000, "format": None,
    }  # fmt: skip
    assert run.config == source.config
    for secret in (TOKEN, "expired-9f8e7d"):
        assert rows_holding(secret) == [], secret
    entries = AuditEntry.objects.filter(action="source.credentials").order_by("pk")
    assert [entry.after["credentials"] for entry in entries] == ["set", "changed"]
    settings_page = manager.get(f"/datasets/sites/sources/{source.pk}/").content.decode()
    shown = text(manager.get(f"/datasets/sites/sources/{source.pk}/"))
    assert "Saved credentials: ArcGIS token (entered " in shown
    assert f"by {personas.data_manager_a.get_full_name()})." in shown
    # The inputs start empty, and a browser is told not to fill them with a sign-in password.
    assert re.search(r'<input [^>]*name="credentials_token" type="password" autocomplete="new-password"',
                     settings_page)  # fmt: skip
    for path in (f"/datasets/sites/sources/{source.pk}/", f"/datasets/sites/runs/{run.pk}/",
                 f"/datasets/sites/runs/{refused.pk}/", "/datasets/sites/"):  # fmt: skip
        page = manager.get(path).content.decode()
        assert TOKEN not in page and "expired-9f8e7d" not in page, path


def test_a_file_behind_a_password_loads_and_a_wrong_one_is_refused_without_echoing_it(
    sites, personas, client_as
):
    manager = client_as(personas.data_manager_a)
    with replay_server(basic_protected, with_headers=True) as replay:
        source = source_save(
            actor=personas.data_manager_a, dataset=sites, connector_key="url",
            config={"url": f"{replay.url}/sites.geojson"}, mapping={"reference": "REF"},
            organisation=personas.organisation_a,
            credentials=EnteredCredentials("basic", {"username": "planner", "password": PASSWORD}),
        )  # fmt: skip
        published = load(manager, source)
        source_save(
            actor=personas.data_manager_a, dataset=sites, connector_key="url",
            config=source.config, mapping=source.mapping, organisation=personas.organisation_a,
            source=source,
            credentials=EnteredCredentials("basic", {"username": "planner", "password": "nope-1234"}),
        )  # fmt: skip
        refused = load(manager, source)
    assert published.state == RunState.PUBLISHED, published.error
    assert refused.state == RunState.FAILED and not refused.temporary
    # The server's answer quoted the header it was sent: the message has it taken out.
    assert refused.error.startswith("127.0.0.1 answered HTTP 401 for ")
    assert "Wrong password, you sent … The service refused the credentials saved on " in (
        refused.error
    )
    wrong = base64.b64encode(b"planner:nope-1234").decode()
    assert wrong not in refused.error and "nope-1234" not in refused.error


def test_a_redirect_to_another_server_does_not_carry_the_credentials(sites, personas):
    with (
        replay_server(lambda path, query: json_answer(GEOJSON, "application/geo+json")) as other,
        replay_server(
            lambda path, query: (302, "text/plain", b"", {"Location": f"{other.url}/sites.geojson"})
        ) as first,
    ):
        secret = {"X-API-Key": TOKEN}
        result = fetch(
            f"{first.url}/sites.geojson", policy=local_policy(),
            credentials=Credentials(origin=origin(first.url), headers=secret),
        )  # fmt: skip
        assert result.url == f"{other.url}/sites.geojson"
        assert first.headers[0]["X-API-Key"] == TOKEN
        assert "X-API-Key" not in other.headers[0]

        # Through a saved source's load, with HTTP Basic: the same.
        source = source_save(
            actor=personas.data_manager_a, dataset=sites, connector_key="url",
            config={"url": f"{first.url}/sites.geojson"}, mapping={"reference": "REF"},
            organisation=personas.organisation_a,
            credentials=EnteredCredentials("basic", {"username": "planner", "password": PASSWORD}),
        )  # fmt: skip
        run = ingest_request(
            actor=personas.data_manager_a, dataset=sites, connector_key="url",
            config=source.config, mapping=source.mapping, organisation=personas.organisation_a,
            source=source,
        )  # fmt: skip
        assert ingest_run_execute(run.pk).state == RunState.PUBLISHED
    assert first.headers[-1]["Authorization"].startswith("Basic ")
    assert [h for h in other.headers if "Authorization" in h or "X-Esri-Authorization" in h] == []


def test_a_load_that_is_no_sources_sends_no_credentials(sites, personas):
    """The command line's load of the same address (a run without a source) sends nothing."""
    with replay_server(basic_protected, with_headers=True) as replay:
        source_save(
            actor=personas.data_manager_a, dataset=sites, connector_key="url",
            config={"url": f"{replay.url}/sites.geojson"}, mapping={"reference": "REF"},
            organisation=personas.organisation_a,
            credentials=EnteredCredentials("basic", {"username": "planner", "password": PASSWORD}),
        )  # fmt: skip
        run = ingest_request(
            actor=None, dataset=sites, connector_key="url",
            config={"url": f"{replay.url}/sites.geojson"}, mapping={"reference": "REF"},
            organisation=personas.organisation_a, queue=False,
        )  # fmt: skip
        assert ingest_run_execute(run.pk).state == RunState.FAILED
    assert "Authorization" not in replay.headers[0]


def test_a_changed_key_asks_for_the_credentials_again(sites, personas, client_as, settings):
    with replay_server(secured_layer, with_headers=True) as replay:
        source = source_save(
            actor=personas.data_manager_a, dataset=sites, connector_key="arcgis",
            config={"url": f"{replay.url}{LAYER}"}, mapping={"reference": "REF"},
            organisation=personas.organisation_a,
            credentials=EnteredCredentials("arcgis_token", {"token": TOKEN}),
        )  # fmt: skip
        settings.SECRET_KEY = "another-key-" + "x" * 50
        run = ingest_request(
            actor=None, dataset=sites, connector_key="arcgis", config=source.config,
            mapping=source.mapping, organisation=personas.organisation_a, source=source,
        )  # fmt: skip
        failed = ingest_run_execute(run.pk)
        assert replay.requests == []  # nothing was sent without them
    assert failed.state == RunState.FAILED and not failed.temporary
    assert failed.error == (
        "The credentials saved on the source of Sites (Organisation A's part) can no longer be "
        "read: the platform's secret key has changed since they were entered. Enter them again "
        "on the source's settings."
    )


def test_a_rotated_key_kept_as_a_fallback_still_opens_them(sites, personas, settings):
    with replay_server(secured_layer, with_headers=True) as replay:
        source = source_save(
            actor=None, dataset=sites, connector_key="arcgis",
            config={"url": f"{replay.url}{LAYER}"}, mapping={"reference": "REF"},
            organisation=personas.organisation_a,
            credentials=EnteredCredentials("arcgis_token", {"token": TOKEN}),
        )  # fmt: skip
        settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
        settings.SECRET_KEY = "the-new-key-" + "y" * 50
        run = ingest_request(
            actor=None, dataset=sites, connector_key="arcgis", config=source.config,
            mapping=source.mapping, organisation=personas.organisation_a, source=source,
        )  # fmt: skip
        assert ingest_run_execute(run.pk).state == RunState.PUBLISHED


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"credentials_header_name": "X API Key", "credentials_header_value": "k-123"},
         "credentials_header_name", "The header name must be letters, digits and -"),
        ({"credentials_header_name": "Host", "credentials_header_value": "k-123"},
         "credentials_header_name", "The platform sets the Host header itself"),
        ({"credentials_header_name": "Transfer-Encoding", "credentials_header_value": "k-1"},
         "credentials_header_name", "The platform sets the Transfer-Encoding header itself"),
        ({"credentials_header_name": "X-API-Key", "credentials_header_value": "k\r\nX-Evil: 1"},
         "credentials_header_value", "The header value must be on one line"),
        ({"credentials_header_name": "X-API-Key", "credentials_header_value": "x" * 4097},
         "credentials_header_value", "The header value must be 4,096 characters or fewer"),
        ({"credentials_header_name": "X-API-Key"},
         "credentials_header_value", "Enter the header value"),
    ],
)  # fmt: skip
def test_a_bad_header_is_an_error_beside_its_input_and_saves_nothing(
    sites, personas, client_as, fields, field, message
):
    response = client_as(personas.data_manager_a).post(
        "/datasets/sites/sources/new/?connector=arcgis",
        arcgis_form(f"https://gis.example.org{LAYER}", credentials_kind="header", **fields),
    )
    content = response.content.decode()
    error = re.search(rf'<p class="govuk-error-message" id="id_{field}-error">(.*?)</p>', content)
    assert error and message in html.unescape(error[1]), content
    label = {"credentials_header_name": "Header name", "credentials_header_value": "Header value"}
    assert f'<a href="#id_{field}">{label[field]}: ' in content  # the summary names the input
    assert not Source.objects.exists()
    assert "k-123" not in content and "X-Evil" not in content


def test_credentials_are_refused_for_a_plain_http_address_and_a_kind_the_service_does_not_take(
    sites, personas, client_as
):
    manager = client_as(personas.data_manager_a)
    response = manager.post(
        "/datasets/sites/sources/new/?connector=arcgis",
        arcgis_form(f"http://gis.example.org{LAYER}", credentials_kind="arcgis_token",
                    credentials_token=TOKEN),
    )  # fmt: skip
    page = text(response)
    assert "Credentials are sent only to an https address: over http they would travel in " in page
    assert TOKEN not in response.content.decode() and not Source.objects.exists()
    # An https address takes them; a WFS takes no ArcGIS token (not even offered).
    https = arcgis_form(f"https://gis.example.org{LAYER}", credentials_kind="arcgis_token",
                        credentials_token=TOKEN)  # fmt: skip
    assert manager.post("/datasets/sites/sources/new/?connector=arcgis", https).status_code == 302
    wfs = text(manager.get("/datasets/sites/sources/new/?connector=wfs"))
    assert "User name and password" in wfs and "ArcGIS token" not in wfs
    # Changing the saved source's address to http, keeping its token, is refused too.
    source = Source.objects.get()
    back = arcgis_form(f"http://gis.example.org{LAYER}", credentials_kind="arcgis_token")
    assert "Credentials are sent only to an https address" in text(
        manager.post(f"/datasets/sites/sources/{source.pk}/", back)
    )
    source.refresh_from_db()
    assert source.config["url"].startswith("https://")


def test_saved_credentials_never_follow_the_address_to_another_server(
    sites, personas, client_as, settings
):
    """A colleague (or a slip) pointing the source at another server does not take the saved
    token with it: the change is refused until the credentials are entered again or removed."""
    settings.OUTBOUND_ALLOWED_HOSTS = [*settings.OUTBOUND_ALLOWED_HOSTS, "collector.example.net"]
    source = source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="arcgis",
        config={"url": f"https://gis.example.org{LAYER}"}, mapping={"reference": "REF"},
        organisation=personas.organisation_a,
        credentials=EnteredCredentials("arcgis_token", {"token": TOKEN}),
    )  # fmt: skip
    manager = client_as(personas.data_manager_a)
    elsewhere = f"https://collector.example.net{LAYER}"
    page = text(manager.post(f"/datasets/sites/sources/{source.pk}/",
                             arcgis_form(elsewhere, credentials_kind="arcgis_token")))  # fmt: skip
    assert (
        "The saved credentials were entered for https://gis.example.org:443, not "
        "https://collector.example.net:443: enter them again for the new address" in page
    )
    source.refresh_from_db()
    assert source.config["url"] == f"https://gis.example.org{LAYER}"
    # The same server, another layer: the token stays with it.
    other_layer = f"https://gis.example.org{LAYER.replace('/0', '/1')}"
    response = manager.post(f"/datasets/sites/sources/{source.pk}/",
                            arcgis_form(other_layer, credentials_kind="arcgis_token"))  # fmt: skip
    assert response.status_code == 302, text(response)
    source.refresh_from_db()
    assert source.config["url"] == other_layer and source.credentials_kind == "arcgis_token"
    # Entered again for the new server, the change is saved.
    again = arcgis_form(elsewhere, credentials_kind="arcgis_token", credentials_token="new-1")
    assert manager.post(f"/datasets/sites/sources/{source.pk}/", again).status_code == 302
    source.refresh_from_db()
    assert source.config["url"] == elsewhere


def test_choosing_none_over_saved_credentials_asks_for_the_remove_box(sites, personas, client_as):
    source = source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="arcgis",
        config={"url": f"https://gis.example.org{LAYER}"}, mapping={"reference": "REF"},
        organisation=personas.organisation_a,
        credentials=EnteredCredentials("arcgis_token", {"token": TOKEN}),
    )  # fmt: skip
    manager = client_as(personas.data_manager_a)
    page = text(manager.post(f"/datasets/sites/sources/{source.pk}/",
                             arcgis_form(f"https://gis.example.org{LAYER}")))  # fmt: skip
    assert "To send the service no credentials, tick “Remove the saved credentials”" in page
    both = arcgis_form(f"https://gis.example.org{LAYER}", credentials_kind="arcgis_token",
                       credentials_token="new-one-123", credentials_remove="1")  # fmt: skip
    page = text(manager.post(f"/datasets/sites/sources/{source.pk}/", both))
    assert "Either remove the saved credentials or enter new ones, not both" in page
    assert Source.objects.get().credentials_kind == "arcgis_token"


def test_only_those_who_change_the_source_set_its_credentials(sites, personas, client_as):
    public = dataset_make(slug="public-sites", owner=personas.organisation_a)
    source = source_save(
        actor=personas.data_manager_a, dataset=public, connector_key="arcgis",
        config={"url": f"https://gis.example.org{LAYER}"}, mapping={"reference": "REF"},
        organisation=personas.organisation_a,
    )  # fmt: skip
    form = arcgis_form(f"https://gis.example.org{LAYER}", credentials_kind="arcgis_token",
                       credentials_token=TOKEN)  # fmt: skip
    path = f"/datasets/public-sites/sources/{source.pk}/"
    for persona in ("anonymous", "viewer_a", "contributor_a", "member_b"):
        response = client_as(getattr(personas, persona)).post(path, form)
        assert response.status_code in (302, 404), (persona, response.status_code)
        assert response.status_code == 404 or "login" in response["Location"], persona
    # The data manager's own browser, without the form's CSRF token: refused.
    forged = Client(enforce_csrf_checks=True)
    forged.force_login(personas.data_manager_a)
    assert forged.post(path, form).status_code == 403
    assert Source.objects.get().credentials_encrypted == ""
    assert not AuditEntry.objects.filter(action="source.credentials").exists()
