from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "infraplan.catalogue"
    verbose_name = "Datasets"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from . import sources
        from .models import Dataset
        from .partitions import partition_drop

        sources.register_builtin_sources()
        # A deleted dataset's rows are deleted with it; its partition goes too.
        post_delete.connect(
            lambda instance, **kwargs: partition_drop(instance.pk),
            sender=Dataset,
            weak=False,
            dispatch_uid="catalogue.dataset_partition_drop",
        )
