from django.core.management.base import BaseCommand

from infraplan.connectors.national import national_sources_sync
from infraplan.sso.services import allowed_tenants_sync

from ...services import organisations_sync_from_profile


class Command(BaseCommand):
    help = "Create or update the organisations named in the authority profile, the single "
    "sign-on tenants each accepts, and its national datasets with their sources (switched off "
    "until a platform admin switches one on; nothing is fetched)."

    def handle(self, *args, **options) -> None:
        organisations = organisations_sync_from_profile(actor=None)
        allowed_tenants_sync(actor=None)
        self.stdout.write(f"{len(organisations)} organisations in step with the profile.")
        sources = national_sources_sync(actor=None)
        enabled = sum(source.enabled for source in sources)
        self.stdout.write(
            f"{len(sources)} national datasets in step with the profile ({enabled} switched on)."
        )
