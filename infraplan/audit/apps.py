from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "infraplan.audit"
    verbose_name = "Audit log"
