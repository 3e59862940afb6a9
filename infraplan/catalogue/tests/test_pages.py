"""The catalogue pages: the list with its filters and search, and a dataset's page."""

import html
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.models import Dataset, DatasetVersion, Feature
from infraplan.catalogue.publishing import (
    FeatureRow,
    version_add_features,
    version_fail,
    version_publish,
    version_start,
)
from infraplan.connectors.models import IngestRun, Source
from infraplan.connectors.sources import source_save
from infraplan.core.testing.data import (
    ASHFORD_POINTS,
    dataset_make,
    published_days_ago,
    version_publish_points,
)
from infraplan.maps.selectors import boundary_layers

pytestmark = pytest.mark.django_db


def titles(response) -> list[str]:
    """The titles of the datasets listed, in order."""
    assert response.status_code == 200
    return [
        html.unescape(title)
        for title in re.findall(
            r'<h3 class="govuk-heading-s[^"]*"><a class="govuk-link" href="/datasets/[^"]+/">'
            r"([^<]+)</a></h3>",
            response.content.decode(),
        )
    ]


def summary(response) -> dict[str, str]:
    """The dataset page's metadata summary list as {key: text}."""
    assert response.status_code == 200
    content = response.content.decode()
    rows = re.findall(
        r'<dt class="govuk-summary-list__key">(.*?)</dt>\s*'
        r'<dd class="govuk-summary-list__value">(.*?)</dd>',
        content[content.index('id="metadata"') :],
        flags=re.S,
    )
    return {key: html.unescape(re.sub(r"<[^>]+>", "", value)).strip() for key, value in rows}


def example_values(response) -> dict[str, str]:
    """The dataset page's fields table as {field name: its example values}."""
    return dict(
        re.findall(
            r"<td class=\"govuk-table__cell\"><code>([\w-]+)</code></td>.*?"
            r"<td class=\"govuk-table__cell\">([^<]*)</td>\s*</tr>",
            response.content.decode(),
            flags=re.S,
        )
    )


@pytest.fixture
def catalogue(personas):
    """Four datasets that differ in theme, owner, access level and words."""
    a, b = personas.organisation_a, personas.organisation_b
    return {
        "schools": dataset_make(
            slug="schools", owner=a, theme="education", title="Schools",
            abstract="Primary and secondary schools.", keywords=["pupils", "Ofsted"],
        ),
        "surgeries": dataset_make(
            slug="surgeries", owner=b, theme="health", title="GP surgeries",
            abstract="Practices and their list sizes.", access_level="signed_in",
        ),
        "sites": dataset_make(
            slug="sites", owner=a, theme="housing-growth", title="Housing sites",
            abstract="Allocations and permissions near schools.", access_level="organisations",
        ),
        "stations": dataset_make(
            slug="stations", owner=b, theme="transport", title="Rail stations",
            abstract="Every station.",
        ),
    }  # fmt: skip


def test_the_list_shows_what_the_gate_permits(catalogue, personas, client_as):
    everything = ["GP surgeries", "Housing sites", "Rail stations", "Schools"]
    assert titles(client_as(personas.viewer_a).get("/datasets/")) == everything
    assert titles(client_as(personas.member_b).get("/datasets/")) == [
        "GP surgeries", "Rail stations", "Schools",
    ]  # fmt: skip
    assert titles(client_as(None).get("/datasets/")) == ["Rail stations", "Schools"]


def test_filters_and_search_really_filter(catalogue, personas, client_as):
    client = client_as(personas.viewer_a)
    assert titles(client.get("/datasets/", {"theme": "education"})) == ["Schools"]
    assert titles(client.get("/datasets/", {"theme": ["education", "transport"]})) == [
        "Rail stations", "Schools",
    ]  # fmt: skip
    assert titles(client.get("/datasets/", {"owner": "org-b"})) == ["GP surgeries", "Rail stations"]
    assert titles(client.get("/datasets/", {"access": "organisations"})) == ["Housing sites"]
    # Search covers title, abstract and keywords, case-insensitively; every word must match.
    # Words in a title weigh more than in an abstract.
    assert titles(client.get("/datasets/", {"q": "schools"})) == ["Schools", "Housing sites"]
    assert titles(client.get("/datasets/", {"q": "ofsted"})) == ["Schools"]
    assert titles(client.get("/datasets/", {"q": "list sizes"})) == ["GP surgeries"]
    assert titles(client.get("/datasets/", {"q": "schools", "owner": "org-a",
                                            "theme": "housing-growth"})) == ["Housing sites"]  # fmt: skip
    response = client.get("/datasets/", {"q": "schools", "theme": "transport"})
    assert titles(response) == []
    content = response.content.decode()
    assert "0 datasets match" in content
    assert "No datasets match your search and filters." in content
    assert 'href="/datasets/">clear all filters' in content
    # The form keeps what was asked, so it can be changed rather than typed again.
    assert 'value="schools"' in content
    assert re.search(r'value="transport"\s+checked', content)


@pytest.mark.parametrize("query", ["[", "]", '"', ",", '", "'])
def test_search_reads_keywords_as_words_not_as_their_json(catalogue, personas, client_as, query):
    """Brackets, quotes and commas are the list's JSON syntax, not words of any keyword."""
    assert titles(client_as(personas.viewer_a).get("/datasets/", {"q": query})) == []


def test_search_finds_a_keyword_with_characters_that_json_escapes(personas, client_as):
    dataset_make(slug="quoted", owner=personas.organisation_a, keywords=['"Garden" town\\'])
    assert titles(client_as(None).get("/datasets/", {"q": '"garden" town\\'})) == ["Quoted"]


def test_filters_offer_only_owners_the_user_can_see(catalogue, personas, client_as):
    Dataset.objects.filter(owner=personas.organisation_b).update(access_level="organisations")
    content = client_as(personas.viewer_a).get("/datasets/").content.decode()
    assert 'name="owner" type="checkbox" value="org-a"' in content
    assert 'value="org-b"' not in content


def test_an_unknown_filter_value_is_named_and_nothing_listed(catalogue, personas, client_as):
    """Left out, the filter that cannot be used would list datasets of every theme."""
    response = client_as(personas.viewer_a).get("/datasets/", {"theme": "nonsense", "q": "rail"})
    assert titles(response) == []
    content = response.content.decode()
    assert "There is a problem" in content
    assert "Theme: Select a valid choice. nonsense is not one of the available choices." in content
    assert "The search could not be run" in content
    assert 'value="rail"' in content  # kept, to be searched again


def test_each_result_shows_its_facts(catalogue, personas, client_as):
    version_publish_points(dataset=catalogue["schools"], points=ASHFORD_POINTS)
    content = client_as(None).get("/datasets/", {"q": "pupils"}).content.decode()
    assert "Primary and secondary schools." in content
    assert ">Education<" in content
    assert ">Organisation A<" in content
    features = re.search(r"Features</dt>\s*<dd[^>]*>([^<]+)</dd>", content)
    assert features and features[1] == "2"
    # When the platform loaded it, apart from how old its data are (not stated here).
    assert re.search(r"Loaded</dt>\s*<dd[^>]*><time datetime=", content)
    assert re.search(r"Data as of</dt>\s*<dd[^>]*>Not known", content)
    assert "Last updated" not in content
    # A dataset with nothing published (a national one not switched on, say) was not "loaded"
    # on the day its description was written.
    content = client_as(None).get("/datasets/", {"q": "rail"}).content.decode()
    assert "Not published yet" in content and "Loaded" not in content


def test_the_list_makes_the_same_number_of_queries_for_any_number_of_datasets(personas, client_as):
    client = client_as(personas.viewer_a)

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/datasets/").status_code == 200
        return len(queries)

    first = dataset_make(slug="first", owner=personas.organisation_a)
    version_publish_points(dataset=first, points=ASHFORD_POINTS)
    queries_for_list()  # a session's first request does one-off work (stamping the session)
    few = queries_for_list()
    for number in range(5):
        made = dataset_make(slug=f"more-{number}", owner=personas.organisation_b)
        version_publish_points(dataset=made, points=ASHFORD_POINTS)
    assert len(titles(client.get("/datasets/"))) == 6
    assert queries_for_list() == few


def test_a_restricted_dataset_page_is_a_404_for_outsiders(restricted, personas, client_as):
    for outsider in (personas.anonymous, personas.member_b):
        assert client_as(outsider).get("/datasets/a-only-sites/").status_code == 404
    assert client_as(personas.viewer_a).get("/datasets/a-only-sites/").status_code == 200
    assert client_as(personas.viewer_a).get("/datasets/no-such-thing/").status_code == 404


def test_reading_a_restricted_dataset_page_is_audited(restricted, personas, client_as):
    client_as(personas.viewer_a).get("/datasets/a-only-sites/")
    assert AuditEntry.objects.filter(
        action="dataset.read.page", actor_id=personas.viewer_a.pk, target_id=str(restricted.pk)
    ).exists()


def test_the_dataset_page_has_the_gemini_mandatory_elements(districts, personas, client_as):
    Dataset.objects.filter(pk=districts.pk).update(
        keywords=["boundaries", "local government"], source_format="GeoJSON"
    )
    metadata = summary(client_as(None).get("/datasets/districts/"))
    assert metadata["Title"] == "Local authority districts"
    assert metadata["Abstract"].startswith("The 12 Kent districts and Medway")
    assert metadata["Topic category"] == "Boundaries (ISO 19115: boundaries)"
    assert metadata["Keywords"] == "boundaries, local government"
    # The boundaries of 2013, unchanged in Kent since; the file published in September 2014.
    assert metadata["Temporal extent"] == "1 January 2013 to end not stated"
    assert metadata["Dataset reference date"] == "1 September 2014"
    assert metadata["Lineage"].startswith("ONS/OS generalised clipped")
    assert metadata["Data format"] == "GeoJSON"
    assert metadata["Responsible organisation"] == "Kent County Council (role: custodian)"
    assert metadata["Contact"] == "infraplan-support@example.org"
    assert metadata["Access constraints"] == "Public: anyone, without signing in"
    assert metadata["Use constraints (licence)"].startswith("Open Government Licence v3.0")
    assert metadata["Metadata date"]
    assert metadata["Metadata point of contact"] == (
        "Kent County Council, infraplan-support@example.org"
    )
    assert (
        metadata["Resource identifier"] == "http://127.0.0.1:8000/datasets/districts/"
    )  # SITE_URL
    assert metadata["Spatial reference system"].startswith("EPSG:27700 (British National Grid)")
    assert metadata["Features"] == "13"
    # Kent and Medway: about 0.03 to 1.45 degrees east, 50.91 to 51.49 north.
    west, south, east, north = map(float, re.findall(r"-?\d+\.\d+", metadata["Extent (WGS84)"]))
    assert 0.0 < west < 0.1 and 50.8 < south < 51.0 and 1.4 < east < 1.5 and 51.4 < north < 51.5
    bng = list(map(int, re.findall(r"\d+", metadata["Extent (British National Grid)"])))
    assert 530000 < bng[0] < bng[1] < 650000 and 110000 < bng[2] < bng[3] < 190000


def test_the_responsible_organisations_are_named_with_their_roles(restricted, personas, client_as):
    restricted.contributing_organisations.add(personas.organisation_b)
    content = client_as(personas.viewer_a).get("/datasets/a-only-sites/").content.decode()
    assert (
        '<dt class="govuk-summary-list__key">Responsible organisation</dt>\n'
        '        <dd class="govuk-summary-list__value">Organisation A (role: custodian)<br>'
        "Organisation B (role: contributor)</dd>" in content
    )


def test_dates_and_temporal_extent_are_shown(districts, client_as):
    Dataset.objects.filter(pk=districts.pk).update(
        temporal_start="2013-01-01", temporal_end="2023-12-31", reference_date="2014-09-01"
    )
    metadata = summary(client_as(None).get("/datasets/districts/"))
    assert metadata["Temporal extent"] == "1 January 2013 to 31 December 2023"
    assert metadata["Dataset reference date"] == "1 September 2014"


@pytest.mark.parametrize(
    ("start", "end", "shown"),
    [
        ("2013-01-01", None, "1 January 2013 to end not stated"),
        (None, "2023-12-31", "Start not stated to 31 December 2023"),
        (None, None, "Not stated"),
        ("2022-07-06", "2022-07-06", "As at 6 July 2022"),  # a snapshot: the GIAS extract
    ],
)
def test_a_temporal_extent_not_stated_is_not_made_up(districts, client_as, start, end, shown):
    """An end not stated is unknown, not "the present"."""
    Dataset.objects.filter(pk=districts.pk).update(temporal_start=start, temporal_end=end)
    assert summary(client_as(None).get("/datasets/districts/"))["Temporal extent"] == shown


def test_the_extent_map_is_drawn_on_the_server_over_the_district_outlines(
    districts, restricted, personas, client_as
):
    content = client_as(personas.viewer_a).get("/datasets/a-only-sites/").content.decode()
    svg = re.search(r"<svg [^>]*data-extent-map>(.*?)</svg>", content, flags=re.S)
    assert svg, "no extent map"
    assert len(re.findall(r"<path d=\"M ", svg[1])) == 13  # the 12 districts and Medway
    assert '<title id="extent-title">Extent of A only sites</title>' in svg[1]
    assert "over the outlines of 13 council areas" in svg[1]
    # The two Ashford points: the box is centred between them (eastings ~601475, y = -northing).
    x, y, width, height = map(float, re.search(r'<rect x="(-?\d+)" y="(-?\d+)" width="(\d+)" '
                                               r'height="(\d+)"', svg[1]).groups())  # fmt: skip
    assert abs(x + width / 2 - 601475) < 2 and abs(y + height / 2 + 142440) < 2
    assert "style=" not in svg[0]
    assert "a-only-sites&amp;center=" in content  # on the dataset's extent


def test_fields_show_real_example_values(restricted, personas, client_as):
    version_publish_points(
        dataset=restricted,
        points={**ASHFORD_POINTS, "depot": (600000, 141000)},
        properties={"station": {"platforms": 6}, "depot": {"platforms": 0}},
    )
    rows = example_values(client_as(personas.viewer_a).get("/datasets/a-only-sites/"))
    # Features in reference order: civic-centre, depot, station.
    assert rows == {"name": "civic-centre; depot; station", "platforms": "0; 6"}


def test_example_values_are_cut_short_and_leave_out_features_that_have_ended(
    restricted, personas, client_as
):
    """A 5,000-character value is cut to an example; an ended feature (hidden on the map) gives
    no example values, nor first rows."""
    version_publish_points(
        dataset=restricted,
        points={**ASHFORD_POINTS, "depot": (600000, 141000)},
        properties={
            "civic-centre": {"notes": "word " * 1000},
            "depot": {"notes": "closed", "end-date": "2001-03-31"},
            "station": {"notes": "open", "end-date": "2999-01-01"},
        },
    )
    response = client_as(personas.viewer_a).get("/datasets/a-only-sites/")
    rows = example_values(response)
    assert rows["name"] == "civic-centre; station"
    assert rows["notes"] == "word word word word word word word word word word word word…; open"
    assert rows["end-date"] == "2999-01-01"
    assert "word " * 20 not in response.content.decode()


def test_a_field_the_examples_leave_empty_says_where_it_looked(restricted, personas, client_as):
    """Examples come from the first features that had not ended: a field only ended ones fill
    (a school's closing date) is empty in them, not in the dataset, and the page says so."""
    restricted.field_schema = [
        {"name": "closed", "type": "date", "title": "Closed"},
        {"name": "end-date", "type": "date", "title": "Ends"},
    ]
    restricted.save(update_fields=["field_schema"])
    version_publish_points(
        dataset=restricted,
        points={**ASHFORD_POINTS, "depot": (600000, 141000)},
        properties={"depot": {"closed": "2001-03-31", "end-date": "2001-03-31"}},
    )
    rows = example_values(client_as(personas.viewer_a).get("/datasets/a-only-sites/"))
    assert rows["closed"] == "None in the first 200 features that had not ended"


def test_the_feature_count_says_how_many_have_ended(restricted, personas, client_as):
    """The page counts every feature of the version, and says how many of them the map, the
    table and downloads leave out as ended: judged on the day the page shows."""
    version = version_publish_points(
        dataset=restricted,
        points={**ASHFORD_POINTS, "depot": (600000, 141000), "yard": (600100, 141000)},
        properties={
            "depot": {"end-date": "2001-03-31"},
            "yard": {"EndDate": "2020-06-30"},
            "station": {"end-date": "2999-01-01"},
            "civic-centre": {"end-date": "not known"},
        },
    )
    viewer = client_as(personas.viewer_a)
    assert summary(viewer.get("/datasets/a-only-sites/"))["Features"] == (
        f"4Of these, 2 had ended by {timezone.localdate():%-d %B %Y}, as their source says: the "
        "map, its table and downloads leave them out unless ended features are asked for."
    )
    published_days_ago(version, 365 * 10)
    as_of = viewer.get("/datasets/a-only-sites/", {"as_of": "2019-01-01"})
    assert summary(as_of)["Features"] == (
        "4Of these, 1 had ended by 1 January 2019, as its source says: the map, its table and "
        "downloads leave it out unless ended features are asked for."
    )


def test_a_declared_schema_without_end_dates_counts_none_as_ended(restricted, personas, client_as):
    restricted.field_schema = [{"name": "notes", "type": "string"}]
    restricted.save()
    version_publish_points(
        dataset=restricted, points=ASHFORD_POINTS,
        properties={"station": {"notes": "open"}, "civic-centre": {"notes": "open"}},
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        page = client_as(personas.viewer_a).get("/datasets/a-only-sites/")
    assert summary(page)["Features"] == "2"
    assert not [query for query in queries if "count(*)" in query["sql"]]


def test_versions_are_listed_with_their_reports_and_problems(restricted, personas, client_as):
    version_publish_points(dataset=restricted, points={"station": (601700, 142200)})
    failed = version_start(actor=None, dataset=restricted, source="broken.csv")
    version_fail(
        actor=None,
        version=failed,
        report={
            "error": "1 problem(s) in the file for a-only-sites",
            "problems": [{"row": 7, "field": "easting", "reason": "not a number"}],
        },
    )
    content = client_as(personas.contributor_a).get("/datasets/a-only-sites/").content.decode()
    table = content[content.index('id="versions"') :]
    # Each number links to its version's page (infraplan/catalogue/tests/test_data_pages.py).
    rows = re.findall(r'<th scope="row" class="govuk-table__header"><a [^>]*>'
                      r'<span class="govuk-visually-hidden">Version </span>(\d+)</a></th>(.*?)</tr>',
                      table, flags=re.S)  # fmt: skip
    assert [number for number, _ in rows] == ["3", "2", "1"]
    cells = {
        number: [re.sub(r"<[^>]+>", "", cell).strip()
                 for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        for number, row in rows
    }  # fmt: skip
    assert cells["3"][0] == "Failed" and cells["3"][2] == "broken.csv"
    assert cells["2"][0] == "Current" and cells["2"][3:] == ["0", "1", "1", "0"]
    assert cells["1"][0] == "Published" and cells["1"][3:] == ["2", "0", "0", "0"]
    assert "Row 7, easting: not a number" in table


def test_a_dataset_without_geometry_shows_its_first_rows_and_no_map(personas, client_as):
    table = dataset_make(
        slug="conservation-list", owner=personas.organisation_a, geometry_type="none",
        field_schema=[{"name": "name", "type": "string", "title": "Name"}],
    )  # fmt: skip
    version = version_start(actor=None, dataset=table, source="list.csv")
    with transaction.atomic():
        version_add_features(
            version=version,
            rows=[
                FeatureRow(table.owner, f"ca-{n}", {"name": f"Area {n}"}, None) for n in range(12)
            ],
        )
        version_publish(actor=None, version=version)
    content = client_as(None).get("/datasets/conservation-list/").content.decode()
    assert "First rows" in content
    assert re.findall(r"<td class=\"govuk-table__cell\">(Area \d+)</td>", content)[:2] == [
        "Area 0", "Area 1",
    ]  # fmt: skip
    assert "Area 11" in content and "Area 9" not in content.split("First rows")[1]
    assert "Open on the map" not in content
    assert "data-extent-map" not in content
    assert "Extent (WGS84)" not in content
    assert (
        summary(client_as(None).get("/datasets/conservation-list/"))["Spatial reference system"]
        == "None: the dataset has no geometry"
    )


def test_counts_of_thousands_are_written_with_commas(personas, client_as):
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    points = {f"S{number}": (600000 + number, 150000) for number in range(1_234)}
    version = version_publish_points(dataset=sites, points=points)
    client = client_as(None)
    assert summary(client.get("/datasets/sites/"))["Features"] == "1,234"
    assert ">1,234</dd>" in client.get("/datasets/").content.decode()
    version_page = client.get(f"/datasets/sites/versions/{version.number}/").content.decode()
    assert re.search(r">\s*1,234\s*</dd>", version_page)


def test_the_versions_table_reads_only_the_first_problems_of_each_report(personas, client_as):
    # A report keeps up to 10,000 problems; a dataset loaded weekly for years had every one of
    # every version's read on each visit to its page.
    dataset = dataset_make(slug="weekly", owner=personas.organisation_a)
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    problems = [
        {"row": row, "field": "name", "value": "", "problem": f"problem {row}"}
        for row in range(1, 26)
    ]
    dataset.versions.create(
        number=2, state="failed", source="bad.csv",
        report={"error": "too many problems", "problems": problems, "problem_count": 25},
    )  # fmt: skip
    client = client_as(personas.contributor_a)
    client.get("/datasets/weekly/")  # a session's first request does one-off work
    with CaptureQueriesContext(connection) as queries:
        content = client.get("/datasets/weekly/").content.decode()

    assert "Version 2 was not published: too many problems" in content
    listed = re.findall(r"<li>Row (\d+), name: problem \d+</li>", content)
    assert listed == [str(row) for row in range(1, 21)]
    assert "and 5 more problems." in content
    reads = [query["sql"] for query in queries.captured_queries]
    # The list of versions is read without their whole reports (a column of its own, then the
    # next); one version at a time (the current one) may be read whole.
    versions = [
        sql
        for sql in reads
        if sql.startswith('SELECT "catalogue_datasetversion"') and " LIMIT " not in sql
    ]
    assert versions
    whole = '"catalogue_datasetversion"."report", "catalogue_datasetversion"."created_by_id"'
    assert not [sql for sql in versions if whole in sql]


def test_the_sources_table_reads_only_what_it_shows(personas, client_as):
    # A source's last run was read with its version's whole report (up to 10,000 problems),
    # and each source's settings, none of which the table shows.
    dataset = dataset_make(slug="weekly", owner=personas.organisation_a)
    dataset.contributing_organisations.add(personas.organisation_b)
    version = version_publish_points(dataset=dataset, points=ASHFORD_POINTS)
    problems = [{"row": row, "field": "name", "problem": "too long"} for row in range(1, 10_001)]
    DatasetVersion.objects.filter(pk=version.pk).update(
        report={"problems": problems, "problem_count": 10_000}
    )

    def source_loaded(organisation, state: str, error: str = "") -> None:
        source = source_save(
            actor=personas.data_manager_a, dataset=dataset, connector_key="url",
            config={"url": "https://example.org/weekly.geojson"}, mapping={"reference": "ref"},
            organisation=organisation, schedule="weekly",
        )  # fmt: skip
        run = IngestRun.objects.create(
            source=source, dataset=dataset, organisation=organisation, connector_key="url",
            config=source.config, mapping=source.mapping, state=state, error=error,
            version=version if state == "published" else None,
        )  # fmt: skip
        Source.objects.filter(pk=source.pk).update(last_run=run)

    client = client_as(personas.data_manager_a)
    client.get("/datasets/weekly/")  # a session's first request does one-off work

    def page_read() -> tuple[str, list[str]]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/datasets/weekly/")
        assert response.status_code == 200
        return html.unescape(response.content.decode()), [
            query["sql"] for query in queries.captured_queries
        ]

    source_loaded(None, "published")
    _, one = page_read()
    source_loaded(personas.organisation_a, "failed", "example.org answered HTTP 503.")
    source_loaded(personas.organisation_b, "queued")
    content, three = page_read()

    assert len(three) == len(one)
    table = content.split('id="source-table"')[1].split("</table>")[0]
    assert table.count(">Published</a>") == 1 and "example.org answered HTTP 503." in table
    assert "Waiting to start</a> (waiting, 0 rows read)" in table
    [sources] = [sql for sql in three if sql.startswith('SELECT "connectors_source"')]
    assert "catalogue_datasetversion" not in sources
    for column in ("config", "mapping"):
        assert f'"connectors_source"."{column}"' not in sources
        assert f'"connectors_ingestrun"."{column}"' not in sources
    # Nor is the current version read whole for its number (it was, twice a visit).
    whole = '"catalogue_datasetversion"."report", "catalogue_datasetversion"."created_by_id"'
    assert not [sql for sql in three if whole in sql]


@pytest.mark.parametrize(("min_zoom", "zoom_at_least"), [(0, 14.0), (12, 14.0), (17, 17.0)])
def test_open_on_the_map_opens_where_the_dataset_is_drawn(
    personas, client_as, min_zoom, zoom_at_least
):
    """Opened on the county, a layer drawn only when zoomed in showed nothing at all: the link
    opens on the dataset's own extent, at a zoom the map draws it at, with the district
    boundaries on to say where it is."""
    dataset = dataset_make(slug="two-sites", owner=personas.organisation_a, min_zoom=min_zoom)
    version_publish_points(dataset=dataset, points=ASHFORD_POINTS)

    content = html.unescape(client_as(None).get("/datasets/two-sites/").content.decode())

    [link] = re.findall(r'href="(/map/\?[^"]+)"[^>]*>Open on the map', content)
    query = dict(part.split("=", 1) for part in link.split("?", 1)[1].split("&"))
    lon, lat = (float(value) for value in query["center"].replace("%2C", ",").split(","))
    # Over the boundaries the map opens with, not on its own.
    assert query["layers"].split("%2C") == [*boundary_layers(), "two-sites"]
    assert "districts" in boundary_layers()
    assert 0.87 < lon < 0.89 and 51.13 < lat < 51.16  # between Ashford's two points
    assert zoom_at_least <= float(query["zoom"]) <= max(16, min_zoom)


def _map_link_view(content: str) -> tuple[float, float, float]:
    """The longitude, latitude and zoom of the page's "Open on the map" link."""
    [link] = re.findall(r'href="(/map/\?[^"]+)"[^>]*>Open on the map', content)
    query = dict(part.split("=", 1) for part in link.split("?", 1)[1].split("&"))
    lon, lat = (float(value) for value in query["center"].replace("%2C", ",").split(","))
    return lon, lat, float(query["zoom"])


def test_open_on_the_map_leaves_out_a_feature_flagged_outside_every_district(personas, client_as):
    """A site whose coordinates put it in the Channel (flagged, not dropped) stretched the
    dataset's extent: the map opened on the sea. The link fits the features placed in a
    district; the page's extent is still that of every feature."""
    dataset = dataset_make(slug="three-sites", owner=personas.organisation_a)
    version = version_publish_points(
        dataset=dataset, points={**ASHFORD_POINTS, "sea": (620000, 20000)}
    )
    Feature.objects.filter(dataset=dataset).exclude(reference="sea").update(district="E07000105")
    # A version measured before placed features were is measured again, once, when shown.
    whole = {"bng": version.extent["bng"], "wgs84": version.extent["wgs84"]}
    DatasetVersion.objects.filter(pk=version.pk).update(extent=whole)

    content = html.unescape(client_as(None).get("/datasets/three-sites/").content.decode())

    lon, lat, zoom = _map_link_view(content)
    assert 0.87 < lon < 0.89 and 51.13 < lat < 51.16 and zoom >= 14
    assert f"south {whole['wgs84'][1]:.6f}" in content  # the page's extent: every feature
    version.refresh_from_db()
    assert version.extent["wgs84"] == whole["wgs84"]
    assert version.extent["fit_wgs84"][1] > 51.1


def test_open_on_the_map_leaves_out_a_feature_its_source_put_in_a_district_but_lying_at_sea(
    personas, client_as
):
    """A brownfield register's site is placed in its authority's district by the register's own
    code, wherever its coordinates put it: the Gravesham site with its latitude in the Channel
    opened the map on the sea. It has no ward, as it lies near none; the link fits the features
    placed in a ward."""
    dataset = dataset_make(slug="three-sites", owner=personas.organisation_a)
    version = version_publish_points(
        dataset=dataset, points={**ASHFORD_POINTS, "sea": (620000, 20000)}
    )
    Feature.objects.filter(dataset=dataset).update(district="E07000105")
    Feature.objects.filter(dataset=dataset).exclude(reference="sea").update(ward="E05000001")
    DatasetVersion.objects.filter(pk=version.pk).update(extent=None)

    content = html.unescape(client_as(None).get("/datasets/three-sites/").content.decode())

    lon, lat, zoom = _map_link_view(content)
    assert 0.87 < lon < 0.89 and 51.13 < lat < 51.16 and zoom >= 14


def test_the_resource_identifier_is_the_site_address_whatever_the_host(
    personas, client_as, settings
):
    settings.SITE_URL = "https://maps.kent.example/"
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
    dataset_make(slug="sites", owner=personas.organisation_a)
    for host in ["localhost", "127.0.0.1"]:
        content = client_as(None).get("/datasets/sites/", HTTP_HOST=host).content.decode()
        assert ">https://maps.kent.example/datasets/sites/</a>" in content


def test_a_dataset_with_nothing_published_says_so_not_none(personas, client_as):
    dataset_make(slug="waiting", owner=personas.organisation_a)
    content = client_as(None).get("/datasets/waiting/").content.decode()
    features = re.search(r"Features</dt>\s*<dd[^>]*>([^<]+)</dd>", content)
    assert features and features[1] == "Not published yet"
