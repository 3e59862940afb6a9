from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "infraplan.exports"
    verbose_name = "Downloads"
