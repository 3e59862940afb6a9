"""Downloads of a ward (``area=<the ward's ONS code>``): the features the platform placed in it,
as their ward column says, named in the file's metadata and its name, drawn framed on the ward;
its boundary read through the one gate as a district's is; and the dataset page's form, which
offers a district's wards without JavaScript."""

import io

import pyogrio
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils.html import escape
from PIL import Image

from infraplan.audit.models import AuditEntry
from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.models import Dataset, Feature
from infraplan.catalogue.publishing import (
    FeatureRow,
    version_add_features,
    version_publish,
    version_start,
)
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import (
    dataset_make,
    days_ago,
    published_days_ago,
    version_publish_points,
)
from infraplan.exports import png as png_module
from infraplan.exports.png import features_frame

from .conftest import csv_rows, geojson, layer, saved

pytestmark = pytest.mark.django_db

NAILBOURNE = "E05012954"  # a ward of Canterbury
CANTERBURY, ASHFORD, KENT = "E07000106", "E07000105", "E10000016"
DESCRIBED = "Nailbourne (E05012954), a ward of Canterbury"
NAILBOURNE_POINT = (618627, 151001)  # the ONS's own point for the ward, within it
ASHFORD_POINT = (601300, 142700)


def placed_in_ward(dataset: Dataset, ward: str) -> list[str]:
    """The references of the open schools PostGIS placed in ``ward`` (their ward column)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT reference FROM catalogue_feature
            WHERE dataset_id = %s AND valid_to IS NULL AND ward = %s
              AND properties ->> 'close_date' IS NULL
            ORDER BY reference
            """,
            [dataset.pk, ward],
        )
        return [reference for (reference,) in cursor.fetchall()]


def test_a_ward_holds_the_features_placed_in_it_and_says_so(ward_schools, client, tmp_path):
    expected = placed_in_ward(ward_schools, NAILBOURNE)
    assert expected  # village schools
    response = client.get("/datasets/schools/download.csv", {"area": NAILBOURNE})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="schools-{NAILBOURNE}.csv"'
    assert response["X-Feature-Count"] == str(len(expected))
    rows = csv_rows(response)
    assert sorted(row["reference"] for row in rows) == expected
    assert {(row["district"], row["ward"]) for row in rows} == {(CANTERBURY, NAILBOURNE)}
    # Not every school the ward's generalised boundary touches or holds: those placed in it.
    assert len(rows) < len(csv_rows(client.get("/datasets/schools/download.csv", {"area": CANTERBURY})))  # fmt: skip

    xlsx = saved(
        client.get("/datasets/schools/download.xlsx", {"area": NAILBOURNE}), tmp_path, "w.xlsx"
    )
    _, about, _ = layer(xlsx, "About")
    said = {row["Field1"]: row["Field2"] for row in about if row["Field1"]}
    assert said["Area"] == DESCRIBED and said["Features"] == str(len(expected))
    metadata = geojson(client.get("/datasets/schools/download.geojson", {"area": NAILBOURNE}))
    assert metadata["metadata"]["area"] == DESCRIBED
    assert len(metadata["features"]) == metadata["metadata"]["features"] == len(expected)
    gpkg = saved(
        client.get("/datasets/schools/download.gpkg", {"area": NAILBOURNE}), tmp_path, "w.gpkg"
    )
    info = pyogrio.read_info(gpkg, layer="schools")
    assert info["layer_metadata"]["Area"] == DESCRIBED
    assert info["features"] == len(expected)
    # The code in lower case is the same ward; the command line takes it too.
    lower = client.get("/datasets/schools/download.csv", {"area": NAILBOURNE.lower()})
    assert sorted(row["reference"] for row in csv_rows(lower)) == expected
    path = tmp_path / "out.csv"
    out = io.StringIO()
    call_command("export", "schools", "--format", "csv", "--area", NAILBOURNE, "-o", str(path), stdout=out)  # fmt: skip
    assert out.getvalue() == f"Wrote {len(expected)} features to {path}.\n"


def test_a_feature_the_platform_did_not_place_is_in_the_ward_its_point_lies_in(personas, client):
    """As for a district: a feature placed nowhere (its dataset loaded before the boundaries)
    is in the ward that holds its inner point; one placed in another ward is not, wherever the
    generalised boundaries put its point."""
    demo_load(only={"districts", "wards"})
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    version_publish_points(
        dataset=sites,
        points={"unplaced": NAILBOURNE_POINT, "elsewhere": NAILBOURNE_POINT, "far": ASHFORD_POINT},
    )
    another = (
        current_features(Dataset.objects.get(slug="wards"))
        .filter(district=CANTERBURY)
        .exclude(reference=NAILBOURNE)
        .values_list("reference", flat=True)
        .first()
    )
    Feature.objects.filter(dataset=sites, reference="elsewhere").update(
        district=CANTERBURY, ward=another
    )
    rows = csv_rows(client.get("/datasets/sites/download.csv", {"area": NAILBOURNE}))
    assert [row["reference"] for row in rows] == ["unplaced"]


def listing_make(owner) -> Dataset:
    """A list without geometry, two of its rows with a ward (as a source other than a load
    may say), one without."""
    listing = dataset_make(slug="listing", owner=owner, geometry_type="none")
    version = version_start(actor=None, dataset=listing, source="test")
    rows = [
        FeatureRow(organisation=owner, reference=reference, properties={"name": reference},
                   geometry=None)
        for reference in ("in-ward", "other-ward", "no-ward")
    ]  # fmt: skip
    with transaction.atomic():
        version_add_features(version=version, rows=rows)
        Feature.objects.filter(dataset=listing, reference="in-ward").update(
            district=CANTERBURY, ward=NAILBOURNE
        )
        Feature.objects.filter(dataset=listing, reference="other-ward").update(
            district=ASHFORD, ward="E05000001"
        )
        version_publish(actor=None, version=version)
    return listing


def test_a_list_without_geometry_is_chosen_by_its_ward_column(personas, client):
    demo_load(only={"districts", "wards"})
    listing_make(personas.organisation_a)
    for key in ("csv", "xlsx"):
        response = client.get(f"/datasets/listing/download.{key}", {"area": NAILBOURNE})
        assert response.status_code == 200 and response["X-Feature-Count"] == "1"
    rows = csv_rows(client.get("/datasets/listing/download.csv", {"area": NAILBOURNE}))
    assert [(row["reference"], row["ward"]) for row in rows] == [("in-ward", NAILBOURNE)]


def test_a_map_of_a_ward_is_framed_on_it_with_its_outline(ward_schools, client, monkeypatch):
    drawn = {}
    real = png_module.map_png

    def watched(**arguments):
        drawn.update(arguments)
        return real(**arguments)

    monkeypatch.setattr(png_module, "map_png", watched)
    response = client.get("/datasets/schools/download.png", {"area": NAILBOURNE})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="schools-{NAILBOURNE}.png"'
    wards = Dataset.objects.get(slug="wards")
    nailbourne = current_features(wards).get(reference=NAILBOURNE)
    assert drawn["bbox"] == pytest.approx(features_frame(nailbourne.geom.extent))
    assert [dataset.slug for dataset in drawn["datasets"]] == ["wards", "schools"]
    (outline,) = drawn["records"](wards)
    assert outline.reference == NAILBOURNE
    assert len(drawn["records"](ward_schools)) == len(placed_in_ward(ward_schools, NAILBOURNE))
    # The ward boundaries' attribution, beside the schools'.
    with Image.open(io.BytesIO(response.getvalue())) as image:
        assert "Office for National Statistics" in image.text["Copyright"]


def refusal(response) -> str:
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    return response.content.decode().removeprefix("Cannot make this download: ")


def test_an_unknown_code_says_wards_may_be_given_too(ward_schools, client):
    response = client.get("/datasets/schools/download.csv", {"area": "E05999999"})
    assert response.status_code == 400
    said = refusal(response)
    assert said.startswith("area: 'E05999999' is not an area of this service; its areas are: ")
    assert said.endswith(
        "; or give the ONS code of one of the wards of Electoral wards (December 2023) (the "
        "dataset page's download form lists them)."
    )


def restrict_wards(personas) -> Dataset:
    wards = Dataset.objects.get(slug="wards")
    wards.access_level = "organisations"
    wards.owner = personas.organisation_a
    wards.save(update_fields=["access_level", "owner"])
    return wards


def test_a_restricted_ward_boundary_makes_a_public_download_private_and_is_audited(
    personas, client_as, security_events
):
    """As a restricted district boundary does: the features of a public dataset chosen by a
    restricted ward are private to the person and audited; to anyone who may not see the ward
    boundaries, the ward is no area at all, and the form does not offer it."""
    demo_load(only={"districts", "wards"})
    public = dataset_make(slug="public-sites", owner=personas.organisation_a)
    version_publish_points(dataset=public, points={"inside": NAILBOURNE_POINT})
    wards = restrict_wards(personas)
    url = "/datasets/public-sites/download.csv"
    member = client_as(personas.viewer_a).get(url, {"area": NAILBOURNE})
    assert member.status_code == 200
    assert [row["reference"] for row in csv_rows(member)] == ["inside"]
    assert member["Cache-Control"] == "private, max-age=300"
    assert {"Cookie", "Authorization"} <= {v.strip() for v in member["Vary"].split(",")}
    (entry,) = AuditEntry.objects.filter(action="dataset.read.download")
    assert entry.target_id == str(wards.pk)
    (event,) = security_events("export.restricted")
    assert event["datasets"] == ["wards"]
    outsider = client_as(personas.member_b).get(url, {"area": NAILBOURNE})
    assert outsider.status_code == 400
    said = refusal(outsider)
    assert said.startswith(f"area: '{NAILBOURNE}' is not an area of this service")
    assert "Nailbourne" not in said and "ward" not in said
    # Without an area, the public dataset is public.
    assert client_as(personas.viewer_a).get(url)["Cache-Control"] == "public, max-age=300"
    # The form offers the wards to those who may see them only.
    offered = client_as(personas.viewer_a).get("/datasets/public-sites/").content.decode()
    assert f'<option value="{NAILBOURNE}">Nailbourne ({NAILBOURNE})</option>' in offered
    hidden = client_as(personas.member_b).get("/datasets/public-sites/").content.decode()
    assert 'name="ward"' not in hidden and "Nailbourne" not in hidden
    choose = client_as(personas.member_b).get(
        "/datasets/public-sites/download/", {"format": "csv", "area": "", "ward": NAILBOURNE}
    )
    assert choose.status_code == 400 and "Nailbourne" not in choose.content.decode()


def test_a_restricted_ward_boundary_chooses_a_list_without_geometry_privately(
    personas, client_as, security_events
):
    demo_load(only={"districts", "wards"})
    listing_make(personas.organisation_a)
    wards = restrict_wards(personas)
    url = "/datasets/listing/download.csv"
    member = client_as(personas.viewer_a).get(url, {"area": NAILBOURNE})
    assert [row["reference"] for row in csv_rows(member)] == ["in-ward"]
    assert member["Cache-Control"] == "private, max-age=300"
    (entry,) = AuditEntry.objects.filter(action="dataset.read.download")
    assert entry.target_id == str(wards.pk)
    assert security_events("export.restricted")[0]["datasets"] == ["wards"]
    assert client_as(personas.member_b).get(url, {"area": NAILBOURNE}).status_code == 400


# The dataset page's form, as a browser without JavaScript sends it.


def download_section(client, slug: str) -> str:
    return client.get(f"/datasets/{slug}/").content.decode().split('id="download"')[1]


def test_the_form_offers_the_wards_grouped_by_district(ward_schools, client):
    section = download_section(client, "schools")
    assert '<label class="govuk-label" for="download-ward">Ward (optional)</label>' in section
    assert 'aria-describedby="download-ward-hint"' in section
    assert '<div id="download-ward-hint" class="govuk-hint">' in section
    select = section.split('<select class="govuk-select" id="download-ward" name="ward"')[1]
    select = select.split("</select>")[0]
    assert '<option value="">All of the area</option>' in select
    assert select.count("<optgroup ") == 13  # the districts, each with its wards
    canterbury = select.split('<optgroup label="Canterbury">')[1].split("</optgroup>")[0]
    assert f'<option value="{NAILBOURNE}">Nailbourne ({NAILBOURNE})</option>' in canterbury
    assert canterbury.count("<option ") == 21  # Canterbury's wards, and no other
    # In the profile's order: Ashford's wards first.
    assert select.index('label="Ashford"') < select.index('label="Canterbury"')
    # A list without geometry is placed in no ward: none are offered.
    demo_load(only={"conservation-areas"})
    assert 'name="ward"' not in download_section(client, "conservation-areas")


@pytest.mark.parametrize("area", ["", CANTERBURY])
def test_a_ward_chosen_on_the_form_is_the_downloads_area(ward_schools, client, area):
    query = {"format": "gpkg", "area": area, "ward": NAILBOURNE, "ended": "show"}
    response = client.get("/datasets/schools/download/", query)
    assert response.status_code == 302
    assert response["Location"] == (f"/datasets/schools/download.gpkg?area={NAILBOURNE}&ended=show")
    # No ward: the area, as before.
    query = {"format": "csv", "area": CANTERBURY, "ward": ""}
    response = client.get("/datasets/schools/download/", query)
    assert response["Location"] == f"/datasets/schools/download.csv?area={CANTERBURY}"


def test_a_ward_of_another_district_is_shown_again_with_the_error(ward_schools, client):
    # A date the schools can be downloaded as of (the form says what is wrong with any other).
    published_days_ago(ward_schools.current_version, 30)
    query = {"format": "xlsx", "area": ASHFORD, "ward": NAILBOURNE, "ended": "show",
             "as_of": days_ago(10)}  # fmt: skip
    response = client.get("/datasets/schools/download/", query)
    assert response.status_code == 400
    assert response["Cache-Control"] == "no-store"
    page = response.content.decode()
    message = (
        "Nailbourne is a ward of Canterbury, not Ashford: choose one of Ashford's wards, or "
        "choose Canterbury as the area"
    )
    assert "<title>Error: Download " in page
    assert '<div class="govuk-error-summary" data-module="govuk-error-summary">' in page
    assert f'<a href="#download-ward">Ward (optional): {escape(message)}</a>' in page
    assert (
        '<p class="govuk-error-message" id="download-ward-error"><span class="govuk-visually-'
        f'hidden">Error:</span> {escape(message)}</p>'
    ) in page
    assert 'aria-describedby="download-ward-hint download-ward-error"' in page
    # Every choice kept.
    assert 'value="xlsx" aria-describedby="download-format-xlsx-hint" checked' in page
    assert f'<option value="{ASHFORD}" selected>' in page
    assert f'<option value="{NAILBOURNE}" selected>' in page
    assert 'value="show" aria-describedby="download-ended-hint" checked' in page
    assert f'<input type="hidden" name="as_of" value="{days_ago(10)}">' in page


def test_a_ward_in_the_county_chosen_goes_on_and_one_outside_it_is_an_error(ward_schools, client):
    demo_load(only={"kent-county-outline"})
    response = client.get(
        "/datasets/schools/download/", {"format": "csv", "area": KENT, "ward": NAILBOURNE}
    )
    assert response["Location"] == f"/datasets/schools/download.csv?area={NAILBOURNE}"
    medway = (
        current_features(Dataset.objects.get(slug="wards"))
        .filter(district="E06000035")
        .values_list("reference", flat=True)
        .first()
    )
    outside = client.get(
        "/datasets/schools/download/", {"format": "csv", "area": KENT, "ward": medway}
    )
    assert outside.status_code == 400
    assert "is a ward of Medway, not Kent: choose one of Kent&#x27;s wards" in outside.content.decode()  # fmt: skip
    unknown = client.get(
        "/datasets/schools/download/", {"format": "csv", "area": "", "ward": "E05999999"}
    )
    assert unknown.status_code == 400
    assert "Ward (optional): Choose a ward from the list" in unknown.content.decode()
