"""A GeoPackage or GeoJSON download, edited in a GIS and loaded again: the file keeps its
geometry as geometry, not in cells, and is still recognised as the platform's by its reference,
district and ward columns, so only what was edited changes. GeoJSON's feature ``id`` (the
reference, which GDAL reads back as a column ``id``) is left out with them; an ``id`` that is
not the reference is the council's own and kept."""

import json
from pathlib import Path

import pyogrio.raw
import pytest

from infraplan.catalogue.history import versions_diff
from infraplan.catalogue.ingest import IngestMapping, ingest_run
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make, demo_dataset_load

pytestmark = pytest.mark.django_db

PLATFORM_NAMES = {"reference", "district", "ward", "id"}
OWN_NAMES = {"ref", "name", "homes"}


@pytest.fixture
def sites(personas, districts, tmp_path):
    """Three sites in Canterbury and Dover, loaded from a council's CSV and placed in their
    districts and wards, as the download then says."""
    demo_dataset_load("wards")
    sites = dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "name", "type": "string", "title": "Name"},
                      {"name": "homes", "type": "integer", "title": "Homes"}],
    )  # fmt: skip
    path = tmp_path / "sites.csv"
    path.write_text(
        "ref,name,homes,Easting,Northing\nS1,Mill Lane,40,615000,157500\n"
        "S2,Station Road,12,615100,157600\nS3,Castle Hill,7,631800,141500\n"
    )
    ingest(sites, path, reference="ref")
    return sites


def download(client, tmp_path: Path, key: str) -> Path:
    response = client.get(f"/datasets/sites/download.{key}")
    assert response.status_code == 200
    path = tmp_path / f"download.{key}"
    path.write_bytes(b"".join(response.streaming_content))
    return path


def edit(path: Path, reference: str, name: str, value) -> Path:
    """The file as a GIS saves it after one value was changed: read and written by GDAL."""
    meta, _, geometry, values = pyogrio.raw.read(str(path))
    fields = list(meta["fields"])
    assert {"reference", "district", "ward"} <= set(fields)
    row = list(values[fields.index("reference")]).index(reference)
    column = values[fields.index(name)]
    column[row] = value
    edited = path.with_name(f"edited{path.suffix}")
    pyogrio.raw.write(
        str(edited), geometry, values, fields=fields, crs=meta["crs"],
        geometry_type=meta["geometry_type"], driver=pyogrio.detect_write_driver(str(edited)),
    )  # fmt: skip
    return edited


def ingest(dataset, path: Path, reference: str = "reference"):
    return ingest_run(
        actor=None, dataset=dataset, connector_key="upload", config={"path": str(path)},
        mapping=IngestMapping(reference=reference),
    )  # fmt: skip


def stored_names(dataset) -> set[str]:
    return {name for properties in current_features(dataset).values_list("properties", flat=True)
            for name in properties}  # fmt: skip


@pytest.mark.parametrize("key", ["gpkg", "geojson"])
def test_a_download_edited_in_a_gis_changes_only_the_value_edited(
    sites, personas, client_as, tmp_path, key
):
    path = download(client_as(personas.data_manager_a), tmp_path, key)
    names = pyogrio.read_info(str(path))["fields"]
    # Points, with no easting or northing columns: the geometry is the file's own.
    assert not {"easting", "northing", "geometry_wkt_epsg27700"} & set(names)
    assert ("id" in names) == (key == "geojson")  # GDAL reads GeoJSON's feature id as a column
    _, _, _, values = pyogrio.raw.read(str(path), columns=["district"])
    assert set(values[0]) == {"E07000106", "E07000108"}  # Canterbury, Dover: placed on loading

    version = ingest(sites, edit(path, "S2", "homes", 14))

    report = version.report
    assert (report["added"], report["changed"], report["removed"], report["unchanged"]) == (
        0, 1, 0, 2
    )  # fmt: skip
    [changed] = versions_diff(sites, version.number - 1, version.number).changed
    assert (changed.reference, changed.fields, changed.values) == (
        "S2",
        ["homes"],
        [("homes", 12, 14)],
    )
    assert stored_names(sites) == OWN_NAMES
    assert not {
        name
        for name in stored_names(sites)
        if name in PLATFORM_NAMES or name.startswith("property_")
    }
    [note] = [
        n for n in report["notes"] if n.startswith("The file is a download from this platform")
    ]
    said = "nor its id column, which repeats each feature's reference" in note
    assert said == (key == "geojson")


def test_a_geojson_id_that_is_not_the_reference_is_the_councils_own_and_kept(
    sites, personas, client_as, tmp_path
):
    path = download(client_as(personas.data_manager_a), tmp_path, "geojson")
    collection = json.loads(path.read_text())
    for feature in collection["features"]:
        feature["id"] = f"asset-{feature['id']}"
    path.write_text(json.dumps(collection))

    version = ingest(sites, path)

    assert version.report["changed"] == 3  # each now has its id
    ids = dict(current_features(sites).values_list("reference", "properties__id"))
    assert ids == {"S1": "asset-S1", "S2": "asset-S2", "S3": "asset-S3"}
    assert stored_names(sites) == OWN_NAMES | {"id"}
