"""``infraplan ingest``: load a file or a URL into a dataset now, through the same pipeline as
the pages and the task queue, printing progress and the report. Exit status 1 when the load is
rejected or fails (the reason on standard error), 130 when it is interrupted (Ctrl-C; the run is
marked failed at once); the current version is then unchanged.

With ``--save`` the settings (connector, options, column mapping, threshold) become the
dataset's source, or its organisation's part's, as a data manager saves one on the dataset's
page, with ``--schedule`` for refreshes by the task queue. Saved over a source that exists, they
change only what is given: its connector, each of its settings and each part of its column
mapping not given stay as they were (a new schedule alone must not reset the reference column
the next refresh reads), and the command says what changed and what was kept."""

import argparse
import json
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from pydantic import ValidationError as PydanticValidationError

from infraplan.accounts.models import Organisation, User
from infraplan.catalogue.access import Action, dataset_permits
from infraplan.catalogue.ingest import IngestMapping
from infraplan.catalogue.ingest_rows import DEFAULT_REJECTION_THRESHOLD
from infraplan.catalogue.models import Dataset
from infraplan.catalogue.selectors import WHOLE_DATASET, parts_managed
from infraplan.catalogue.services import dataset_loads_check
from infraplan.connectors.load_checks import casts_checked
from infraplan.connectors.load_requests import ingest_request
from infraplan.connectors.models import IngestRun, RunState, Source
from infraplan.connectors.registry import connector_for, connector_has_settings, connector_keys
from infraplan.connectors.run_execution import ingest_run_execute
from infraplan.connectors.sources import source_save

PROBLEMS_SHOWN = 20
INTERRUPTED_STATUS = 130  # as a shell reports a command ended by Ctrl-C (128 + SIGINT)
ARGUMENT_OF_MAPPING_FIELD = {
    "reference": "--reference", "rename": "--rename", "casts": "--cast",
    "constants": "--constant", "max_invalid_share": "--threshold",
    "allow_large_removal": "--allow-large-removal",
}  # fmt: skip
# The parts of a column mapping, as the command's output names them.
MAPPING_PARTS = {
    "reference": "reference column", "rename": "renames", "casts": "casts",
    "constants": "constants", "max_invalid_share": "rejection threshold",
    "allow_large_removal": "large removals",
}  # fmt: skip
MAPPING_DEFAULTS = {
    "reference": "reference",
    "max_invalid_share": DEFAULT_REJECTION_THRESHOLD / 100,
}
NONE = "none"  # --rename none (and --cast, --constant): no renames, as --schedule none


def _percentage(text: str) -> float:
    """A rejection threshold as the upload page takes it: a percentage from 0 to 100 (``5`` or
    ``5%``)."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage from 0 to 100, like 5")
    return value


def _pair(argument: str, text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise CommandError(f"{argument} {text!r} is not key=value.")
    return key, value


def _json_or_text(value: str) -> Any:
    """A value read as JSON where it is (numbers, true/false), else as text."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _pairs(argument: str, texts: list[str], *, typed: bool = False) -> dict[str, Any]:
    pairs = (_pair(argument, text) for text in texts)
    return {key: _json_or_text(value) if typed else value for key, value in pairs}


def _mapping_given(options: dict[str, Any]) -> dict[str, Any]:
    """The parts of the column mapping given on the command line, by their ``IngestMapping``
    names: a part not given is left out (for a source that exists to keep its own)."""
    given: dict[str, Any] = {}
    if options["reference"] is not None:
        given["reference"] = options["reference"]
    for part, name, typed in [
        ("rename", "rename", False), ("casts", "cast", False), ("constants", "constant", True),
    ]:  # fmt: skip
        texts = options[name]
        if any(text.strip().lower() == NONE for text in texts):
            if len(texts) > 1:
                raise CommandError(
                    f"--{name} none (no {MAPPING_PARTS[part]}) cannot be given with others."
                )
            given[part] = {}
        elif texts:
            given[part] = _pairs(f"--{name}", texts, typed=typed)
    if options["threshold"] is not None:
        given["max_invalid_share"] = options["threshold"] / 100
    if options["allow_large_removal"] is not None:
        given["allow_large_removal"] = options["allow_large_removal"]
    return given


def _text(value: Any) -> str:
    """A setting's or a constant's value as it is given on the command line."""
    return value if isinstance(value, str) else json.dumps(value)


def _shown(part: str, value: Any) -> str:
    """A part of a column mapping as the command's output shows it."""
    if part == "max_invalid_share":
        return f"{value * 100:g}%"
    if part == "allow_large_removal":
        return "allowed" if value else "refused"
    if isinstance(value, dict):
        return ", ".join(f"{key}={_text(item)}" for key, item in value.items()) or NONE
    return str(value)


def _source_changes(before: Source, after: Source) -> list[str]:
    """What saving ``after`` over ``before`` changed, a line each with what it was, then a
    line of what it kept."""
    changes, kept = [], []
    if after.connector_key != before.connector_key:
        changes.append(f"  connector: {after.connector_key} (was {before.connector_key})")
    else:
        changed = [name for name, value in after.config.items() if before.config.get(name) != value]
        changes += [
            f"  setting {name}: {_text(after.config[name])} (was {_text(before.config.get(name))})"
            for name in changed
        ]
        if len(changed) < len(after.config):
            kept.append(f"the {'other ' if changed else ''}{after.connector_key} settings")
    for part, label in MAPPING_PARTS.items():
        old, new = before.mapping.get(part), after.mapping[part]
        if old == new:
            kept.append(f"{label} {_shown(part, new)}")
        else:
            changes.append(f"  {label}: {_shown(part, new)} (was {_shown(part, old)})")
    return [*changes, f"  kept: {', '.join(kept)}"] if kept else changes


def _mapping_problems(error: PydanticValidationError) -> str:
    """Each problem with the argument that set it: ``--cast built: Input should be ...``."""
    problems = []
    for problem in error.errors():
        field, *key = problem["loc"]
        where = " ".join([ARGUMENT_OF_MAPPING_FIELD.get(str(field), str(field)), *map(str, key)])
        problems.append(f"{where}: {problem['msg']}")
    return "; ".join(problems) + "."


def _not_given_twice(address: str, config: dict[str, Any]) -> None:
    """Refuse ``--option path=`` (or ``url=``, ``service=``): the source argument says where to
    read, and an option beside it would quietly win over it."""
    if address in config:
        raise CommandError(
            f"--option {address}= cannot be given: the file or address to load is the command's "
            "first argument."
        )


def _organisation(dataset: Dataset, slug: str | None) -> Organisation | None:
    """The organisation whose part of ``dataset`` the load replaces; None for the whole dataset
    (``--organisation '*'``, or nothing said of a dataset with one publisher). Without a word,
    a dataset several organisations publish is refused: replacing the whole of it with one
    council's file would remove every other council's features."""
    if slug == WHOLE_DATASET:
        return None
    if slug:
        organisation = Organisation.objects.filter(slug=slug).first()
        if organisation is None:
            raise CommandError(f"There is no organisation {slug!r}.")
        return organisation
    contributing = list(dataset.contributing_organisations.order_by("slug"))
    if contributing:
        slugs = ", ".join(dict.fromkeys([dataset.owner.slug, *(o.slug for o in contributing)]))
        raise CommandError(
            f"{dataset.slug} is published by several organisations ({slugs}): say whose part "
            "this load replaces with --organisation SLUG, or replace every organisation's "
            "features with --organisation '*'."
        )
    return None


def _loader(email: str, dataset: Dataset, organisation: Organisation | None) -> User:
    """The active account ``--by`` names, checked as the upload page checks who loads: it may
    load into ``dataset``, and into ``organisation``'s part where one is given."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None:
        raise CommandError(f"--by: there is no active account {email!r}.")
    if not dataset_permits(user, dataset, Action.CONTRIBUTE):
        raise CommandError(f"--by: {user.email} may not load into {dataset.slug}.")
    parts = parts_managed(user, dataset)
    if parts is not None and (organisation is None or organisation.pk not in parts):
        part = f"{organisation}'s part" if organisation else "the whole dataset"
        raise CommandError(
            f"--by: {user.email} may load only their own organisation's part of "
            f"{dataset.slug}, not {part}: give --organisation."
        )
    return user


class Command(BaseCommand):
    help = (
        "Load a file (GeoJSON, GeoPackage, zipped Shapefile, FlatGeobuf, CSV, XLSX) or a URL "
        "into a dataset as its new version, checked as every load is."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", help="A file path, or an http(s) URL.")
        parser.add_argument("--dataset", required=True, help="The dataset's slug.")
        parser.add_argument(
            "--connector",
            help="The connector's key (default: upload for a path, url for a URL; with --save, "
            "a source that exists keeps its own).",
        )
        parser.add_argument(
            "--option", action="append", default=[], metavar="KEY=VALUE",
            help="A connector setting, such as layer=sites; repeat for more (with --save, a "
            "source that exists keeps its settings not given, unless its connector changes).",
        )  # fmt: skip
        parser.add_argument(
            "--reference",
            help="The column holding each feature's reference (default: reference; with --save, "
            "a source that exists keeps its own).",
        )
        parser.add_argument(
            "--organisation",
            help="Replace only this organisation's part of the dataset (slug), or '*' for the "
            "whole dataset; needed when several organisations publish the dataset. A download "
            "of such a dataset says whose each row is (its organisation column): loaded as a "
            "part, other organisations' rows are refused; for the whole dataset, each row is "
            "the feature of the organisation it names.",
        )
        parser.add_argument(
            "--rename", action="append", default=[], metavar="COLUMN=FIELD",
            help="Read the source's column as the dataset's field; repeat for more, or none for "
            "no renames. With --save, the renames given replace all of a source's (its other "
            "mapping is kept), as do the casts and the constants given.",
        )  # fmt: skip
        parser.add_argument(
            "--cast", action="append", default=[], metavar="FIELD=TYPE",
            help="Read a field the dataset's schema does not type as string, integer, number, "
            "boolean or date (a cast of a field of the schema to another type is refused: the "
            "load reads it by its type there); repeat for more, or none for no casts.",
        )  # fmt: skip
        parser.add_argument(
            "--constant", action="append", default=[], metavar="FIELD=VALUE",
            help="Give every feature this value for the field; repeat for more, or none for no "
            "constants.",
        )  # fmt: skip
        parser.add_argument(
            "--by",
            metavar="EMAIL",
            help="The account the load (and a source saved) is recorded as made by, on the "
            "version's page and in the audit log: an active user who may load into the dataset "
            "(and the part given). Default: the platform itself.",
        )
        parser.add_argument(
            "--threshold", type=_percentage, metavar="PERCENT",
            help=f"Reject the load when more than this percentage of rows has problems, from 0 "
            f"to 100 (default {DEFAULT_REJECTION_THRESHOLD}, as on the upload page; with --save, a source "
            "that exists keeps its own).",
        )  # fmt: skip
        parser.add_argument(
            "--allow-large-removal", action=argparse.BooleanOptionalAction, default=None,
            help="Publish even when the load removes more than half of the current features it "
            "replaces (without it such a load is rejected, in case the wrong file was given or "
            "the source answered only in part; with --save, a source that exists keeps its own, "
            "and --no-allow-large-removal switches it off).",
        )  # fmt: skip
        saving = parser.add_argument_group(
            "saving the source",
            "Keep these settings as the dataset's source (or the organisation's part's), for "
            "refreshes from its page and on a schedule. A source that exists is changed only in "
            "what is given: its connector, its settings not given and each part of its column "
            "mapping not given (reference, renames, casts, constants, threshold, large removals) "
            "are kept, and the output says what changed.",
        )
        saving.add_argument(
            "--save", action="store_true",
            help="Save the settings as the source (a service or a URL, not a file here).",
        )  # fmt: skip
        saving.add_argument(
            "--schedule",
            help="With --save: daily, weekly, monthly, a cron expression (minute hour "
            "day-of-month month day-of-week, UTC) or none (by hand only). Default: a new source "
            "is refreshed by hand only; a source that exists keeps its schedule.",
        )
        switch = saving.add_mutually_exclusive_group()
        switch.add_argument(
            "--disabled", dest="enabled", action="store_false", default=None,
            help="With --save: switch the source off (it is not refreshed on its schedule).",
        )  # fmt: skip
        switch.add_argument(
            "--enabled", dest="enabled", action="store_true", default=None,
            help="With --save: switch the source on (the default for a new source).",
        )  # fmt: skip
        saving.add_argument(
            "--no-load", dest="load", action="store_false",
            help="With --save: save the source without loading it now.",
        )  # fmt: skip

    _stored: Path | None = None  # the folder holding this command's copy of a file

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["save"]:
            for name, argument in [("schedule", "--schedule"), ("enabled", "--enabled/--disabled")]:
                if options[name] is not None:
                    raise CommandError(f"{argument} needs --save.")
            if not options["load"]:
                raise CommandError("--no-load needs --save (without it there is nothing to do).")
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"There is no dataset {options['dataset']!r}.")
        try:  # a withdrawn dataset: refused before anything is copied or saved
            dataset_loads_check(dataset)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        organisation = _organisation(dataset, options["organisation"])
        actor = _loader(options["by"], dataset, organisation) if options["by"] else None
        existing = None
        if options["save"]:
            existing = Source.objects.filter(dataset=dataset, organisation=organisation).first()
        config = _pairs("--option", options["option"], typed=True)
        given = _mapping_given(options)
        try:
            mapping = IngestMapping.model_validate(
                {**MAPPING_DEFAULTS, **(existing.mapping if existing else {}), **given}
            )
        except PydanticValidationError as error:
            raise CommandError(_mapping_problems(error)) from None
        if "casts" in given:  # a source's own casts were checked when they were given
            try:
                casts_checked(mapping, dataset)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
        connector_key, config = self._source(
            options["source"],
            options["connector"] or (existing.connector_key if existing else None),
            config,
            saving=options["save"],
        )
        if existing is not None and existing.connector_key == connector_key:
            config = {**existing.config, **config}
        source = None
        try:
            if options["save"]:
                source = self._save(
                    dataset, organisation, connector_key, config, mapping, options, existing,
                    actor,
                )  # fmt: skip
                if not options["load"]:
                    return
            run = ingest_request(
                actor=actor, dataset=dataset, connector_key=connector_key, config=config,
                mapping=mapping, organisation=organisation, source=source, queue=False,
            )  # fmt: skip
        except ValidationError as error:
            # A refused load keeps no copy of the operator's file (a finished one does not).
            if self._stored is not None:
                shutil.rmtree(self._stored, ignore_errors=True)
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"Loading {options['source']} into {dataset.slug} (run {run.pk}).")
        try:
            run = ingest_run_execute(run.pk, echo=self._progress())
        except KeyboardInterrupt:
            self.stderr.write(
                f"Interrupted: the load (run {run.pk}) is marked failed; the current version of "
                f"{dataset.slug} is unchanged."
            )
            raise SystemExit(INTERRUPTED_STATUS) from None
        self._report(run)

    def _save(
        self,
        dataset: Dataset,
        organisation: Organisation | None,
        connector_key: str,
        config: dict[str, Any],
        mapping: IngestMapping,
        options: dict[str, Any],
        existing: Source | None,
        actor: User | None,
    ) -> Source:
        schedule = options["schedule"]
        if schedule is None:
            schedule = existing.schedule if existing else ""
        elif schedule.strip().lower() == "none":
            schedule = ""
        enabled = options["enabled"]
        if enabled is None:
            enabled = existing.enabled if existing else True
        source = source_save(
            actor=actor, dataset=dataset, connector_key=connector_key, config=config,
            mapping=mapping, organisation=organisation, schedule=schedule, enabled=enabled,
            source=existing,
        )  # fmt: skip
        part = f"{organisation}'s part of " if organisation else ""
        if not source.schedule:
            when = "refreshed by hand only"
        elif not source.enabled:
            when = f"schedule {source.schedule}, switched off"
        else:
            when = f"refreshed {source.schedule}; next {source.next_run_at:%Y-%m-%d %H:%M} UTC"
        verb = "Changed" if existing else "Saved"
        self.stdout.write(f"{verb} the source of {part}{dataset.slug} ({when}).")
        for line in _source_changes(existing, source) if existing else []:
            self.stdout.write(line)
        return source

    def _source(
        self, source: str, connector_key: str | None, config: dict[str, Any], *, saving: bool
    ) -> tuple[str, dict[str, Any]]:
        if urlsplit(source).scheme in ("http", "https"):
            connector_key = connector_key or "url"
            if connector_key not in connector_keys():
                raise CommandError(
                    f"Loading from a URL needs the {connector_key!r} connector, which this "
                    f"installation does not have (it has: {', '.join(connector_keys())})."
                )
            fields = connector_for(connector_key).Config.model_fields
            # The address is the layer's own (url) or, for a national API, the service's.
            address = "url" if "url" in fields or "service" not in fields else "service"
            _not_given_twice(address, config)
            return connector_key, {address: source, **config}
        if saving or (connector_key and connector_has_settings(connector_key)):
            raise CommandError(
                f"{source} is not an http(s) URL: a source that is saved or fetched from a "
                "service needs its address; a file on this machine is loaded without --save."
            )
        _not_given_twice("path", config)
        path = Path(source)
        if path.is_dir():
            raise CommandError(
                f"{source} is a folder: give a file (a Shapefile as a .zip of its .shp, .shx, "
                ".dbf and .prj files)."
            )
        if not path.is_file():
            raise CommandError(f"{source} is not a file.")
        # Connectors read only files the platform stored, never a path a user typed.
        stored = Path(settings.UPLOAD_ROOT) / "cli" / uuid.uuid4().hex / path.name
        stored.parent.mkdir(parents=True)
        self._stored = stored.parent
        shutil.copyfile(path, stored)
        return connector_key or "upload", {"path": str(stored), **config}

    def _progress(self):
        shown = {"stage": "", "rows": 0}

        def progress(rows: int, stage: str) -> None:
            if stage != shown["stage"] or rows - shown["rows"] >= 100_000:
                shown.update(stage=stage, rows=rows)
                self.stdout.write(f"  {stage}: {rows:,} row{'' if rows == 1 else 's'}")
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
