"""``infraplan ingest``: load a file or a URL into a dataset now, through the same pipeline as
the pages and the task queue, printing progress and the report. Exit status 1 when the load is
rejected or fails (the reason on standard error); the current version is then unchanged."""

import json
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from infraplan.accounts.models import Organisation
from infraplan.catalogue.ingest import IngestMapping
from infraplan.catalogue.models import Dataset
from infraplan.connectors.models import IngestRun, RunState
from infraplan.connectors.registry import connector_keys
from infraplan.connectors.services import ingest_request, ingest_run_execute

PROBLEMS_SHOWN = 20


def _option(text: str) -> tuple[str, Any]:
    """``k=v``, the value read as JSON where it is (numbers, true/false), else as text."""
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise CommandError(f"--option {text!r} is not key=value.")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


class Command(BaseCommand):
    help = (
        "Load a file (GeoJSON, GeoPackage, zipped Shapefile, FlatGeobuf, CSV, XLSX) or a URL "
        "into a dataset as its new version, checked as every load is."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", help="A file path, or an http(s) URL.")
        parser.add_argument("--dataset", required=True, help="The dataset's slug.")
        parser.add_argument(
            "--connector", help="The connector's key (default: upload for a path, url for a URL)."
        )
        parser.add_argument(
            "--option", action="append", default=[], metavar="KEY=VALUE",
            help="A connector setting, such as layer=sites; repeat for more.",
        )  # fmt: skip
        parser.add_argument(
            "--reference", default="reference",
            help="The column holding each feature's reference (default: reference).",
        )  # fmt: skip
        parser.add_argument(
            "--organisation", help="Replace only this organisation's part of the dataset (slug)."
        )
        parser.add_argument(
            "--max-invalid-share", type=float, default=0.0,
            help="Reject the load when more than this share of rows has problems (0.05 = 5%%).",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"There is no dataset {options['dataset']!r}.")
        organisation = None
        if options["organisation"]:
            organisation = Organisation.objects.filter(slug=options["organisation"]).first()
            if organisation is None:
                raise CommandError(f"There is no organisation {options['organisation']!r}.")
        config = dict(_option(text) for text in options["option"])
        connector_key, config = self._source(options["source"], options["connector"], config)
        try:
            mapping = IngestMapping(
                reference=options["reference"], max_invalid_share=options["max_invalid_share"]
            )
        except ValueError as error:
            raise CommandError(f"--max-invalid-share: {error}") from None
        try:
            run = ingest_request(
                actor=None, dataset=dataset, connector_key=connector_key, config=config,
                mapping=mapping, organisation=organisation, queue=False,
            )  # fmt: skip
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"Loading {options['source']} into {dataset.slug} (run {run.pk}).")
        run = ingest_run_execute(run.pk, echo=self._progress())
        self._report(run)

    def _source(
        self, source: str, connector_key: str | None, config: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        if urlsplit(source).scheme in ("http", "https"):
            connector_key = connector_key or "url"
            if connector_key not in connector_keys():
                raise CommandError(
                    f"Loading from a URL needs the {connector_key!r} connector, which this "
                    f"installation does not have (it has: {', '.join(connector_keys())})."
                )
            return connector_key, {"url": source, **config}
        path = Path(source)
        if not path.is_file():
            raise CommandError(f"{source} is not a file.")
        # Connectors read only files the platform stored, never a path a user typed.
        stored = Path(settings.UPLOAD_ROOT) / "cli" / uuid.uuid4().hex / path.name
        stored.parent.mkdir(parents=True)
        shutil.copyfile(path, stored)
        return connector_key or "upload", {"path": str(stored), **config}

    def _progress(self):
        shown = {"stage": "", "rows": 0}

        def progress(rows: int, stage: str) -> None:
            if stage != shown["stage"] or rows - shown["rows"] >= 100_000:
                shown.update(stage=stage, rows=rows)
                self.stdout.write(f"  {stage}: {rows:,} rows")
                self.stdout.flush()

        return progress

    def _report(self, run: IngestRun) -> None:
        report = run.version.report if run.version else {}
        problems = report.get("problems", [])
        if run.state == RunState.PUBLISHED:
            self.stdout.write(
                self.style.SUCCESS(f"Published version {run.version.number} of {run.dataset.slug}.")
            )
            self.stdout.write(
                "  added {added:,}, changed {changed:,}, removed {removed:,}, "
                "unchanged {unchanged:,}".format(**report)
            )
        self.stdout.write(
            f"  rows read {report.get('rows_read', run.rows_read):,}, left out "
            f"{report.get('rows_rejected', 0):,}, geometries repaired "
            f"{report.get('geometries_repaired', 0):,}, problems {report.get('problem_count', 0):,}"
        )
        for note in report.get("notes", []):
            self.stdout.write(f"  note: {note}")
        for problem in problems[:PROBLEMS_SHOWN]:
            self.stdout.write(
                f"  row {problem['row']}, {problem['field']} {problem['value']!r}: "
                f"{problem['problem']}"
            )
        if len(problems) > PROBLEMS_SHOWN or report.get("problem_count", 0) > PROBLEMS_SHOWN:
            more = report.get("problem_count", len(problems)) - PROBLEMS_SHOWN
            self.stdout.write(f"  ... and {more:,} more problems.")
        if run.state != RunState.PUBLISHED:
            raise CommandError(f"Load {run.state}: {run.error}")
