from django.contrib import admin

from .models import AuditEntry
from .services import audit_record, model_snapshot


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only, here as in the database."""

    list_display = ["at", "actor_label", "action", "target_type", "target_label"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_label", "target_label", "target_id", "note"]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AuditedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose saves and deletes (including inline ones) go into the audit log."""

    def _action(self, obj, verb: str) -> str:
        return f"{obj._meta.model_name}.{verb}"

    def save_model(self, request, obj, form, change) -> None:
        before = None
        if change:
            before = model_snapshot(type(obj)._default_manager.get(pk=obj.pk))
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=self._action(obj, "update" if change else "create"),
            target=obj,
            before=before,
            after=model_snapshot(obj),
            note="via admin",
        )

    def delete_model(self, request, obj) -> None:
        audit_record(
            actor=request.user, action=self._action(obj, "delete"), target=obj,
            before=model_snapshot(obj), note="via admin",
        )  # fmt: skip
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def save_formset(self, request, form, formset, change) -> None:
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            audit_record(
                actor=request.user, action=self._action(obj, "delete"), target=obj,
                before=model_snapshot(obj), note="via admin",
            )  # fmt: skip
            obj.delete()
        for obj in instances:
            existing = obj.pk is not None
            before = model_snapshot(type(obj)._default_manager.get(pk=obj.pk)) if existing else None
            obj.save()
            audit_record(
                actor=request.user, action=self._action(obj, "update" if existing else "create"),
                target=obj, before=before, after=model_snapshot(obj), note="via admin",
            )  # fmt: skip
        formset.save_m2m()
