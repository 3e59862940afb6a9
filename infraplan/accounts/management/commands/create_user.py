import getpass
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ...models import Organisation, Role
from ...services import membership_set, user_create


class Command(BaseCommand):
    help = "Create a user, optionally as a member of an organisation or as a platform admin."

    def add_arguments(self, parser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="", help="Full name.")
        parser.add_argument("--organisation", help="Slug of the organisation to join.")
        parser.add_argument("--role", choices=[role.value for role in Role], default=Role.VIEWER)
        parser.add_argument("--platform-admin", action="store_true")
        parser.add_argument(
            "--password-stdin", action="store_true", help="Read the password from standard input."
        )

    def handle(self, *args, **options) -> None:
        organisation = None
        if options["organisation"]:
            organisation = Organisation.objects.filter(slug=options["organisation"]).first()
            if organisation is None:
                slugs = ", ".join(Organisation.objects.values_list("slug", flat=True))
                raise CommandError(f"No organisation {options['organisation']!r}; one of: {slugs}")
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
        try:
            user = user_create(
                actor=None,
                email=options["email"],
                password=password,
                full_name=options["name"],
                is_platform_admin=options["platform_admin"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        if organisation is not None:
            membership_set(actor=None, user=user, organisation=organisation, role=options["role"])
        self.stdout.write(self.style.SUCCESS(f"Created {user.email}."))
