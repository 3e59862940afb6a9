from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "infraplan.catalogue"
    verbose_name = "Datasets"

    def ready(self) -> None:
        from . import sources

        sources.register_builtin_sources()
