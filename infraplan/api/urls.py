from django.urls import path

from . import views

urlpatterns = [
    path("", views.landing_view, name="ogcapi-landing"),
    path("openapi", views.openapi_view, name="ogcapi-openapi"),
    path("conformance", views.conformance_view, name="ogcapi-conformance"),
    path("collections", views.collections_view, name="ogcapi-collections"),
    path("collections/<slug:slug>", views.collection_view, name="ogcapi-collection"),
    path("collections/<slug:slug>/queryables", views.queryables_view, name="ogcapi-queryables"),
    path("collections/<slug:slug>/items", views.items_view, name="ogcapi-items"),
    path("collections/<slug:slug>/items/<int:feature_id>", views.item_view, name="ogcapi-item"),
    # Last: any other address under /ogcapi/ is an OGC exception, not a web page.
    path("<path:rest>", views.not_found_view, name="ogcapi-not-found"),
]
