from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "infraplan.connectors"
    label = "connectors"
    verbose_name = "Data connectors"

    def ready(self) -> None:
        # The built-in connectors register themselves on import, as an outside one would.
        from . import arcgis, ogcapi, planning_data, upload, url, wfs  # noqa: F401
