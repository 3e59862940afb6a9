from django.urls import path

from . import views

urlpatterns = [
    path("", views.audit_list_view, name="audit-list"),
    path("export.csv", views.audit_export_view, name="audit-export"),
]
