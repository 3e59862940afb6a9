from django.urls import path

from . import views

urlpatterns = [
    path("datasets/", views.dataset_list_view, name="dataset-list"),
    path("datasets/<slug:slug>/", views.dataset_detail_view, name="dataset-detail"),
    path("datasets/<slug:slug>/style/", views.dataset_style_view, name="dataset-style"),
]
