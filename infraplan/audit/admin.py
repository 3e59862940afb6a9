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
    """A ModelAdmin whose saves and deletes (including inline ones) go into the audit log.

    A save's entry is written in ``save_related``, once the many-to-many fields are saved too,
    so that its after snapshot shows them as they now are.
    """

    def _action(self, obj, verb: str) -> str:
        return f"{obj._meta.model_name}.{verb}"

    def _stored_snapshot(self, obj) -> dict:
        return model_snapshot(type(obj)._default_manager.get(pk=obj.pk))

    def save_model(self, request, obj, form, change) -> None:
        # The form is this request's own: the one place to keep the before until save_related.
        form.audit_before = self._stored_snapshot(obj) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        form.save_m2m()
        obj = form.instance
        audit_record(
            actor=request.user,
            action=self._action(obj, "update" if change else "create"),
            target=obj,
            before=form.audit_before,
            after=model_snapshot(obj),
            note="via admin",
        )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

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
        saved = []
        for obj in instances:
            before = self._stored_snapshot(obj) if obj.pk is not None else None
            obj.save()
            saved.append((obj, before))
        formset.save_m2m()
        for obj, before in saved:
            verb = "create" if before is None else "update"
            audit_record(
                actor=request.user, action=self._action(obj, verb), target=obj,
                before=before, after=model_snapshot(obj), note="via admin",
            )  # fmt: skip
