"""National designations: the profile's planning.data.gov.uk datasets, checked at start-up, set
up switched off by the sync without a network, and switched on by a platform admin with one
button: a weekly refresh and a first load, which publishes (a local server answering as the
entity search does stands in for planning.data.gov.uk through the outbound fetch policy)."""

from io import StringIO
from pathlib import Path

import pytest
import shapely
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from infraplan.accounts.services import organisations_sync_from_profile
from infraplan.audit.models import AuditEntry
from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.models import Dataset, Theme
from infraplan.catalogue.store import current_features
from infraplan.connectors.base import ConnectorError
from infraplan.connectors.models import IngestRun, RunState, Source
from infraplan.connectors.national import national_source_enable, national_sources_sync
from infraplan.connectors.planning_data.tests.test_planning_data import entity
from infraplan.connectors.registry import connector_config, connector_for
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.connectors.tests.servers import json_answer, replay_server
from infraplan.core.profile import THEMES, load_profile
from infraplan.core.testing.data import demo_dataset_load

PROFILE = Path(settings.BASE_DIR) / "profiles" / "kent-medway.toml"
NATIONAL = [
    "green-belt", "area-of-outstanding-natural-beauty", "site-of-special-scientific-interest",
    "special-area-of-conservation", "special-protection-area", "ramsar", "flood-risk-zone",
    "ancient-woodland", "conservation-area", "listed-building", "scheduled-monument",
]  # fmt: skip
KENT = "POLYGON((0.03 50.91,1.45 50.91,1.45 51.49,0.03 51.49,0.03 50.91))"


def test_the_kent_profile_lists_the_national_designations():
    national = settings.AUTHORITY_PROFILE.national
    assert national.owner == "kent-county-council"
    assert [spec.dataset for spec in national.datasets] == NATIONAL
    for spec in national.datasets:
        assert spec.licence == "Open Government Licence v3.0"
        assert "planning.data.gov.uk" in spec.attribution
        assert spec.style, spec.slug
    dense = {spec.dataset: spec.min_zoom for spec in national.datasets}
    assert dense["listed-building"] >= 12 and dense["flood-risk-zone"] >= 10
    # The profile's themes are the catalogue's (settings cannot import the models).
    assert set(THEMES.__args__) == set(Theme.values)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('theme = "flood"', 'theme = "floods"', "national.datasets.6.theme: Input should be"),
        ('colour = "#507d2a"', 'colour = "#c8e6a0"',
         "national.datasets.0: Value error, style: #c8e6a0 has contrast 1.37:1 on the map's "
         "white; WCAG 2.2 AA needs 3:1"),
        ('field = "listed-building-grade"', 'field = "grade"',
         "national.datasets.9: Value error, style: field: 'grade' is not one of the dataset's "
         "fields"),
        ('slug = "national-sac"', 'slug = "national-sssi"',
         "national: Value error, datasets: each slug must appear once"),
        ('owner = "kent-county-council"', 'owner = "kent"',
         "national.owner: kent is not one of the organisations"),
        ('min_zoom = 13', 'min_zoom = 23', "national.datasets.9.min_zoom: Input should be less"),
        ('dataset = "ramsar"', 'dataset = "Ramsar sites"', "national.datasets.5.dataset: String"),
    ],
)  # fmt: skip
def test_a_bad_national_entry_is_named(tmp_path, old, new, message):
    text = PROFILE.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "profile.toml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ImproperlyConfigured) as raised:
        load_profile(bad)
    assert message in str(raised.value)


@pytest.mark.django_db
def test_the_sync_sets_them_up_switched_off_and_is_idempotent(settings):
    # Listed, switched off, even on a platform that may not fetch from planning.data.gov.uk.
    settings.OUTBOUND_ALLOWED_HOSTS = []
    organisations_sync_from_profile(actor=None)
    out = StringIO()
    call_command("sync_profile", stdout=out)
    assert "11 national datasets in step with the profile (0 switched on)." in out.getvalue()
    sources = Source.objects.select_related("dataset", "dataset__owner").order_by("pk")
    assert len(sources) == 11
    by_dataset = {source.config["dataset"]: source for source in sources}
    assert list(by_dataset) == NATIONAL
    for source in sources:
        assert source.connector_key == "planning_data"
        assert not source.enabled and source.schedule == "" and source.next_run_at is None
        assert source.config["service"] == "https://www.planning.data.gov.uk"
        # National publishers cover England: only what meets Kent's bounds is asked for.
        assert source.config["geometry_relation"] == "intersects"
        assert shapely.from_wkt(source.config["geometry"]).equals(shapely.from_wkt(KENT))
        assert source.mapping["reference"] == "entity"
        assert source.dataset.owner.slug == "kent-county-council"
        assert source.dataset.access_level == "public"
        assert source.dataset.current_version is None  # nothing fetched
    flood = by_dataset["flood-risk-zone"].dataset
    assert (flood.slug, flood.theme, flood.min_zoom) == ("national-flood-risk-zones", "flood", 10)
    assert flood.style["field"] == "flood-risk-level"
    assert "flood-risk-level" in [field["name"] for field in flood.field_schema]
    assert IngestRun.objects.count() == 0
    audited = AuditEntry.objects.filter(action__in=["dataset.create", "source.create"]).count()
    assert audited == 22

    # Again: nothing written. A source a platform admin switched on stays on.
    Source.objects.filter(pk=by_dataset["ramsar"].pk).update(
        enabled=True, schedule="weekly", next_run_at=timezone.now()
    )
    entries = AuditEntry.objects.count()
    assert len(national_sources_sync(actor=None)) == 11
    assert AuditEntry.objects.count() == entries
    assert Source.objects.count() == 11 and Dataset.objects.filter(slug__startswith="national-")
    assert Source.objects.get(pk=by_dataset["ramsar"].pk).enabled


@pytest.mark.django_db
def test_a_national_dataset_not_switched_on_says_how_it_is_loaded(personas, client_as):
    """Its page said "Not published yet" and "Update frequency: Weekly", and nothing else."""
    organisations_sync_from_profile(actor=None)
    national_sources_sync(actor=None)
    url = "/datasets/national-flood-risk-zones/"
    told = "It is loaded from planning.data.gov.uk, weekly, once a platform admin switches"
    officer = client_as(None).get(url).content.decode()
    assert told in officer and "/datasets/national/" not in officer
    assert (
        'href="/datasets/national/"' in client_as(personas.platform_admin).get(url).content.decode()
    )
    Source.objects.filter(dataset__slug="national-flood-risk-zones").update(enabled=True)
    assert told not in client_as(None).get(url).content.decode()


@pytest.mark.django_db
def test_the_sync_needs_the_owner_first():
    with pytest.raises(ImproperlyConfigured, match=r"national\.owner 'kent-county-council' has no"):
        national_sources_sync(actor=None)
    assert not Source.objects.exists() and not Dataset.objects.exists()


def ramsar_search(requests_seen: list):
    """The entity search for the Ramsar dataset within an area: two sites in Kent."""

    def route(path: str, query: dict[str, str]):
        requests_seen.append(query)
        if path != "/entity.geojson" or query.get("dataset") != "ramsar":
            return 404, "application/json", b'{"detail": "Not Found"}'
        features = [entity(1), entity(2)]
        for number, feature in enumerate(features, start=1):
            feature["properties"].update(
                dataset="ramsar", entity=661000 + number, reference=f"UK11{number:03d}",
                name=f"Ramsar site {number}", prefix="ramsar", **{"organisation-entity": "600"},
            )  # fmt: skip
        return json_answer({"type": "FeatureCollection", "features": features, "links": {}})

    return route


@pytest.fixture
def local_planning_data(settings):
    """planning.data.gov.uk played by a local server: the profile names its address, and the
    outbound policy lets the loads reach 127.0.0.1."""
    seen: list = []
    with replay_server(ramsar_search(seen)) as replay:
        profile = settings.AUTHORITY_PROFILE
        settings.AUTHORITY_PROFILE = profile.model_copy(
            update={"national": profile.national.model_copy(update={"service": replay.url})}
        )
        settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
        settings.OUTBOUND_PRIVATE_HOSTS = ["127.0.0.1"]
        yield seen


# Real transactions: the pipeline's staging table lives until its transaction commits.
@pytest.mark.django_db(transaction=True)
def test_switching_on_loads_now_and_weekly_then_off(personas, client_as, local_planning_data):
    organisations_sync_from_profile(actor=None)
    national_sources_sync(actor=None)
    ramsar = Source.objects.get(dataset__slug="national-ramsar")
    admin = client_as(personas.platform_admin)

    # Only platform admins may switch; nothing changes for anyone else.
    refused = client_as(personas.data_manager_a).post(
        reverse("national-switch-on", kwargs={"slug": "national-ramsar"})
    )
    assert refused.status_code == 403
    assert not IngestRun.objects.exists() and not Source.objects.get(pk=ramsar.pk).enabled

    page = admin.get(reverse("national-list"))
    assert page.status_code == 200
    assert page.content.decode().count(">Off</strong>") == 11

    response = admin.post(reverse("national-switch-on", kwargs={"slug": "national-ramsar"}))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('national-list')}#national-national-ramsar"
    ramsar.refresh_from_db()
    assert ramsar.enabled and ramsar.schedule == "weekly" and ramsar.next_run_at is not None
    assert ramsar.next_run_at.weekday() == 0  # Mondays, 02:00 UTC
    run = IngestRun.objects.get()
    assert (run.source_id, run.state, run.requested_by) == (
        ramsar.pk, RunState.QUEUED, personas.platform_admin,
    )  # fmt: skip
    assert run.job_id is not None  # on the task queue
    # A second press while it waits asks for no second load.
    admin.post(reverse("national-switch-on", kwargs={"slug": "national-ramsar"}))
    assert IngestRun.objects.count() == 1
    assert list(
        AuditEntry.objects.filter(actor_id=personas.platform_admin.pk)
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["source.update", "ingest.request"]

    # The queued load, run as the worker runs it, reads the area from the local service.
    run = ingest_run_execute(run.pk)
    assert run.state == RunState.PUBLISHED, run.error
    [query] = local_planning_data
    assert query["dataset"] == "ramsar" and query["geometry_relation"] == "intersects"
    assert shapely.from_wkt(query["geometry"]).equals(shapely.from_wkt(KENT))
    features = {f.reference: f for f in current_features(ramsar.dataset)}
    assert sorted(features) == ["661001", "661002"]
    assert features["661001"].properties["name"] == "Ramsar site 1"
    assert features["661001"].properties["start-date"] is None

    page = admin.get(reverse("national-list")).content.decode()
    assert page.count(">On</strong>") == 1 and "Published" in page

    admin.post(reverse("national-switch-off", kwargs={"slug": "national-ramsar"}))
    ramsar.refresh_from_db()
    assert not ramsar.enabled and ramsar.schedule == "" and ramsar.next_run_at is None
    assert sorted(f.reference for f in current_features(ramsar.dataset)) == ["661001", "661002"]
    switched = AuditEntry.objects.filter(
        actor_id=personas.platform_admin.pk, action="source.update"
    )
    assert [entry.after["enabled"] for entry in switched.order_by("pk")] == [True, False]


@pytest.mark.django_db
def test_switching_needs_a_synced_national_dataset(personas, client_as):
    admin = client_as(personas.platform_admin)
    # Not synced yet: the page says how; a switch finds nothing.
    page = admin.get(reverse("national-list")).content.decode()
    assert page.count("Not set up") == 11 and "infraplan sync_profile" in page
    response = admin.post(reverse("national-switch-on", kwargs={"slug": "national-ramsar"}))
    assert response.status_code == 404
    # A dataset that is not one of the profile's national ones cannot be switched here.
    organisations_sync_from_profile(actor=None)
    national_sources_sync(actor=None)
    response = admin.post(reverse("national-switch-on", kwargs={"slug": "districts"}))
    assert response.status_code == 404
    assert not Source.objects.filter(enabled=True).exists()


@pytest.mark.django_db
def test_saved_settings_that_no_longer_pass_are_said_not_switched_on(personas, client_as):
    organisations_sync_from_profile(actor=None)
    national_sources_sync(actor=None)
    ramsar = Source.objects.get(dataset__slug="national-ramsar")
    Source.objects.filter(pk=ramsar.pk).update(config={**ramsar.config, "geometry": "Kent"})
    admin = client_as(personas.platform_admin)

    response = admin.post(
        reverse("national-switch-on", kwargs={"slug": "national-ramsar"}), follow=True
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Ramsar" in page and "cannot be switched on: its saved settings do not pass" in page
    assert "must be a WKT geometry" in page and "infraplan sync_profile" in page
    assert not Source.objects.get(pk=ramsar.pk).enabled and not IngestRun.objects.exists()


def test_the_area_filter_is_checked_at_the_edge():
    with pytest.raises(ConnectorError, match="geometry: Value error, must be a WKT geometry"):
        connector_config("planning_data", {"dataset": "ramsar", "geometry": "Kent"})
    with pytest.raises(ConnectorError, match="geometry: Value error, must be a WKT polygon"):
        connector_config("planning_data", {"dataset": "ramsar", "geometry": "POINT(1 51)"})
    with pytest.raises(ConnectorError, match="geometry_relation: Input should be 'intersects'"):
        connector_config(
            "planning_data", {"dataset": "ramsar", "geometry": KENT, "geometry_relation": "near"}
        )
    config = connector_config("planning_data", {"dataset": "ramsar", "geometry": KENT})
    assert config.geometry_relation == "intersects"
    assert connector_for("planning_data").describe(config) == (
        "planning.data.gov.uk dataset ramsar meeting an area"
    )


@pytest.mark.django_db
def test_the_demo_load_sets_them_up_switched_off(tmp_path):
    manifest = tmp_path / "demo.toml"
    manifest.write_text("datasets = []\n", encoding="utf-8")
    assert demo_load(manifest_path=manifest) == []
    assert Source.objects.filter(enabled=False).count() == 11
    assert not IngestRun.objects.exists()
    # Loading only some demo datasets (as tests do) leaves them alone.
    Source.objects.all().delete()
    demo_load(manifest_path=manifest, only=set())
    assert not Source.objects.exists()


@pytest.mark.django_db
def test_the_national_page_says_why_a_load_is_failing(personas, client_as):
    """With no internet, a switched-on national dataset's load fails and retries for a quarter
    of an hour: the page showed only "Waiting to start (fetching, 0 rows read)", then a bare
    "Failed"."""
    organisations_sync_from_profile(actor=None)
    national_sources_sync(actor=None)
    ramsar = Source.objects.get(dataset__slug="national-ramsar")
    error = "www.planning.data.gov.uk could not be found"
    run = IngestRun.objects.create(
        source=ramsar, dataset=ramsar.dataset, connector_key=ramsar.connector_key,
        config=ramsar.config, mapping=ramsar.mapping, state=RunState.QUEUED, stage="fetching",
        error=error, retry_at=timezone.now(),
    )  # fmt: skip
    Source.objects.filter(pk=ramsar.pk).update(last_run=run)
    admin = client_as(personas.platform_admin)

    page = admin.get(reverse("national-list")).content.decode()
    assert "An attempt failed and it will try again at " in page and error in page

    IngestRun.objects.filter(pk=run.pk).update(
        state=RunState.FAILED, retry_at=None, error=f"Gave up after 5 attempts: {error}"
    )
    page = admin.get(reverse("national-list")).content.decode()
    assert f"Gave up after 5 attempts: {error}" in page


@pytest.mark.django_db(transaction=True)
def test_a_national_load_leaves_out_its_neighbours_features_as_no_problem(personas, settings):
    """The box around the platform's areas takes in parts of the neighbouring counties, whose
    designations come too: they are left out and said so, not counted as problems against the
    2% allowed (one in three here, which would reject the load)."""
    demo_dataset_load("districts")

    def route(path: str, query: dict[str, str]):
        features = [entity(1), entity(2), entity(3)]
        # The third near Battle, East Sussex: inside the box, 10 km outside the districts.
        features[2]["geometry"]["coordinates"] = [[[
            [0.48, 50.915], [0.485, 50.915], [0.485, 50.92], [0.48, 50.92], [0.48, 50.915]
        ]]]  # fmt: skip
        for number, feature in enumerate(features, start=1):
            feature["properties"].update(dataset="ramsar", entity=661000 + number)
        return json_answer({"type": "FeatureCollection", "features": features, "links": {}})

    with replay_server(route) as replay:
        profile = settings.AUTHORITY_PROFILE
        settings.AUTHORITY_PROFILE = profile.model_copy(
            update={"national": profile.national.model_copy(update={"service": replay.url})}
        )
        settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
        settings.OUTBOUND_PRIVATE_HOSTS = ["127.0.0.1"]
        organisations_sync_from_profile(actor=None)
        national_sources_sync(actor=None)
        ramsar = Source.objects.get(dataset__slug="national-ramsar")
        run = ingest_run_execute(
            national_source_enable(actor=personas.platform_admin, source=ramsar).pk
        )

    assert run.state == RunState.PUBLISHED, run.error
    assert sorted(f.reference for f in current_features(ramsar.dataset)) == ["661001", "661002"]
    version = ramsar.dataset.current_version
    assert version.report["problem_count"] == 0
    assert (
        "1 feature of the source lies wholly outside the council areas this platform covers (by "
        "more than 1,000 m): left out, as this source covers more than them."
    ) in version.report["notes"]
