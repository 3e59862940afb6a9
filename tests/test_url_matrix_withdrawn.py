"""The URL matrix for a withdrawn dataset: every route of organisation A's public dataset, once
withdrawn, as those who no longer see it and as its data manager.

Those who no longer see it (anonymous visitors, a member of another council, the owner's viewers
and contributors) get on every route exactly what they get for a dataset that does not exist:
a 404, or, where a route asks everyone to sign in first, that. Its data manager still gets its
pages (200), and is told on the routes that would load data into it that nothing loads into a
withdrawn dataset. Routes that list datasets (the catalogue, the map, its table and picture,
search, the OGC API's collections, the count on the home page) list it for its data manager only.

A route taking a dataset's slug fails ``test_every_dataset_route_is_in_this_matrix`` until it is
added to ``ROUTES`` (or ``NOT_THIS_DATASETS``, with the reason).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from infraplan.catalogue.services import dataset_withdraw
from infraplan.connectors.load_requests import ingest_request
from infraplan.connectors.sources import source_save
from infraplan.core.testing.data import ASHFORD_POINTS, dataset_make, version_publish_points
from infraplan.exports.registry import exporter_keys

SLUG = "withdrawn-sites"
TITLE = "Withdrawn interchange sites"
FEATURE_NAME = "Withdrawn interchange depot"
# Those the withdrawal hides it from: the three the brief names, and the owner's contributors.
OUTSIDERS = ["anonymous", "member_b", "viewer_a", "contributor_a"]
TILE = {"z": 12, "x": 2057, "y": 1368}  # holds the Ashford points
ASHFORD_BBOX = "0.86,51.14,0.89,51.16"


@dataclass(frozen=True)
class Made:
    feature_id: int
    run_id: int
    source_id: int


@dataclass(frozen=True)
class Route:
    """How to ask a route about the withdrawn dataset, and what its data manager gets."""

    manager: int
    kwargs: Callable[[Made], dict] | dict = field(default_factory=dict)
    method: str = "get"
    query: str = ""
    note: str = ""


PAGE = 200
LOADS_REFUSED = "refused: back to the dataset's page, which says to restore it before loading"
NOBODY_CONTRIBUTES = "nobody may contribute to a withdrawn dataset: 404 as for anyone else"

ROUTES: dict[str, Route] = {
    "dataset-detail": Route(PAGE, note="with the banner saying who withdrew it, when and why"),
    "dataset-metadata-xml": Route(PAGE),
    "dataset-details": Route(PAGE),
    "dataset-style": Route(PAGE),
    "dataset-withdraw": Route(404, note="its admins' (already withdrawn: back to its page)"),
    "dataset-restore": Route(404, method="post", note="its admins'"),
    "dataset-upload": Route(302, note=LOADS_REFUSED),
    "dataset-run": Route(404, lambda made: {"run_id": made.run_id}, note=NOBODY_CONTRIBUTES),
    "dataset-run-status": Route(404, lambda made: {"run_id": made.run_id}, note=NOBODY_CONTRIBUTES),
    "dataset-run-cancel": Route(
        403,
        lambda made: {"run_id": made.run_id},
        method="post",
        note="nobody may load into a withdrawn dataset, so nobody may cancel its loads: its "
        "data manager, who sees it, is refused",
    ),
    "dataset-version": Route(PAGE, {"number": 1}),
    "dataset-version-report": Route(PAGE, {"number": 1}),
    "dataset-diff": Route(PAGE, {"old": 1, "new": 2}),
    "dataset-compare": Route(302, query="old=1&new=2", note="on to the diff"),
    "dataset-rollback": Route(404, {"number": 1}, note=NOBODY_CONTRIBUTES),
    "dataset-download": Route(302, query="format=csv", note="on to the download"),
    **{f"dataset-download-{key}": Route(PAGE) for key in exporter_keys()},
    "ogcapi-collection": Route(PAGE),
    "ogcapi-queryables": Route(PAGE),
    "ogcapi-items": Route(PAGE),
    "ogcapi-item": Route(PAGE, lambda made: {"feature_id": made.feature_id}),
    "tile": Route(PAGE, TILE),
    "map-labels": Route(PAGE),
    "map-feature": Route(PAGE, lambda made: {"feature_id": made.feature_id}),
    "map-feature-page": Route(PAGE, lambda made: {"feature_id": made.feature_id}),
    "source-new": Route(404, note=NOBODY_CONTRIBUTES),
    "source-edit": Route(404, lambda made: {"source_id": made.source_id}, note=NOBODY_CONTRIBUTES),
    "source-delete": Route(
        404, lambda made: {"source_id": made.source_id}, note=NOBODY_CONTRIBUTES
    ),
    "source-refresh": Route(
        302, lambda made: {"source_id": made.source_id}, method="post", note=LOADS_REFUSED
    ),
}
NOT_THIS_DATASETS = {
    "membership-leave": "an organisation's slug, not a dataset's",
    "national-switch-on": "the profile's national datasets by their slug, for platform admins",
    "national-switch-off": "the profile's national datasets by their slug, for platform admins",
}
# Routes that list datasets, as (route, query): each must name the withdrawn dataset, its
# title or its feature to its data manager, and none of them to those who no longer see it.
LISTS = [
    ("home", ""),
    ("dataset-list", ""),
    ("dataset-list", "q=withdrawn"),
    ("map", f"layers={SLUG}"),
    ("map-features", f"layers={SLUG}&bbox={ASHFORD_BBOX}"),
    ("search", "q=withdrawn+interchange+depot"),
    ("search", "q=withdrawn+interchange+depot&format=json"),
    ("ogcapi-collections", ""),
]


def dataset_routes(resolver: URLResolver | None = None) -> list[str]:
    """The names of the routes whose address names a dataset by its slug."""
    resolver = resolver or get_resolver()
    names = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            names.extend(dataset_routes(entry))
        elif isinstance(entry, URLPattern) and "slug" in entry.pattern.converters:
            names.append(entry.name)
    return names


@pytest.fixture
def withdrawn_sites(personas, settings, tmp_path) -> Made:
    """Organisation A's public sites, named for search, published twice, with a source and a
    load, then withdrawn by its admin."""
    settings.UPLOAD_ROOT = tmp_path
    dataset = dataset_make(
        slug=SLUG, owner=personas.organisation_a, title=TITLE, label_field="name",
        field_schema=[{"name": "name", "type": "string", "title": "Name"}],
    )  # fmt: skip
    names = {"station": {"name": FEATURE_NAME}, "civic-centre": {"name": "Withdrawn office"}}
    version_publish_points(dataset=dataset, points={"station": ASHFORD_POINTS["station"]})
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS, properties=names)
    source = source_save(
        actor=personas.data_manager_a, dataset=dataset, connector_key="url",
        config={"url": "https://data.example.org/sites.csv"}, mapping={"reference": "ref"},
        schedule="weekly",
    )  # fmt: skip
    path = tmp_path / "sites.csv"
    path.write_text("ref,Easting,Northing\nS1,615000,157500\n")
    run = ingest_request(
        actor=personas.data_manager_a, dataset=dataset, connector_key="upload",
        config={"path": str(path)}, mapping={"reference": "ref"}, queue=False,
    )  # fmt: skip
    feature = dataset.features.get(reference="station", valid_to__isnull=True)
    dataset_withdraw(actor=personas.admin_a, dataset=dataset, reason="Published in error")
    return Made(feature_id=feature.pk, run_id=run.pk, source_id=source.pk)


def test_every_dataset_route_is_in_this_matrix():
    names = set(dataset_routes())
    missing = sorted(names - set(ROUTES) - set(NOT_THIS_DATASETS))
    assert missing == [], f"Add these routes to ROUTES (or NOT_THIS_DATASETS): {missing}"
    stale = sorted((set(ROUTES) | set(NOT_THIS_DATASETS)) - names)
    assert stale == [], f"These name routes that no longer exist: {stale}"


def ask(client, name: str, route: Route, made: Made, slug: str):
    kwargs = route.kwargs(made) if callable(route.kwargs) else route.kwargs
    url = reverse(name, kwargs={"slug": slug, **kwargs})
    return getattr(client, route.method)(url + (f"?{route.query}" if route.query else ""))


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_route_of_a_withdrawn_dataset(name, personas, withdrawn_sites, client_as):
    route = ROUTES[name]
    for persona in OUTSIDERS:
        client = client_as(getattr(personas, persona))
        seen = ask(client, name, route, withdrawn_sites, SLUG)
        unknown = ask(client, name, route, withdrawn_sites, "no-such-dataset")
        assert seen.status_code == unknown.status_code, (persona, route.note)
        if seen.status_code != 404:  # sent to sign in first, as for any dataset
            assert persona == "anonymous" and seen.status_code == 302, persona
            assert seen["Location"] == unknown["Location"].replace("no-such-dataset", SLUG)
            assert seen["Location"].startswith(reverse("account_login"))
    manager = ask(client_as(personas.data_manager_a), name, route, withdrawn_sites, SLUG)
    # A 200 for a tile may be a 204 where the tile is empty; both mean "allowed".
    status = 200 if manager.status_code == 204 else manager.status_code
    assert status == route.manager, route.note
    if route.note == LOADS_REFUSED:
        assert manager["Location"] == f"/datasets/{SLUG}/"


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "query"), LISTS)
def test_lists_name_a_withdrawn_dataset_to_its_managers_only(
    name, query, personas, withdrawn_sites, client_as
):
    url = reverse(name) + (f"?{query}" if query else "")
    marks = (SLUG, TITLE, FEATURE_NAME)
    for persona in OUTSIDERS:
        response = client_as(getattr(personas, persona)).get(url)
        assert response.status_code == 200, persona
        body = response.content.decode()
        assert not [mark for mark in marks if mark in body], persona
        if name == "home":
            assert response.context["dataset_count"] == 0, persona
    manager = client_as(personas.data_manager_a).get(url)
    assert manager.status_code == 200
    assert [mark for mark in marks if mark in manager.content.decode()]
    if name == "home":
        assert manager.context["dataset_count"] == 1


@pytest.mark.django_db
def test_the_map_picture_leaves_it_out_as_a_layer_that_does_not_exist(
    personas, withdrawn_sites, client_as
):
    def picture(user, layers: str) -> bytes:
        query = {"bbox": ASHFORD_BBOX, "layers": layers, "width": 400, "height": 300}
        response = client_as(user).get(reverse("map-png"), query)
        assert response.status_code == 200
        return response.content

    for persona in OUTSIDERS:
        user = getattr(personas, persona)
        assert picture(user, SLUG) == picture(user, "no-such-dataset"), persona
    assert picture(personas.data_manager_a, SLUG) != picture(
        personas.data_manager_a, "no-such-dataset"
    )
