from django.contrib import admin, messages

from .models import ApiToken
from .services import token_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Read-only, with one action: revoke (a leaked token, say). Tokens are made only by their
    owners, on the tokens page, where the secret is shown to them alone."""

    list_display = ["name", "user", "prefix", "scope", "created_at", "expires_at", "revoked_at",
                    "last_used_at"]  # fmt: skip
    list_filter = ["scope", "revoked_at"]
    search_fields = ["name", "prefix", "user__email"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens", permissions=["view"])
    def revoke(self, request, queryset) -> None:
        live = list(queryset.live())
        for token in live:
            token_revoke(token=token, actor=request.user, note="via admin")
        messages.success(request, f"{len(live)} token(s) revoked.")
