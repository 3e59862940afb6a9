from django.contrib import admin

from infraplan.audit.admin import AuditedModelAdmin

from .models import Dataset, DatasetVersion


class VersionInline(admin.TabularInline):
    """Versions are made by loads and rollbacks (services), never edited by hand."""

    model = DatasetVersion
    fields = ["number", "state", "is_current", "source", "feature_count", "published_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Dataset)
class DatasetAdmin(AuditedModelAdmin):
    list_display = ["title", "slug", "theme", "owner", "access_level", "geometry_type"]
    list_filter = ["theme", "access_level", "owner"]
    search_fields = ["title", "slug", "abstract"]
    # Withdrawn and restored only through their pages (a reason, a second factor, the audit).
    readonly_fields = [
        "slug", "source_key", "geometry_type", "created_at", "updated_at", "withdrawn_at",
        "withdrawn_by", "withdrawal_reason",
    ]  # fmt: skip
    filter_horizontal = ["shared_with", "contributing_organisations"]
    inlines = [VersionInline]

    def has_add_permission(self, request) -> bool:
        return False  # datasets are created by loads, with their first version
