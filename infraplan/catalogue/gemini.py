"""A dataset's metadata as a UK GEMINI 2.3 record: ISO 19115 metadata encoded as ISO/TS 19139
XML (gmd, gco, gml, gmx), for a catalogue or data.gov.uk to harvest.

It says what the dataset page says (``dataset_page.dataset_page`` and the page's download offer),
no more: a value the page has not got is left out, or marked ``gco:nilReason="unknown"`` where
ISO 19139 requires the element. The elements are in the order the ISO 19139 schemas require.
The document is built with ElementTree, which escapes every value.
"""

import re
import uuid
import xml.etree.ElementTree as ET
from datetime import date

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from infraplan.exports.forms import DownloadOffer

from .dataset_page import DatasetPage, Extent2D
from .history import first_published_at
from .models import AccessLevel, Dataset, GeometryType

GMD = "http://www.isotc211.org/2005/gmd"
GCO = "http://www.isotc211.org/2005/gco"
GML = "http://www.opengis.net/gml/3.2"
GMX = "http://www.isotc211.org/2005/gmx"
XLINK = "http://www.w3.org/1999/xlink"
NAMESPACES = {"gmd": GMD, "gco": GCO, "gml": GML, "gmx": GMX, "xlink": XLINK}
for _prefix, _uri in NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)

MEDIA_TYPE = "application/xml; charset=utf-8"

CODE_LISTS = "http://standards.iso.org/iso/19139/resources/gmxCodelists.xml"
LANGUAGE_CODES = "http://www.loc.gov/standards/iso639-2/php/code_list.php"
STORAGE_CRS = ("EPSG:27700", "http://www.opengis.net/def/crs/EPSG/0/27700")
# The GeoJSON download and the bounding box are in WGS84 (the page says so too).
OUTPUT_CRS = ("EPSG:4326", "http://www.opengis.net/def/crs/EPSG/0/4326")
NO_LIMITATIONS = (
    "No limitations to public access",
    "http://inspire.ec.europa.eu/metadata-codelist/LimitationsOnPublicAccess/noLimitations",
)
# The dataset's reference date is "when the source was published or last revised" (its form's
# words); a republished source is published anew, so ISO's "publication" names both.
REFERENCE_DATE_TYPE = "publication"
# GEMINI asks every dataset record for a conformity statement on the INSPIRE interoperability
# rules, with its exact title and date; nobody has evaluated the platform's datasets against
# them, so the result is unknown, never a pass or a fail.
INSPIRE_INTEROPERABILITY = (
    "Commission Regulation (EU) No 1089/2010 of 23 November 2010 implementing Directive "
    "2007/2/EC of the European Parliament and of the Council as regards interoperability of "
    "spatial data sets and services"
)
INSPIRE_INTEROPERABILITY_PUBLISHED = date(2010, 12, 8)
NOT_EVALUATED = "Not evaluated against the INSPIRE interoperability rules."
# Characters XML 1.0 cannot hold at all, not even escaped: left out of every value.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _q(name: str) -> str:
    """``gmd:title`` as ElementTree's ``{namespace}title``."""
    prefix, local = name.split(":")
    return f"{{{NAMESPACES[prefix]}}}{local}"


def _add(parent: ET.Element, *path: str) -> ET.Element:
    """Nested elements ``path`` under ``parent``; returns the last."""
    for name in path:
        parent = ET.SubElement(parent, _q(name))
    return parent


def _unknown(parent: ET.Element, *path: str) -> ET.Element:
    """``path``, its value not known: empty, with ``gco:nilReason="unknown"``."""
    element = _add(parent, *path)
    element.set(_q("gco:nilReason"), "unknown")
    return element


def _clean(value: str) -> str:
    return NOT_XML.sub("", value).strip()


def _text(parent: ET.Element, *path: str, value: str) -> ET.Element:
    """``path`` holding ``value`` as a gco:CharacterString; empty: nil, "unknown"."""
    if not (text := _clean(value)):
        return _unknown(parent, *path)
    element = _add(parent, *path)
    _add(element, "gco:CharacterString").text = text
    return element


def _anchor(parent: ET.Element, *path: str, text: str, href: str) -> ET.Element:
    anchor = _add(parent, *path, "gmx:Anchor")
    anchor.set(_q("xlink:href"), href)
    anchor.text = _clean(text)
    return anchor


def _code(parent: ET.Element, *path: str, value: str) -> ET.Element:
    """A value of an ISO 19139 code list: ``path`` ends in the list's element, e.g.
    ``gmd:CI_RoleCode``."""
    element = _add(parent, *path)
    element.set("codeList", f"{CODE_LISTS}#{path[-1].removeprefix('gmd:')}")
    element.set("codeListValue", value)
    element.text = value
    return element


def _english(parent: ET.Element, name: str) -> None:
    """``name`` (a language element) saying English, as ISO 639-2 codes it."""
    code = _add(parent, name, "gmd:LanguageCode")
    code.set("codeList", LANGUAGE_CODES)
    code.set("codeListValue", "eng")
    code.text = "eng"


def reference_date(dataset: Dataset) -> date | None:
    """The dataset's reference date as its data manager gave it; without one, the day its first
    version was published on the platform (GEMINI requires a date, and that one is known);
    None when nothing has been published."""
    if dataset.reference_date is not None:
        return dataset.reference_date
    first = first_published_at(dataset)
    return timezone.localdate(first) if first is not None else None


def _date(parent: ET.Element, when: date | None, date_type: str) -> None:
    """A CI_Date of ``date_type``; its date unknown when None."""
    if when is None:
        _unknown(parent, "gmd:date")
        return
    ci_date = _add(parent, "gmd:date", "gmd:CI_Date")
    _add(ci_date, "gmd:date", "gco:Date").text = when.isoformat()
    _code(ci_date, "gmd:dateType", "gmd:CI_DateTypeCode", value=date_type)


def _party(parent: ET.Element, name: str, role: str, email: str) -> None:
    """A CI_ResponsibleParty: an organisation, how to reach it about the dataset, its role."""
    party = _add(parent, "gmd:CI_ResponsibleParty")
    _text(party, "gmd:organisationName", value=name)
    address = _add(party, "gmd:contactInfo", "gmd:CI_Contact", "gmd:address", "gmd:CI_Address")
    _text(address, "gmd:electronicMailAddress", value=email)
    _code(party, "gmd:role", "gmd:CI_RoleCode", value=role)


def _format(parent: ET.Element, name: str) -> None:
    """An MD_Format: its name; its version is not known to the platform."""
    md_format = _add(parent, "gmd:MD_Format")
    _text(md_format, "gmd:name", value=name)
    _unknown(md_format, "gmd:version")


def _online(
    parent: ET.Element, url: str, name: str, description: str, *, protocol: str = ""
) -> None:
    resource = _add(parent, "gmd:onLine", "gmd:CI_OnlineResource")
    _add(resource, "gmd:linkage", "gmd:URL").text = url
    if protocol:
        _text(resource, "gmd:protocol", value=protocol)
    _text(resource, "gmd:name", value=name)
    _text(resource, "gmd:description", value=description)
    _code(resource, "gmd:function", "gmd:CI_OnLineFunctionCode", value="download")


def _site(path: str) -> str:
    """``path`` at the service's own address: the same however the request reached it."""
    return settings.SITE_URL.rstrip("/") + path


def resource_url(dataset: Dataset) -> str:
    """The dataset's resource identifier: its page at the service's address, as the page says."""
    return _site(reverse("dataset-detail", kwargs={"slug": dataset.slug}))


def file_identifier(dataset: Dataset) -> str:
    """The record's identifier: a UUID of the resource identifier, the same on every request,
    which a catalogue harvesting it again uses to replace its copy rather than add one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, resource_url(dataset)))


def dataset_record(*, dataset: Dataset, page: DatasetPage, download: DownloadOffer | None) -> bytes:
    """The UK GEMINI 2.3 record of ``dataset`` (which has passed the gate) as UTF-8 XML.

    ``page`` is what the dataset page shows (``dataset_page.dataset_page``, as of a version when
    the page is); ``download`` the downloads the page offers, None when it offers none (nothing
    published yet).
    """
    authority = settings.AUTHORITY_PROFILE.authority
    contact_email = authority.contact_email
    root = ET.Element(_q("gmd:MD_Metadata"))
    _text(root, "gmd:fileIdentifier", value=file_identifier(dataset))
    _english(root, "gmd:language")
    _code(root, "gmd:characterSet", "gmd:MD_CharacterSetCode", value="utf8")
    _code(root, "gmd:hierarchyLevel", "gmd:MD_ScopeCode", value="dataset")
    _party(_add(root, "gmd:contact"), authority.name, "pointOfContact", contact_email)
    _add(root, "gmd:dateStamp", "gco:Date").text = (
        timezone.localtime(dataset.updated_at).date().isoformat()
    )
    _text(root, "gmd:metadataStandardName", value="UK GEMINI")
    _text(root, "gmd:metadataStandardVersion", value="2.3")
    if page.is_spatial:
        for code, href in (STORAGE_CRS, OUTPUT_CRS):
            _anchor(
                root,
                "gmd:referenceSystemInfo",
                "gmd:MD_ReferenceSystem",
                "gmd:referenceSystemIdentifier",
                "gmd:RS_Identifier",
                "gmd:code",
                text=code,
                href=href,
            )
    _identification(_add(root, "gmd:identificationInfo"), dataset, page, contact_email)
    if download is not None:
        _distribution(_add(root, "gmd:distributionInfo"), dataset, page, download)
    _quality(_add(root, "gmd:dataQualityInfo"), dataset)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _identification(
    parent: ET.Element, dataset: Dataset, page: DatasetPage, contact_email: str
) -> None:
    info = _add(parent, "gmd:MD_DataIdentification")
    citation = _add(info, "gmd:citation", "gmd:CI_Citation")
    _text(citation, "gmd:title", value=dataset.title)
    _date(citation, reference_date(dataset), REFERENCE_DATE_TYPE)
    identifier = resource_url(dataset)
    _anchor(
        citation,
        "gmd:identifier",
        "gmd:MD_Identifier",
        "gmd:code",
        text=identifier,
        href=identifier,
    )
    _text(info, "gmd:abstract", value=dataset.abstract)
    if _clean(dataset.attribution):
        _text(info, "gmd:credit", value=dataset.attribution)
    # GEMINI asks an email of each responsible organisation; the page gives one contact for
    # the dataset, the service's, through which each of them is reached about it.
    for party in page.responsible:
        _party(_add(info, "gmd:pointOfContact"), party.name, party.role, contact_email)
    _code(
        info,
        "gmd:resourceMaintenance",
        "gmd:MD_MaintenanceInformation",
        "gmd:maintenanceAndUpdateFrequency",
        "gmd:MD_MaintenanceFrequencyCode",
        value=dataset.update_frequency,
    )
    if _clean(dataset.source_format):  # the page's "Data format": the source's own
        _format(_add(info, "gmd:resourceFormat"), dataset.source_format)
    keywords = [word for word in (_clean(str(entry)) for entry in dataset.keywords) if word]
    if keywords:
        group = _add(info, "gmd:descriptiveKeywords", "gmd:MD_Keywords")
        for word in keywords:
            _text(group, "gmd:keyword", value=word)
    _constraints(info, dataset)
    _code(
        info,
        "gmd:spatialRepresentationType",
        "gmd:MD_SpatialRepresentationTypeCode",
        value="textTable" if dataset.geometry_type == GeometryType.NONE else "vector",
    )
    _english(info, "gmd:language")
    if page.topic_category:
        _add(info, "gmd:topicCategory", "gmd:MD_TopicCategoryCode").text = page.topic_category
    _extent(info, dataset, page.extent_wgs84)


def _constraints(info: ET.Element, dataset: Dataset) -> None:
    """Limitations on public access, then use constraints (the licence): two legal constraints,
    as GEMINI asks."""
    access = _add(info, "gmd:resourceConstraints", "gmd:MD_LegalConstraints")
    _code(access, "gmd:accessConstraints", "gmd:MD_RestrictionCode", value="otherRestrictions")
    if dataset.access_level == AccessLevel.PUBLIC:
        text, href = NO_LIMITATIONS
        _anchor(access, "gmd:otherConstraints", text=text, href=href)
    else:
        # The INSPIRE code list names the Directive's grounds for limiting access; the
        # platform records who may see a dataset, not why, so the limitation is said in words.
        _text(access, "gmd:otherConstraints", value=dataset.get_access_level_display())
    use = _add(info, "gmd:resourceConstraints", "gmd:MD_LegalConstraints")
    _code(use, "gmd:useConstraints", "gmd:MD_RestrictionCode", value="otherRestrictions")
    _text(use, "gmd:otherConstraints", value=dataset.licence)


def _extent(info: ET.Element, dataset: Dataset, box: Extent2D | None) -> None:
    """The bounding box the version shown was measured to have (left out when nothing is
    published), and the period the dataset describes.

    GEMINI makes the temporal extent mandatory, so a period nobody stated is written with both
    ends unknown rather than left out (a record without it does not validate).
    """
    extent = _add(info, "gmd:extent", "gmd:EX_Extent")
    if box is not None:
        bbox = _add(extent, "gmd:geographicElement", "gmd:EX_GeographicBoundingBox")
        for name, value in (
            ("westBoundLongitude", box.min_x),
            ("eastBoundLongitude", box.max_x),
            ("southBoundLatitude", box.min_y),
            ("northBoundLatitude", box.max_y),
        ):
            # To six places, as the page writes it: about 10 cm.
            _add(bbox, f"gmd:{name}", "gco:Decimal").text = f"{value:.6f}"
    period = _add(
        extent, "gmd:temporalElement", "gmd:EX_TemporalExtent", "gmd:extent", "gml:TimePeriod"
    )
    period.set(_q("gml:id"), "temporal-extent")
    for name, day in (
        ("gml:beginPosition", dataset.temporal_start),
        ("gml:endPosition", dataset.temporal_end),
    ):
        position = _add(period, name)
        if day is None:
            position.set("indeterminatePosition", "unknown")  # not "now": not stated
        else:
            position.text = day.isoformat()


def _distribution(
    parent: ET.Element, dataset: Dataset, page: DatasetPage, download: DownloadOffer
) -> None:
    """The formats the page offers downloads in, a link to each, and the OGC API - Features
    collection where there is one (a spatial dataset with a current version)."""
    distribution = _add(parent, "gmd:MD_Distribution")
    for exporter in download.formats:
        _format(_add(distribution, "gmd:distributionFormat"), exporter.title)
    options = _add(distribution, "gmd:transferOptions", "gmd:MD_DigitalTransferOptions")
    for link in download.links:
        _online(
            options, _site(link.url), f"{dataset.title} ({link.exporter.title})", link.exporter.hint
        )
    if page.is_spatial and dataset.current_version_number():
        _online(
            options,
            _site(reverse("ogcapi-collection", kwargs={"slug": dataset.slug})),
            f"{dataset.title} (OGC API - Features collection {dataset.slug})",
            "The features for GIS software, as an OGC API - Features collection.",
            protocol="OGC API - Features",
        )


def _quality(parent: ET.Element, dataset: Dataset) -> None:
    quality = _add(parent, "gmd:DQ_DataQuality")
    _code(quality, "gmd:scope", "gmd:DQ_Scope", "gmd:level", "gmd:MD_ScopeCode", value="dataset")
    result = _add(
        quality, "gmd:report", "gmd:DQ_DomainConsistency", "gmd:result", "gmd:DQ_ConformanceResult"
    )
    specification = _add(result, "gmd:specification", "gmd:CI_Citation")
    _text(specification, "gmd:title", value=INSPIRE_INTEROPERABILITY)
    _date(specification, INSPIRE_INTEROPERABILITY_PUBLISHED, "publication")
    _text(result, "gmd:explanation", value=NOT_EVALUATED)
    _unknown(result, "gmd:pass")
    _text(quality, "gmd:lineage", "gmd:LI_Lineage", "gmd:statement", value=dataset.lineage)
