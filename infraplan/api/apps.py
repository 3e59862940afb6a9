from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "infraplan.api"
    verbose_name = "OGC API Features"
