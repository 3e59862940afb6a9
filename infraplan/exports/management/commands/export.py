"""``infraplan export``: download a dataset, or part of it, to a file, through the same code as
``/datasets/<slug>/download.<format>``. It runs as the platform: every dataset may be exported,
restricted ones included (each such export is audited and a security event), and there is no
limit on the number of features. Exit status 1, with the reason on standard error, when the
export cannot be made; the output file is then not written.
"""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict

from infraplan.catalogue.models import Dataset

from ...base import ExportError
from ...registry import exporter_for, exporter_keys
from ...selectors import export_prepare
from ...services import download_record


def _query(options: dict) -> QueryDict:
    """The command's options as the download address's parameters."""
    query = QueryDict(mutable=True)
    for name, option in (
        ("area", "area"),
        ("bbox", "bbox"),
        ("bbox-crs", "bbox_crs"),
        ("as_of", "as_of"),
        ("version", "version"),
    ):
        if options[option]:
            query[name] = options[option]
    if options["ended"]:
        query["ended"] = "show"
    for condition in options["where"]:
        name, equals, value = condition.partition("=")
        if not equals or not name:
            raise CommandError(f"--where {condition!r} is not field=value.")
        query.appendlist(name, value)
    return query


class Command(BaseCommand):
    help = (
        "Export a dataset, or part of it, to a file as the download address does "
        "(/datasets/<slug>/download.<format>). Runs as the platform: every dataset, restricted "
        "ones included (audited), with no limit on the number of features."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="The dataset's slug, as in its address.")
        parser.add_argument(
            "--format", required=True, choices=exporter_keys(), help="The file format."
        )
        parser.add_argument(
            "--area",
            help="Only features placed in this area, by its ONS code: one of the profile's "
            "areas, or a ward of the ward boundaries.",
        )
        parser.add_argument(
            "--bbox", help="Only features meeting this box: minlon,minlat,maxlon,maxlat (WGS84)."
        )
        parser.add_argument(
            "--bbox-crs", dest="bbox_crs", metavar="URI",
            help="The coordinate system of --bbox, as the OGC API names it: "
            "http://www.opengis.net/def/crs/EPSG/0/27700 for eastings and northings.",
        )  # fmt: skip
        parser.add_argument(
            "--as-of", dest="as_of", metavar="YYYY-MM-DD",
            help="The dataset as published at the end of that day, today or before "
            "(default: as now).",
        )  # fmt: skip
        parser.add_argument(
            "--dataset-version", dest="version", metavar="N",
            help="The dataset's published version N, as its versions table numbers them.",
        )  # fmt: skip
        parser.add_argument(
            "--ended", action="store_true",
            help="Include features whose source says they have ended, with the date.",
        )  # fmt: skip
        parser.add_argument(
            "--where", action="append", default=[], metavar="FIELD=VALUE",
            help="Only features whose FIELD is VALUE (empty: unknown); repeat a field for "
            "any of several values, other fields for all of them.",
        )  # fmt: skip
        parser.add_argument(
            "-o", "--output", required=True, help="The file to write (replaced if it exists)."
        )

    def handle(self, *args, **options) -> None:
        dataset = Dataset.objects.filter(slug=options["slug"]).first()
        if dataset is None:
            raise CommandError(f"There is no dataset {options['slug']!r}.")
        exporter = exporter_for(options["format"])
        output = Path(options["output"])
        try:
            export = export_prepare(
                user=None, dataset=dataset, exporter=exporter, query=_query(options),
                platform=True,
            )  # fmt: skip
        except ExportError as problem:
            raise CommandError(f"Cannot make this export: {problem.message}.") from None
        if output.is_dir():
            raise CommandError(f"Cannot write {output}: it is a folder; give a file's name.")
        # Written beside the output and moved into place when whole: a failed export leaves no
        # half-written file, and never one that looks finished.
        partial = output.with_name(f".{output.name}.partial")
        try:
            with partial.open("wb") as out:
                exporter.write(export, out)
            os.replace(partial, output)
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror}.") from None
        finally:
            partial.unlink(missing_ok=True)
        # Recorded once the data has left: a failed write read nothing out.
        download_record(
            actor=None, datasets=export.datasets_read, key=exporter.key, via="command line"
        )
        count = export.summary.count
        self.stdout.write(f"Wrote {count:,} feature{'s' if count != 1 else ''} to {output}.")
