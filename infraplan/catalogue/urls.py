from django.urls import path

from . import views

urlpatterns = [
    path("datasets/", views.dataset_list_view, name="dataset-list"),
    path("datasets/new/", views.dataset_new_view, name="dataset-new"),
    path("datasets/<slug:slug>/", views.dataset_detail_view, name="dataset-detail"),
    path(
        "datasets/<slug:slug>/metadata.xml",
        views.dataset_metadata_xml_view,
        name="dataset-metadata-xml",
    ),
    path("datasets/<slug:slug>/details/", views.dataset_details_view, name="dataset-details"),
    path("datasets/<slug:slug>/style/", views.dataset_style_view, name="dataset-style"),
    path("datasets/<slug:slug>/withdraw/", views.dataset_withdraw_view, name="dataset-withdraw"),
    path("datasets/<slug:slug>/restore/", views.dataset_restore_view, name="dataset-restore"),
    path("datasets/<slug:slug>/upload/", views.dataset_upload_view, name="dataset-upload"),
    path("datasets/<slug:slug>/runs/<int:run_id>/", views.dataset_run_view, name="dataset-run"),
    path(
        "datasets/<slug:slug>/runs/<int:run_id>/status.json",
        views.dataset_run_status_view,
        name="dataset-run-status",
    ),
    path(
        "datasets/<slug:slug>/versions/<int:number>/",
        views.version_detail_view,
        name="dataset-version",
    ),
    path(
        "datasets/<slug:slug>/versions/<int:number>/report.csv",
        views.version_report_csv_view,
        name="dataset-version-report",
    ),
    path(
        "datasets/<slug:slug>/versions/<int:number>/rollback/",
        views.version_rollback_view,
        name="dataset-rollback",
    ),
    path(
        "datasets/<slug:slug>/versions/<int:old>/diff/<int:new>/",
        views.version_diff_view,
        name="dataset-diff",
    ),
    path("datasets/<slug:slug>/compare/", views.version_diff_choose_view, name="dataset-compare"),
    path(
        "datasets/<slug:slug>/sources/<int:source_id>/refresh/",
        views.source_refresh_view,
        name="source-refresh",
    ),
]
