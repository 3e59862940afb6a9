from django.core.management.base import BaseCommand

from ...services import organisations_sync_from_profile


class Command(BaseCommand):
    help = "Create or update the organisations named in the authority profile."

    def handle(self, *args, **options) -> None:
        organisations = organisations_sync_from_profile(actor=None)
        self.stdout.write(f"{len(organisations)} organisations in step with the profile.")
