from django.apps import AppConfig


class PlacesConfig(AppConfig):
    name = "infraplan.places"
    verbose_name = "Places and search"
