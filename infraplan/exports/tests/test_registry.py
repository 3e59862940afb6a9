"""The registry, the tests and the documentation in step: every registered format has a test
module of its own and a section in docs/downloads.md, and a route."""

from pathlib import Path

from django.urls import reverse

from infraplan.exports.base import Exporter
from infraplan.exports.registry import exporter_for, exporter_keys, exporters

HERE = Path(__file__).parent
DOCS = Path(__file__).resolve().parents[3] / "docs" / "downloads.md"


def test_the_built_in_formats_in_the_pages_order():
    assert exporter_keys() == ["csv", "xlsx", "geojson", "gpkg", "png"]
    assert exporter_for("shp") is None
    assert all(isinstance(exporter, Exporter) for exporter in exporters())


def test_every_format_has_its_tests_its_docs_section_and_its_route():
    docs = DOCS.read_text()
    for key in exporter_keys():
        assert (HERE / f"test_{key}.py").is_file(), f"add infraplan/exports/tests/test_{key}.py"
        assert f"\n### `{key}`" in docs, f"add a section '### `{key}`' to docs/downloads.md"
        assert reverse(f"dataset-download-{key}", kwargs={"slug": "x"}) == f"/datasets/x/download.{key}"  # fmt: skip


def test_each_format_says_what_it_is():
    for exporter in exporters():
        assert exporter.title and exporter.hint.endswith(".") and exporter.media_type
        if exporter.spatial_only:
            assert exporter.key not in ("csv", "xlsx"), "a list without geometry is a table"
