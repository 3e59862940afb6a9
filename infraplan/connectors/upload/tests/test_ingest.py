"""Uploads through the whole pipeline: what the reader decides is what the dataset stores."""

from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely

from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make

from .test_files import shapefile_text_members, zipped
from .workbooks import Formula, write_workbook

pytestmark = pytest.mark.django_db

CAFE = "Caf\u00e9 \u00a3"


@pytest.fixture
def sites(personas):
    return dataset_make(slug="sites", owner=personas.organisation_a)


def ingest(dataset, path: Path, **config):
    return ingest_run(
        actor=None, dataset=dataset, connector_key="upload", config={"path": str(path), **config},
        mapping=IngestMapping(reference="ref"),
    )  # fmt: skip


def test_a_shapefile_whose_cpg_wrongly_says_utf8_is_stored_with_its_letters(tmp_path, sites):
    members = shapefile_text_members(tmp_path, CAFE, "cp1252")
    members["sites.cpg"] = b"UTF-8"
    version = ingest(sites, zipped(tmp_path / "sites.zip", members))
    assert version.is_current
    assert list(current_features(sites).values_list("reference", "properties__name")) == [
        ("S1", CAFE)
    ]
    assert any("The Shapefile's .cpg file says" in note for note in version.report["notes"])


def test_the_workbook_sheet_named_as_the_layer_is_the_one_stored(tmp_path, sites):
    header = ["ref", "easting", "northing"]
    path = write_workbook(
        tmp_path / "sites.xlsx",
        {
            "Sites2023": [header, ["A1", 615000, 157500]],
            "Sites2024": [header, ["B1", 616000, 158000]],
        },
    )
    version = ingest(sites, path, layer="Sites2024")
    assert version.source == "sites.xlsx (layer Sites2024)"
    assert list(current_features(sites).values_list("reference", flat=True)) == ["B1"]


@pytest.fixture
def listed(personas):
    """A dataset without geometry, as the conservation-area list is."""
    return dataset_make(slug="areas", owner=personas.organisation_a, geometry_type="none")


def write_attribute_table(path: Path, with_geometry: bool) -> Path:
    """A GeoPackage layer of two rows: an attribute table, or points whose geometry is unused."""
    values = [
        np.array(["CA1", "CA2"], dtype=object),
        np.array(["Barton", "Wincheap"], dtype=object),
    ]
    geometry = (
        np.array(shapely.to_wkb([shapely.Point(615000, 157500)] * 2), dtype=object)
        if with_geometry
        else None
    )
    pyogrio.raw.write(
        path, geometry, values, ["ref", "name"], driver="GPKG", layer="areas",
        geometry_type="Point" if with_geometry else None,
        crs="EPSG:27700" if with_geometry else None,
    )  # fmt: skip
    return path


@pytest.mark.parametrize("kind", ["csv", "xlsx", "gpkg table", "gpkg points"])
def test_a_dataset_without_geometry_is_loaded_from_a_table_without_coordinates(
    tmp_path, listed, kind
):
    """Its list of values needs no coordinate columns, and a layer without geometry is what it
    is: neither is refused as it is for a dataset on the map."""
    rows = [["ref", "name"], ["CA1", "Barton"], ["CA2", "Wincheap"]]
    if kind == "csv":
        path = tmp_path / "areas.csv"
        path.write_text("\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8")
    elif kind == "xlsx":
        path = write_workbook(tmp_path / "areas.xlsx", {"Areas": rows})
    else:
        path = write_attribute_table(tmp_path / "areas.gpkg", with_geometry=kind == "gpkg points")
    version = ingest(listed, path)
    assert version.is_current and version.report["rows_read"] == 2
    stored = current_features(listed).order_by("reference")
    assert list(stored.values_list("reference", "properties__name", "geom")) == [
        ("CA1", "Barton", None), ("CA2", "Wincheap", None)
    ]  # fmt: skip
    unkept = "The file's geometry is not kept: the dataset has none, so only its values are read."
    assert (unkept in version.report["notes"]) is (kind == "gpkg points")


def test_a_table_without_coordinates_is_still_refused_for_a_dataset_on_the_map(tmp_path, sites):
    path = tmp_path / "areas.csv"
    path.write_text("ref,name\nCA1,Barton\n", encoding="utf-8")
    with pytest.raises(IngestRejected, match="The table has no coordinate columns"):
        ingest(sites, path)
    path = write_attribute_table(tmp_path / "areas.gpkg", with_geometry=False)
    with pytest.raises(
        IngestRejected, match=r"has no geometry .* export the data with its geometry"
    ):
        ingest(sites, path)


def test_formulas_without_a_saved_result_are_unknown_and_said_so(tmp_path, sites):
    """GDAL reads a formula that no spreadsheet program calculated as empty: the value stays
    unknown (never a zero), and the report says which cells and what to do."""
    rows = [
        ["ref", "easting", "northing", "homes"],
        ["A", 615000, 157500, Formula("10*2", result=20)],
        ["B", 615100, 157500, Formula("10*3")],
        ["C", 615200, 157500, Formula("SUM(D2:D3)")],
    ]
    version = ingest(sites, write_workbook(tmp_path / "sites.xlsx", {"Sites": rows}))
    stored = current_features(sites).order_by("reference")
    assert list(stored.values_list("reference", "properties__homes")) == [
        ("A", 20), ("B", None), ("C", None)
    ]  # fmt: skip
    assert (
        "2 cells hold formulas without a saved result (the first is D3), read as empty: the "
        "workbook was written by a program that does not calculate formulas. Open it in a "
        "spreadsheet program and save it again"
    ) in " ".join(version.report["notes"])
    saved = write_workbook(tmp_path / "saved.xlsx", {"Sites": rows[:2]})
    assert not any("formula" in note for note in ingest(sites, saved).report["notes"])
