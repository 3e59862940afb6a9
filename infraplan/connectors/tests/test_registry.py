"""Registry, tests and docs kept in step: every registered connector has a test module in its
own folder and a section in CONTRIBUTING.md's list of connectors."""

import sys
from pathlib import Path

import pytest

from infraplan.connectors.registry import connector_for, connector_keys

CONTRIBUTING = Path(__file__).resolve().parents[3] / "CONTRIBUTING.md"


def test_the_built_in_connectors_are_registered():
    assert {"upload", "url", "ogcapi", "wfs", "arcgis", "planning_data"} <= set(connector_keys())


@pytest.mark.parametrize("key", connector_keys())
def test_every_connector_has_a_test_module_in_its_folder(key):
    module = sys.modules[type(connector_for(key)).__module__]
    folder = Path(module.__file__).parent
    assert folder.name == key, f"the {key!r} connector lives in {folder}, not a folder named {key}"
    tests = sorted((folder / "tests").glob("test_*.py"))
    assert tests, f"the {key!r} connector has no test module in {folder / 'tests'}"


@pytest.mark.parametrize("key", connector_keys())
def test_every_connector_has_a_section_in_contributing(key):
    assert f"#### `{key}`\n" in CONTRIBUTING.read_text(encoding="utf-8"), (
        f"CONTRIBUTING.md has no section '#### `{key}`' in its list of connectors"
    )
