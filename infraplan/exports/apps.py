from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "infraplan.exports"
    verbose_name = "Downloads"

    def ready(self) -> None:
        # The built-in formats register themselves on import, as an outside one would; their
        # order is the order the dataset page offers them in.
        from . import csv, xlsx, geojson, gpkg, png  # noqa: F401, I001
