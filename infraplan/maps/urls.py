from django.urls import path

from . import views

urlpatterns = [
    path("map/", views.map_view, name="map"),
    path("map/features/", views.features_view, name="map-features"),
    path("map/labels/<slug:slug>.json", views.labels_view, name="map-labels"),
    path("map.png", views.png_view, name="map-png"),
    path("tiles/<slug:slug>/<int:z>/<int:x>/<int:y>.mvt", views.tile_view, name="tile"),
    path(
        "datasets/<slug:slug>/features/<int:feature_id>.json",
        views.feature_view,
        name="map-feature",
    ),
    path(
        "datasets/<slug:slug>/features/<int:feature_id>/",
        views.feature_page_view,
        name="map-feature-page",
    ),
]
