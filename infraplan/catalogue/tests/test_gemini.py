"""A dataset's metadata as a UK GEMINI 2.3 record (``/datasets/<slug>/metadata.xml``): the
dataset page's values, escaped, behind the page's gate."""

import re
import uuid
from datetime import date

import pytest
from defusedxml import ElementTree
from django.utils import timezone

from infraplan.catalogue.models import Dataset
from infraplan.core.testing.data import (
    dataset_make,
    days_ago,
    published_days_ago,
    version_publish_points,
)

from .test_pages import summary

pytestmark = pytest.mark.django_db

NS = {
    "gmd": "http://www.isotc211.org/2005/gmd",
    "gco": "http://www.isotc211.org/2005/gco",
    "gml": "http://www.opengis.net/gml/3.2",
    "gmx": "http://www.isotc211.org/2005/gmx",
    "xlink": "http://www.w3.org/1999/xlink",
}
HREF = f"{{{NS['xlink']}}}href"
NIL = f"{{{NS['gco']}}}nilReason"
IDENTIFICATION = "gmd:identificationInfo/gmd:MD_DataIdentification"
CITATION = f"{IDENTIFICATION}/gmd:citation/gmd:CI_Citation"
BBOX = (
    f"{IDENTIFICATION}/gmd:extent/gmd:EX_Extent/gmd:geographicElement/gmd:EX_GeographicBoundingBox"
)
PERIOD = (
    f"{IDENTIFICATION}/gmd:extent/gmd:EX_Extent/gmd:temporalElement/gmd:EX_TemporalExtent/"
    "gmd:extent/gml:TimePeriod"
)
TRANSFER = (
    "gmd:distributionInfo/gmd:MD_Distribution/gmd:transferOptions/"
    "gmd:MD_DigitalTransferOptions/gmd:onLine/gmd:CI_OnlineResource"
)
NO_LIMITATIONS = (
    "http://inspire.ec.europa.eu/metadata-codelist/LimitationsOnPublicAccess/noLimitations"
)


def record(response):
    """The record's root element, after checking the answer is one."""
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    return ElementTree.fromstring(response.content)


def text(root, path: str) -> str | None:
    found = root.find(f"{path}/gco:CharacterString", NS)
    return None if found is None else found.text


def texts(root, path: str) -> list[str]:
    return [element.text for element in root.findall(f"{path}/gco:CharacterString", NS)]


def test_the_record_is_a_gemini_dataset_record_in_the_iso_namespaces(districts, client_as):
    response = client_as(None).get("/datasets/districts/metadata.xml")
    root = record(response)
    assert response.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert root.tag == f"{{{NS['gmd']}}}MD_Metadata"
    declared = dict(re.findall(rb'xmlns:(\w+)="([^"]+)"', response.content))
    assert {prefix.decode(): uri.decode() for prefix, uri in declared.items()} == NS
    resource = "http://127.0.0.1:8000/datasets/districts/"  # SITE_URL
    assert text(root, "gmd:fileIdentifier") == str(uuid.uuid5(uuid.NAMESPACE_URL, resource))
    assert root.find("gmd:language/gmd:LanguageCode", NS).get("codeListValue") == "eng"
    assert root.find("gmd:hierarchyLevel/gmd:MD_ScopeCode", NS).get("codeListValue") == "dataset"
    assert text(root, "gmd:metadataStandardName") == "UK GEMINI"
    assert text(root, "gmd:metadataStandardVersion") == "2.3"
    crs = root.findall(
        "gmd:referenceSystemInfo/gmd:MD_ReferenceSystem/gmd:referenceSystemIdentifier/"
        "gmd:RS_Identifier/gmd:code/gmx:Anchor",
        NS,
    )
    assert (crs[0].text, crs[0].get(HREF)) == (
        "EPSG:27700",
        "http://www.opengis.net/def/crs/EPSG/0/27700",
    )
    # The same record every time: a catalogue harvesting it again replaces its copy.
    again = record(client_as(None).get("/datasets/districts/metadata.xml"))
    assert text(again, "gmd:fileIdentifier") == text(root, "gmd:fileIdentifier")


def test_the_record_says_what_the_dataset_page_says(districts, client_as):
    page = client_as(None).get("/datasets/districts/")
    shown = summary(page)
    root = record(client_as(None).get("/datasets/districts/metadata.xml"))
    districts.refresh_from_db()

    assert text(root, f"{CITATION}/gmd:title") == shown["Title"] == "Local authority districts"
    assert text(root, f"{IDENTIFICATION}/gmd:abstract") == shown["Abstract"]
    assert texts(root, f"{IDENTIFICATION}/gmd:descriptiveKeywords/gmd:MD_Keywords/gmd:keyword") == [
        "boundary",
        "district",
        "local authority",
        "ONS",
    ]
    assert shown["Keywords"] == "boundary, district, local authority, ONS"
    topic = root.find(f"{IDENTIFICATION}/gmd:topicCategory/gmd:MD_TopicCategoryCode", NS).text
    assert (
        shown["Topic category"]
        == f"Boundaries (ISO 19115: {topic})"
        == ("Boundaries (ISO 19115: boundaries)")
    )
    # The reference date, with its type; the period from 2013, its end not stated.
    reference = root.find(f"{CITATION}/gmd:date/gmd:CI_Date", NS)
    assert reference.find("gmd:date/gco:Date", NS).text == "2014-09-01"
    assert shown["Dataset reference date"] == "1 September 2014"
    date_type = reference.find("gmd:dateType/gmd:CI_DateTypeCode", NS)
    assert date_type.get("codeListValue") == "publication"
    assert root.find(f"{PERIOD}/gml:beginPosition", NS).text == "2013-01-01"
    end = root.find(f"{PERIOD}/gml:endPosition", NS)
    assert (end.text, end.get("indeterminatePosition")) == (None, "unknown")
    assert shown["Temporal extent"] == "1 January 2013 to end not stated"
    # Who is responsible, and whom to ask.
    party = root.find(f"{IDENTIFICATION}/gmd:pointOfContact/gmd:CI_ResponsibleParty", NS)
    assert text(party, "gmd:organisationName") == "Kent County Council"
    assert party.find("gmd:role/gmd:CI_RoleCode", NS).get("codeListValue") == "custodian"
    assert shown["Responsible organisation"] == "Kent County Council (role: custodian)"
    email = "gmd:contactInfo/gmd:CI_Contact/gmd:address/gmd:CI_Address/gmd:electronicMailAddress"
    assert text(party, email) == shown["Contact"] == "infraplan-support@example.org"
    contact = root.find("gmd:contact/gmd:CI_ResponsibleParty", NS)
    assert (
        f"{text(contact, 'gmd:organisationName')}, {text(contact, email)}"
        == (shown["Metadata point of contact"])
    )
    assert contact.find("gmd:role/gmd:CI_RoleCode", NS).get("codeListValue") == "pointOfContact"
    updated = timezone.localtime(districts.updated_at).date()
    assert root.find("gmd:dateStamp/gco:Date", NS).text == updated.isoformat()
    assert shown["Metadata date"] == f"{updated:%-d %B %Y}"
    # Who may see it and on what terms.
    access, use = root.findall(
        f"{IDENTIFICATION}/gmd:resourceConstraints/gmd:MD_LegalConstraints", NS
    )
    assert access.find("gmd:otherConstraints/gmx:Anchor", NS).get(HREF) == NO_LIMITATIONS
    assert shown["Access constraints"] == "Public: anyone, without signing in"
    assert text(use, "gmd:otherConstraints") == shown["Use constraints (licence)"]
    assert text(use, "gmd:otherConstraints") == districts.licence
    identifier = root.find(f"{CITATION}/gmd:identifier/gmd:MD_Identifier/gmd:code/gmx:Anchor", NS)
    assert identifier.text == identifier.get(HREF) == shown["Resource identifier"]
    statement = "gmd:dataQualityInfo/gmd:DQ_DataQuality/gmd:lineage/gmd:LI_Lineage/gmd:statement"
    assert text(root, statement) == shown["Lineage"] == districts.lineage
    # The extent the current version was measured to have: as the page writes it, and as held.
    box = [
        float(root.find(f"{BBOX}/gmd:{name}/gco:Decimal", NS).text)
        for name in (
            "westBoundLongitude",
            "southBoundLatitude",
            "eastBoundLongitude",
            "northBoundLatitude",
        )
    ]
    assert box == [float(value) for value in re.findall(r"-?\d+\.\d+", shown["Extent (WGS84)"])]
    held = districts.current_version.extent["wgs84"]
    assert box == pytest.approx(held, abs=5e-7)
    # The downloads the page offers, and the OGC API collection.
    content = page.content.decode()
    offered = re.search(r'<ul class="govuk-list" id="download-links">(.*?)</ul>', content, re.S)
    links = re.findall(r'href="([^"]+)">([^<]+)<', offered[1])
    formats = root.findall(
        "gmd:distributionInfo/gmd:MD_Distribution/gmd:distributionFormat/gmd:MD_Format", NS
    )
    assert [text(entry, "gmd:name") for entry in formats] == [title for _, title in links]
    assert all(entry.find("gmd:version", NS).get(NIL) == "unknown" for entry in formats)
    urls = [entry.find("gmd:linkage/gmd:URL", NS).text for entry in root.findall(TRANSFER, NS)]
    assert urls == [
        *(f"http://127.0.0.1:8000{href}" for href, _ in links),
        "http://127.0.0.1:8000/ogcapi/collections/districts",
    ]


def test_markup_in_the_values_is_escaped_and_read_back_as_written(personas, client_as):
    title = "Sites <&> \"quoted\" and 'single'"
    dataset_make(
        slug="odd",
        owner=personas.organisation_a,
        title=title,
        abstract="Rows with <b>tags</b> & ampersands ]]> in them.",
        keywords=["<script>", "a & b"],
        licence='OGL & "more"',
    )
    response = client_as(None).get("/datasets/odd/metadata.xml")
    root = record(response)
    assert b"&lt;&amp;&gt;" in response.content and b"<b>" not in response.content
    assert text(root, f"{CITATION}/gmd:title") == title
    assert text(root, f"{IDENTIFICATION}/gmd:abstract") == (
        "Rows with <b>tags</b> & ampersands ]]> in them."
    )
    keywords = f"{IDENTIFICATION}/gmd:descriptiveKeywords/gmd:MD_Keywords/gmd:keyword"
    assert texts(root, keywords) == ["<script>", "a & b"]
    constraints = f"{IDENTIFICATION}/gmd:resourceConstraints/gmd:MD_LegalConstraints"
    assert texts(root, f"{constraints}/gmd:otherConstraints")[-1] == 'OGL & "more"'


def test_a_character_xml_cannot_hold_is_left_out_not_written(personas, client_as):
    dataset_make(slug="odd", owner=personas.organisation_a, title="Bell\x07 sites")
    root = record(client_as(None).get("/datasets/odd/metadata.xml"))
    assert text(root, f"{CITATION}/gmd:title") == "Bell sites"


def test_a_restricted_dataset_is_a_404_for_outsiders_and_its_record_for_its_owner(
    restricted, personas, client_as
):
    for outsider in (personas.anonymous, personas.member_b):
        response = client_as(outsider).get("/datasets/a-only-sites/metadata.xml")
        assert response.status_code == 404
        assert b"A only sites" not in response.content
    for insider in (personas.data_manager_a, personas.viewer_a):
        response = client_as(insider).get("/datasets/a-only-sites/metadata.xml")
        root = record(response)
        assert text(root, f"{CITATION}/gmd:title") == "A only sites"
        assert response["Cache-Control"] == "private, max-age=300"
    # Access is limited, in the words the page uses: not INSPIRE's "no limitations".
    access = root.find(f"{IDENTIFICATION}/gmd:resourceConstraints/gmd:MD_LegalConstraints", NS)
    assert access.find("gmd:otherConstraints/gmx:Anchor", NS) is None
    assert text(access, "gmd:otherConstraints") == "Named organisations only"
    party = root.find(f"{IDENTIFICATION}/gmd:pointOfContact/gmd:CI_ResponsibleParty", NS)
    assert text(party, "gmd:organisationName") == "Organisation A"


def test_head_is_answered_as_get_without_a_body(districts, client_as):
    response = client_as(None).head("/datasets/districts/metadata.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    assert response.content == b""


def test_a_dataset_with_nothing_published_has_a_record_without_a_bounding_box(personas, client_as):
    dataset_make(slug="waiting", owner=personas.organisation_a)
    root = record(client_as(None).get("/datasets/waiting/metadata.xml"))
    assert text(root, f"{CITATION}/gmd:title") == "Waiting"
    assert root.find(BBOX, NS) is None
    # The period, mandatory in GEMINI, is there though nobody stated it: both ends unknown.
    begin, end = (
        root.find(f"{PERIOD}/gml:beginPosition", NS),
        root.find(f"{PERIOD}/gml:endPosition", NS),
    )
    assert (begin.text, begin.get("indeterminatePosition")) == (None, "unknown")
    assert (end.text, end.get("indeterminatePosition")) == (None, "unknown")
    assert root.find("gmd:distributionInfo", NS) is None  # nothing to download yet
    # Nor the dates and keywords it was not given: left out, or said to be unknown.
    assert root.find(f"{CITATION}/gmd:date", NS).get(NIL) == "unknown"
    assert root.find(f"{IDENTIFICATION}/gmd:descriptiveKeywords", NS) is None
    assert root.find(f"{IDENTIFICATION}/gmd:spatialResolution", NS) is None


def test_without_a_reference_date_the_first_publication_is_the_records_date(personas, client_as):
    """GEMINI requires a reference date: a dataset not given one was published on the
    platform on a known day."""
    dataset = dataset_make(slug="allocations", owner=personas.organisation_a)
    published_days_ago(version_publish_points(dataset=dataset, points={"S1": (615000, 157500)}), 3)
    version_publish_points(dataset=dataset, points={"S2": (615100, 157600)})
    root = record(client_as(None).get("/datasets/allocations/metadata.xml"))
    cited = root.find(f"{CITATION}/gmd:date/gmd:CI_Date", NS)
    assert cited.find("gmd:date/gco:Date", NS).text == days_ago(3)
    code = cited.find("gmd:dateType/gmd:CI_DateTypeCode", NS)
    assert code.get("codeListValue") == "publication"


def test_a_table_has_no_reference_system_and_says_it_is_a_table(personas, client_as):
    dataset_make(slug="counts", owner=personas.organisation_a, geometry_type="none")
    root = record(client_as(None).get("/datasets/counts/metadata.xml"))
    assert root.find("gmd:referenceSystemInfo", NS) is None
    kind = root.find(
        f"{IDENTIFICATION}/gmd:spatialRepresentationType/gmd:MD_SpatialRepresentationTypeCode", NS
    )
    assert kind.get("codeListValue") == "textTable"


def test_as_of_gives_the_extent_and_downloads_of_the_version_then(restricted, personas, client_as):
    published_days_ago(restricted.current_version, 10)
    version_publish_points(dataset=restricted, points={"far": (630000, 160000)})
    client = client_as(personas.viewer_a)
    as_of = days_ago(5)
    root = record(client.get(f"/datasets/a-only-sites/metadata.xml?as_of={as_of}"))
    shown = summary(client.get(f"/datasets/a-only-sites/?as_of={as_of}"))
    east = float(root.find(f"{BBOX}/gmd:eastBoundLongitude/gco:Decimal", NS).text)
    assert east == float(re.findall(r"-?\d+\.\d+", shown["Extent (WGS84)"])[2])
    assert east < 0.9  # Ashford, not the point published since
    now = record(client.get("/datasets/a-only-sites/metadata.xml"))
    assert float(now.find(f"{BBOX}/gmd:eastBoundLongitude/gco:Decimal", NS).text) > 1.1
    urls = [entry.find("gmd:linkage/gmd:URL", NS).text for entry in root.findall(TRANSFER, NS)]
    assert f"/datasets/a-only-sites/download.csv?as_of={as_of}" in urls[0]


@pytest.mark.parametrize(
    ("as_of", "status", "says"),
    [
        ("yesterday", 400, "Enter the date as year-month-day"),
        ("2999-01-01", 400, "The date must be today or in the past"),
        ("2000-01-01", 404, "Nothing had been published on 1 January 2000 yet"),
    ],
)
def test_a_date_the_page_would_not_show_is_refused_in_words(
    restricted, personas, client_as, as_of, status, says
):
    response = client_as(personas.viewer_a).get(
        f"/datasets/a-only-sites/metadata.xml?as_of={as_of}"
    )
    assert response.status_code == status
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert says in response.content.decode()
    assert response["Cache-Control"] == "no-store"


def test_the_dataset_page_links_to_its_record(districts, client_as):
    content = client_as(None).get("/datasets/districts/").content.decode()
    assert (
        '<a class="govuk-link" href="/datasets/districts/metadata.xml" id="metadata-xml">'
        "Download this metadata as UK GEMINI 2.3 XML</a>" in content
    )


def test_the_page_as_of_a_date_links_to_the_record_as_of_that_date(restricted, personas, client_as):
    published_days_ago(restricted.current_version, 10)
    as_of = days_ago(5)
    content = client_as(personas.viewer_a).get(f"/datasets/a-only-sites/?as_of={as_of}")
    assert f'href="/datasets/a-only-sites/metadata.xml?as_of={as_of}"' in content.content.decode()


def test_the_snapshot_of_a_single_day_is_a_period_of_that_day(districts, client_as):
    Dataset.objects.filter(pk=districts.pk).update(
        temporal_start=date(2022, 7, 6), temporal_end=date(2022, 7, 6)
    )
    root = record(client_as(None).get("/datasets/districts/metadata.xml"))
    assert root.find(f"{PERIOD}/gml:beginPosition", NS).text == "2022-07-06"
    assert root.find(f"{PERIOD}/gml:endPosition", NS).text == "2022-07-06"
    assert summary(client_as(None).get("/datasets/districts/"))["Temporal extent"] == (
        "As at 6 July 2022"
    )
