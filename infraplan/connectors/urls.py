from django.urls import path

from . import views

urlpatterns = [
    path("datasets/national/", views.national_list_view, name="national-list"),
    path(
        "datasets/national/<slug:slug>/on/",
        views.national_switch_view,
        {"switch": "on"},
        name="national-switch-on",
    ),
    path(
        "datasets/national/<slug:slug>/off/",
        views.national_switch_view,
        {"switch": "off"},
        name="national-switch-off",
    ),
]
