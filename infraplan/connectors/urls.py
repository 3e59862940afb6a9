from django.urls import path

from . import views

urlpatterns = [
    path("datasets/<slug:slug>/sources/new/", views.source_new_view, name="source-new"),
    path(
        "datasets/<slug:slug>/sources/<int:source_id>/",
        views.source_edit_view,
        name="source-edit",
    ),
    path(
        "datasets/<slug:slug>/sources/<int:source_id>/remove/",
        views.source_delete_view,
        name="source-delete",
    ),
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
