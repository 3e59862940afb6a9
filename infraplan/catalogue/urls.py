from django.urls import path

from .views import datasets, editing, loads, versions

urlpatterns = [
    path("datasets/", datasets.dataset_list_view, name="dataset-list"),
    path("datasets/new/", editing.dataset_new_view, name="dataset-new"),
    path("datasets/<slug:slug>/", datasets.dataset_detail_view, name="dataset-detail"),
    path(
        "datasets/<slug:slug>/metadata.xml",
        datasets.dataset_metadata_xml_view,
        name="dataset-metadata-xml",
    ),
    path("datasets/<slug:slug>/details/", editing.dataset_details_view, name="dataset-details"),
    path("datasets/<slug:slug>/style/", editing.dataset_style_view, name="dataset-style"),
    path("datasets/<slug:slug>/withdraw/", editing.dataset_withdraw_view, name="dataset-withdraw"),
    path("datasets/<slug:slug>/restore/", editing.dataset_restore_view, name="dataset-restore"),
    path("datasets/<slug:slug>/upload/", loads.dataset_upload_view, name="dataset-upload"),
    path("datasets/<slug:slug>/runs/<int:run_id>/", loads.dataset_run_view, name="dataset-run"),
    path(
        "datasets/<slug:slug>/runs/<int:run_id>/cancel/",
        loads.dataset_run_cancel_view,
        name="dataset-run-cancel",
    ),
    path(
        "datasets/<slug:slug>/runs/<int:run_id>/status.json",
        loads.dataset_run_status_view,
        name="dataset-run-status",
    ),
    path(
        "datasets/<slug:slug>/versions/<int:number>/",
        versions.version_detail_view,
        name="dataset-version",
    ),
    path(
        "datasets/<slug:slug>/versions/<int:number>/report.csv",
        versions.version_report_csv_view,
        name="dataset-version-report",
    ),
    path(
        "datasets/<slug:slug>/versions/<int:number>/rollback/",
        versions.version_rollback_view,
        name="dataset-rollback",
    ),
    path(
        "datasets/<slug:slug>/versions/<int:old>/diff/<int:new>/",
        versions.version_diff_view,
        name="dataset-diff",
    ),
    path(
        "datasets/<slug:slug>/compare/", versions.version_diff_choose_view, name="dataset-compare"
    ),
    path(
        "datasets/<slug:slug>/sources/<int:source_id>/refresh/",
        loads.source_refresh_view,
        name="source-refresh",
    ),
]
