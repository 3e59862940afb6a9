from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "infraplan.core"
    verbose_name = "Core"

    def ready(self) -> None:
        from . import checks, database_checks  # noqa: F401 (registers the system checks)
