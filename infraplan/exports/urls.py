"""Each format has a route of its own (``dataset-download-<key>``), so that the usage log counts
downloads by format; any other suffix is no route at all (404)."""

from django.urls import path

from . import views
from .registry import exporter_keys

urlpatterns = [
    path("datasets/<slug:slug>/download/", views.download_choose_view, name="dataset-download"),
    *(
        path(
            f"datasets/<slug:slug>/download.{key}",
            views.download_view,
            {"key": key},
            name=f"dataset-download-{key}",
        )
        for key in exporter_keys()
    ),
]
