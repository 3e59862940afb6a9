"""``infraplan add_dataset``: add a dataset to the catalogue, as a data manager does on its page
(``/datasets/new/``), checked by the same form; it prints the new dataset's address (slug),
which ``infraplan ingest --dataset`` then loads into. Audited as the system."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from infraplan.accounts.models import Organisation
from infraplan.catalogue.forms import DatasetDetailsForm
from infraplan.catalogue.models import AccessLevel, Dataset, GeometryType, Theme, UpdateFrequency
from infraplan.catalogue.services import dataset_create


class Command(BaseCommand):
    help = "Add a dataset, with no version yet, and print its slug."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--title", required=True)
        parser.add_argument("--owner", required=True, help="The owning organisation's slug.")
        parser.add_argument("--geometry", required=True, choices=GeometryType.values)
        parser.add_argument("--abstract", required=True, help="What the dataset holds.")
        parser.add_argument("--theme", required=True, choices=Theme.values)
        parser.add_argument("--attribution", required=True)
        parser.add_argument("--lineage", required=True)
        parser.add_argument(
            "--access", choices=AccessLevel.values, default=AccessLevel.SIGNED_IN,
            help="Who may see it (default: signed_in).",
        )  # fmt: skip
        parser.add_argument("--licence", default="Open Government Licence v3.0")
        parser.add_argument(
            "--update-frequency", choices=UpdateFrequency.values, default=UpdateFrequency.UNKNOWN
        )
        parser.add_argument("--keywords", default="", help="Separated by commas.")
        parser.add_argument("--reference-date", default="", help="For example 2026-03-27.")
        parser.add_argument("--min-zoom", default="0", help="Drawn from this zoom level (0-22).")

    def handle(self, *args: Any, **options: Any) -> None:
        owners = list(Organisation.objects.filter(is_active=True).values_list("slug", "name"))
        form = DatasetDetailsForm(
            {
                "owner": options["owner"], "title": options["title"],
                "abstract": options["abstract"], "theme": options["theme"],
                "geometry_type": options["geometry"], "access_level": options["access"],
                "licence": options["licence"], "attribution": options["attribution"],
                "lineage": options["lineage"], "update_frequency": options["update_frequency"],
                "keywords": options["keywords"], "reference_date": options["reference_date"],
                "min_zoom": options["min_zoom"],
            },
            owners=owners,
            titles_taken=Dataset.objects.all(),
        )  # fmt: skip
        if not form.is_valid():
            problems = [
                f"{form.fields[name].label if name in form.fields else name}: {message}"
                for name, messages in form.errors.items()
                for message in messages
            ]
            raise CommandError("The dataset was not added. " + "; ".join(problems) + ".")
        dataset = dataset_create(
            actor=None,
            owner=Organisation.objects.get(slug=form.cleaned_data["owner"]),
            **form.dataset_fields(),
        )
        self.stdout.write(dataset.slug)
