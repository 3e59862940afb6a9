from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "infraplan.sso"
    label = "sso"
    verbose_name = "Single sign-on"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the sign-in receiver)
