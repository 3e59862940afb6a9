from django.core.management.base import BaseCommand

from infraplan.sso.services import allowed_tenants_sync

from ...services import organisations_sync_from_profile


class Command(BaseCommand):
    help = "Create or update the organisations named in the authority profile, and the single "
    "sign-on tenants each accepts."

    def handle(self, *args, **options) -> None:
        organisations = organisations_sync_from_profile(actor=None)
        allowed_tenants_sync(actor=None)
        self.stdout.write(f"{len(organisations)} organisations in step with the profile.")
