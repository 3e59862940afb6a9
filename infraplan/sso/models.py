"""Which sign-in tenants each organisation accepts.

A tenant is the provider's own name for an organisation's directory: Entra ID's tenant id
(the ``tid`` claim), or, for a provider without tenants, its issuer URL. Rows are kept in step
with the authority profile (``sso_tenants`` of each organisation) by ``allowed_tenants_sync``.
"""

from django.db import models

from infraplan.accounts.models import Organisation


class AllowedTenant(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="allowed_tenants"
    )
    tenant = models.CharField(
        max_length=200, help_text="Entra ID tenant id (tid), or the issuer URL of another provider."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation__name", "tenant"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "tenant"], name="one_tenant_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.tenant} for {self.organisation}"
