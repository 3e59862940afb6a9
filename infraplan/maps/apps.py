from django.apps import AppConfig


class MapsConfig(AppConfig):
    name = "infraplan.maps"
    verbose_name = "Maps and tiles"
