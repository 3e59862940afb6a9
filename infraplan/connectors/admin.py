"""Sources and runs in the admin: read-only, since every change goes through the services
(validated and audited); the data manager's pages edit sources."""

from django.contrib import admin

from .models import IngestRun, Source


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Source)
class SourceAdmin(_ReadOnly):
    list_display = [
        "dataset",
        "organisation",
        "connector_key",
        "schedule",
        "enabled",
        "next_run_at",
    ]
    list_filter = ["connector_key", "enabled"]
    search_fields = ["dataset__slug", "organisation__slug"]
    # Encrypted, but no page needs it: the kind and who set it when are shown.
    exclude = ["credentials_encrypted"]


@admin.register(IngestRun)
class IngestRunAdmin(_ReadOnly):
    list_display = ["id", "dataset", "connector_key", "state", "stage", "rows_read", "attempts",
                    "created_at", "finished_at"]  # fmt: skip
    list_filter = ["state", "connector_key"]
    search_fields = ["dataset__slug", "error"]
