"""Uploads through the whole pipeline: what the reader decides is what the dataset stores."""

from pathlib import Path

import pytest

from infraplan.catalogue.ingest import IngestMapping, ingest_run
from infraplan.catalogue.store import current_features
from infraplan.core.testing.data import dataset_make

from .test_files import shapefile_text_members, zipped
from .workbooks import write_workbook

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
