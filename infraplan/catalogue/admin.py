from django import forms
from django.contrib import admin
from django.db import models

from infraplan.audit.admin import AuditedModelAdmin

from .models import Dataset, DatasetVersion


class VersionInline(admin.StackedInline):
    """Versions are made by loads and rollbacks (services), never edited by hand. Stacked, each
    value with its label: a tabular inline leaves header cells empty (WCAG 1.3.1)."""

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
    # Organisations as checkboxes, each with its label: the admin's two-box chooser gives its
    # search boxes an icon that names itself in a way assistive technology may not announce.
    formfield_overrides = {models.ManyToManyField: {"widget": forms.CheckboxSelectMultiple}}
    inlines = [VersionInline]

    def has_add_permission(self, request) -> bool:
        return False  # datasets are created by loads, with their first version
