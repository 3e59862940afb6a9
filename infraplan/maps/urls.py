from django.urls import path

from . import views

urlpatterns = [
    path("map/", views.map_view, name="map"),
    path("tiles/<slug:slug>/<int:z>/<int:x>/<int:y>.mvt", views.tile_view, name="tile"),
]
