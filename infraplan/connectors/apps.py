from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured

from .gdal_network import gdal_network_refuse


class ConnectorsConfig(AppConfig):
    name = "infraplan.connectors"
    label = "connectors"
    verbose_name = "Data connectors"

    def ready(self) -> None:
        # The built-in connectors register themselves on import, as an outside one would.
        from . import arcgis, ogcapi, planning_data, upload, url, wfs  # noqa: F401

        _gdal_virtual_formats_refuse()
        gdal_network_refuse()


def _gdal_virtual_formats_refuse() -> None:
    """Refuse to start when GDAL was loaded before ``infraplan`` switched off its virtual
    formats (see ``infraplan/__init__.py``): a data source could then make GDAL open any path."""
    import pyogrio

    from infraplan import GDAL_DRIVERS_OFF

    loaded = sorted(set(GDAL_DRIVERS_OFF) & set(pyogrio.list_drivers()))
    if loaded:
        raise ImproperlyConfigured(
            f"GDAL has its {', '.join(loaded)} driver: GDAL was loaded before infraplan, which "
            "switches such drivers off through GDAL_SKIP; import infraplan first."
        )
