"""GDAL's virtual formats stay off (``infraplan/__init__.py``), and the platform refuses to start
where GDAL was loaded with them on."""

import os

import pyogrio
import pytest
from django.core.exceptions import ImproperlyConfigured

from infraplan.connectors.apps import _gdal_virtual_formats_refuse


def test_gdal_has_no_virtual_format_drivers():
    assert {"OGR_VRT", "VRT"} <= set(os.environ["GDAL_SKIP"].split())
    assert not {"OGR_VRT", "VRT"} & set(pyogrio.list_drivers())
    assert {"GPKG", "CSV", "GeoJSON", "GML"} <= set(pyogrio.list_drivers())


def test_the_platform_refuses_to_start_with_them(monkeypatch):
    monkeypatch.setattr(pyogrio, "list_drivers", lambda: {"GPKG": "rw", "OGR_VRT": "r"})
    with pytest.raises(ImproperlyConfigured, match="GDAL has its OGR_VRT driver"):
        _gdal_virtual_formats_refuse()
