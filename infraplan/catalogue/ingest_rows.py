"""How a source's rows become a dataset's properties: the column mapping a source saves
(rename, cast, constant), the types and rules of the dataset's schema applied batch by batch,
and the problems found on the way, each naming its row, field, value and reason."""

import csv
import json
import math
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import IO, Any, Literal

import numpy as np
from django.db.models import Q
from pydantic import BaseModel, ConfigDict, Field

from infraplan.accounts.models import Organisation
from infraplan.connectors.base import ConnectorError, FeatureBatch, RowProblem, names_listed

from .loading import MAX_EXACT_INTEGER, _json_value, date_and_time_of_day, typed_value
from .models import Dataset, Feature
from .store import current_features, several_publishers

REPORT_PROBLEMS_KEPT = 10_000
REFERENCE_MAX_LENGTH = Feature._meta.get_field("reference").max_length
FieldType = Literal["string", "integer", "number", "boolean", "date"]
# The percentage of rows with problems above which a load is rejected, unless set otherwise:
# on the upload page, a source's page and the command line alike.
DEFAULT_REJECTION_THRESHOLD = 5


class IngestMapping(BaseModel):
    """How a source's columns become the dataset's properties; saved with the source so the
    next refresh maps the same way."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reference: str = Field(
        description="The column (after renaming) holding each feature's reference."
    )
    rename: dict[str, str] = Field(default_factory=dict, description="Source column -> field name.")
    constants: dict[str, str | int | float | bool] = Field(default_factory=dict)
    casts: dict[str, FieldType] = Field(
        default_factory=dict,
        description="Field name (after renaming) -> the type its values are read as, for fields "
        "the dataset's schema does not type itself (the schema's type wins for its own fields).",
    )
    max_invalid_share: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="Reject the load when more than this share of rows has a problem; rows "
        "with problems are otherwise left out and listed.",
    )  # fmt: skip
    outside_areas_left_out: bool = Field(
        default=False,
        description="Leave out, as no problem, features lying wholly outside the council areas "
        "the platform covers: for a source that covers more than them (a national dataset "
        "asked for the features meeting a box around the areas). Otherwise each is a problem.",
    )
    allow_large_removal: bool = Field(
        default=False,
        description="Publish even when the load removes more than half of the current "
        "features it replaces; otherwise such a load is rejected (a wrong file, or a source "
        "that answered only in part).",
    )


@dataclass
class Staging:
    """What a load has found so far: its rows, problems (the first ``REPORT_PROBLEMS_KEPT``
    kept for the report, every one written to ``problems_file``, all counted) and notes for the
    report. Close it when the load ends: that deletes the file."""

    total: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    problem_count: int = 0
    # Every problem in the order found, as CSV (row, field, value, problem), made at the first:
    # on disk, not in memory, as a file whose every row is bad has a problem for each.
    problems_file: IO[str] | None = field(default=None, init=False, repr=False)
    _problems_writer: Any = field(default=None, init=False, repr=False)
    rejected_rows: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    flattened: int = 0  # geometries whose heights were dropped
    nul_rows: int = 0  # rows whose NUL characters were removed
    blank_rows: int = 0  # rows with no value and no geometry, skipped
    columns: list[str] = field(default_factory=list)  # the source's, as renamed, in its order
    # Rows with a problem found before staging (by the connector, or in the geometry itself):
    # staged without geometry, for their reference alone, so that the current version's feature
    # of that reference is kept, and not checked again.
    unchecked_rows: set[int] = field(default_factory=set)
    # The references of the first features (in row order) whose geometry was repaired.
    repaired_references: list[str] = field(default_factory=list)
    # Date fields' values that held a time of day, which a date field does not keep, by field.
    times_of_day: Counter[str] = field(default_factory=Counter)

    def add(self, problem: RowProblem) -> None:
        self.problem_count += 1
        self.rejected_rows.add(problem.row)
        if len(self.problems) < REPORT_PROBLEMS_KEPT:
            self.problems.append(problem)
        if self._problems_writer is None:
            self.problems_file = tempfile.TemporaryFile(  # noqa: SIM115 (closed by close())
                "w+", encoding="utf-8", newline=""
            )
            # Every value quoted: PostgreSQL's COPY reads an unquoted empty one as null.
            self._problems_writer = csv.writer(
                self.problems_file, quoting=csv.QUOTE_ALL, lineterminator="\n"
            )
        texts = (problem.field, problem.value, problem.reason)
        # PostgreSQL cannot store NUL in text (a source's value may hold one).
        self._problems_writer.writerow((problem.row, *(t.replace("\x00", "") for t in texts)))

    def close(self) -> None:
        if self.problems_file is not None:
            self.problems_file.close()


def schema_of(dataset: Dataset) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in dataset.field_schema}


def _column_values(column: np.ndarray) -> list[Any]:
    """A column as JSON values (what ``_json_value`` makes of each), converted in one go where
    numpy can: this runs for every value of every load."""
    if column.dtype.kind in "iub":
        return column.tolist()
    if column.dtype.kind == "f":
        finite = np.isfinite(column)
        numbers = column[finite]
        values = column.astype(object)
        # Whole numbers with blanks among them come as doubles (a numpy integer holds no blank):
        # they stay whole, as the source has them (100062012345, not 100062012345.0).
        if (
            len(numbers)
            and np.all(np.mod(numbers, 1) == 0)
            and np.all(np.abs(numbers) <= MAX_EXACT_INTEGER)
        ):
            values[finite] = numbers.astype(np.int64).tolist()
        values[~finite] = None
        return values.tolist()
    if column.dtype.kind == "O":
        return [
            value if value is None or type(value) in _PLAIN else _json_value(value)
            for value in column.tolist()
        ]
    return [_json_value(value) for value in column]


# Kept as they are; a float is not among them, as it may be NaN or infinite (ArcGIS writes an
# unset double as a bare NaN, which Python's JSON reader accepts): ``_json_value`` makes that
# null, where PostgreSQL would refuse the JSON.
_PLAIN = {str, int, bool}


def _rename_notes(mapping: IngestMapping, names: list[str], renamed: set[str]) -> list[str]:
    """What the report says of renames that did not apply as written: a column the source does
    not have (it may have renamed it since the mapping was saved), and a column renamed onto
    the name of another, which it replaces."""
    notes = []
    absent = [column for column in mapping.rename if column not in names]
    if absent:
        notes.append(
            "The column mapping renames "
            + ", ".join(f"{column!r} (to {mapping.rename[column]!r})" for column in absent)
            + f", which the source does not have; its columns are: {names_listed(names) or 'none'}."
        )
    for name in names:
        if name not in mapping.rename and name in renamed:
            by = next(column for column in names if mapping.rename.get(column) == name)
            notes.append(
                f"The column mapping renames {by!r} to {name!r}, which the source also has: "
                f"{name} holds the values of {by}, and the source's own {name} column is not kept."
            )
    return notes


def schema_differences(
    schema: Mapping[str, Any], names: list[str], reference: str
) -> tuple[list[str], list[str]]:
    """The dataset's fields that no column of the source (as renamed) fills, and the source's
    columns that are no field (other than the reference), each in its own order."""
    missing = [name for name in schema if name not in names]
    extra = [name for name in names if name not in schema and name != reference]
    return missing, extra


def _schema_notes(
    schema: dict[str, dict[str, Any]], names: list[str], reference: str, casts: Mapping[str, str]
) -> list[str]:
    """What the report says when the source's columns (as renamed) and the dataset's fields
    differ: fields no column fills are empty in every row, and columns that are no field are
    kept with each feature as they come, untyped. A zipped Shapefile cuts names to ten
    characters (site-addre), so a load would otherwise publish every feature without its
    address and say nothing; a new column would be stored on every feature, and shown in the
    downloads and the differences between versions, without the dataset's fields saying so.
    (A load that would empty a field most current features hold is refused before it
    publishes: ``publishing.fields_emptying_guard``.)"""
    missing, extra = schema_differences(schema, names, reference)
    notes = []
    if missing:
        notes.append(
            f"No column of the source fills the dataset's field{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}: {'they are' if len(missing) > 1 else 'it is'} empty in every "
            "row."
        )
    if extra:
        several = len(extra) > 1
        read_as = [name for name in extra if name in casts]
        notes.append(
            f"The column{'s' if several else ''} {names_listed(extra)} "
            f"{'are not fields' if several else 'is not a field'} of this dataset: kept with each "
            "feature as the source gives "
            f"{'them' if several else 'it'}, not checked against a field's type"
            + (
                f" (the column mapping reads {', '.join(read_as)} as "
                + ", ".join(casts[name] for name in read_as)
                + ")"
                if read_as
                else ""
            )
            + ", and in downloads and the differences between versions, but not among its "
            "fields. A data manager can add "
            f"{'them' if several else 'it'} as {'fields' if several else 'a field'} on the "
            "dataset's details page."
            + (
                " If one holds a field under another name (a Shapefile cuts names to ten "
                "characters), rename it: on the upload page (Columns to rename), in a source's "
                "column mapping, or with the command line's --rename."
                if missing
                else ""
            )
        )
    return notes


# The columns the platform's own downloads add to a dataset's fields (exports/table.py): a file
# downloaded, corrected in a spreadsheet or a GIS and loaded again is recognised by them. A
# field whose name one of them takes is written as property_<name>.
DOWNLOAD_OWN_COLUMNS = frozenset(
    {"reference", "district", "ward", "ended", "easting", "northing", "longitude", "latitude",
     "geometry_wkt_epsg27700"}
)  # fmt: skip
# And, for a dataset with several publishers (``store.several_publishers``) only, the slug of
# the organisation whose part each feature is in; elsewhere a column of this name is a field.
DOWNLOAD_ORGANISATION = "organisation"
DOWNLOAD_PREFIX = "property_"
# GeoJSON's feature-level id, which a download sets to the reference (exports/geojson.py) and
# GDAL reads back as a column of this name; not in the download's own columns above, as a
# property of that name is written under it.
DOWNLOAD_GEOJSON_ID = "id"


@dataclass(frozen=True)
class DownloadColumns:
    """How a file downloaded from the platform is read back: its own columns are left out
    (unless the dataset's schema or the reference names them) and ``property_<field>`` is read
    as the field."""

    left_out: frozenset[str]
    renames: dict[str, str]
    reference_only: bool  # its reference column is the load's reference, and no property
    # Whether its organisation column is the platform's: whose part of the dataset each row is.
    organisation: bool = False

    def note(self) -> str:
        own = sorted(self.left_out - {DOWNLOAD_GEOJSON_ID})
        note = (
            f"The file is a download from this platform: its own columns ({', '.join(own)}) "
            "are not kept as properties"
        )
        if DOWNLOAD_GEOJSON_ID in self.left_out:
            note += (
                f", nor its {DOWNLOAD_GEOJSON_ID} column, which repeats each feature's reference "
                "(the GeoJSON feature id)"
            )
        if self.reference_only:
            note += ", and its reference column is read as each feature's reference only"
        if self.organisation:
            note += (
                f", and its {DOWNLOAD_ORGANISATION} column as whose part of the dataset each row is"
            )
        if self.renames:
            note += "; " + ", ".join(f"{old} is read as {new}" for old, new in self.renames.items())
        return note + "."


def download_columns(
    batch: FeatureBatch, schema: dict[str, dict[str, Any]], mapping: IngestMapping, *,
    several_publishers: bool = False,
) -> DownloadColumns | None:  # fmt: skip
    """The platform's own columns in the batch, where they show the file is one of its
    downloads (a reference, the district and ward, and the geometry: in cells, as CSV and XLSX
    keep it, or the file's own, as GeoPackage and GeoJSON do); else None. ``several_publishers``:
    the dataset loaded has them, and its downloads an organisation column.

    A GeoJSON download's feature id is its reference, read back as a column ``id``: left out
    where every value of it is its row's reference; any other ``id`` is the council's own."""
    names = list(batch.fields)
    own = DOWNLOAD_OWN_COLUMNS | ({DOWNLOAD_ORGANISATION} if several_publishers else set())
    present = {name for name in names if name in own}
    geometry_of_its_own = batch.geometry is not None and not batch.geometry_columns
    if not {"reference", "district", "ward"} <= present or not (
        {"easting", "northing"} <= present
        or "geometry_wkt_epsg27700" in present
        or geometry_of_its_own
    ):
        return None
    if geometry_of_its_own and _is_the_reference(batch, DOWNLOAD_GEOJSON_ID):
        present.add(DOWNLOAD_GEOJSON_ID)
    prefixed = {
        name.removeprefix(DOWNLOAD_PREFIX): name
        for name in names
        if name.startswith(DOWNLOAD_PREFIX) and name not in mapping.rename
        and name.removeprefix(DOWNLOAD_PREFIX) != mapping.reference
    }  # fmt: skip
    # A property whose name is one of the columns any format of a download adds (names compared
    # without case, as the download compares them) was written as property_<name>, in every
    # format, whether or not this file has that column (GeoJSON and GeoPackage have no latitude):
    # such a column is then the platform's, even where the schema has a field of its name, and
    # property_<name> is the property, in the schema or not.
    displaced = {base.lower() for base in prefixed} & own
    kept = ((set(schema) | set(mapping.rename)) - displaced) | {mapping.reference}
    renames = {
        name: base
        for base, name in prefixed.items()
        if base.lower() in displaced or (base in schema and base not in names)
    }
    reference_only = mapping.reference == "reference" and "reference" not in schema
    left_out = frozenset(present - kept)
    return DownloadColumns(
        left_out, renames, reference_only, organisation=DOWNLOAD_ORGANISATION in left_out
    )


def _is_the_reference(batch: FeatureBatch, name: str) -> bool:
    """Whether the batch has a column ``name`` whose every value is its row's ``reference``."""
    column = batch.fields.get(name)
    if column is None:
        return False
    return all(
        _as_text(value) == _as_text(reference)
        for value, reference in zip(
            column.tolist(), batch.fields["reference"].tolist(), strict=True
        )
    )


@dataclass(frozen=True)
class LoadParts:
    """Whose part of a dataset a load replaces (``part``; None: the whole dataset), and whose
    features its rows may be: what reads the organisation column of a download of a dataset
    with several publishers. A row that names no organisation is ``default``'s (an
    organisation's id: the part's, or in a whole-dataset load the owner's). ``publishers``:
    by slug in lower case, the organisations the dataset's features may be (None: it has one
    publisher, and a column called organisation is a field)."""

    part: Organisation | None
    default: int
    publishers: dict[str, Organisation] | None
    # The dataset's field in which its sources name each row's publisher by a code of their
    # own, and each code's organisation (``Dataset.part_codes``; codes in lower case).
    code_field: str = ""
    by_code: dict[str, Organisation] = field(default_factory=dict)

    @classmethod
    def read(cls, dataset: Dataset, part: Organisation | None) -> "LoadParts":
        """Read before the load's rows are copied in: no other query can run during the COPY.
        The publishers are the dataset's owner, the organisations contributing to it and any
        whose features it holds now (a contributor since removed keeps its part)."""
        publishers = None
        if several_publishers(dataset):
            holding = current_features(dataset).values("organisation_id").distinct()
            organisations = Organisation.objects.filter(
                Q(pk=dataset.owner_id)
                | Q(pk__in=dataset.contributing_organisations.values("pk"))
                | Q(pk__in=holding)
            )
            publishers = {organisation.slug.lower(): organisation for organisation in organisations}
        code_field, by_code = "", {}
        if publishers is not None and dataset.part_codes.get("field"):
            code_field = dataset.part_codes["field"]
            slugs = dataset.part_codes.get("codes", {})
            named = {o.slug: o for o in Organisation.objects.filter(slug__in=slugs.values())}
            by_code = {code.lower(): named[slug] for code, slug in slugs.items() if slug in named}
        return cls(
            part, part.pk if part is not None else dataset.owner_id, publishers,
            code_field, by_code,
        )  # fmt: skip

    def organisations_by_code(
        self, values: list[Any], found: list[tuple[int, int, RowProblem]], rank: int
    ) -> list[int | None]:
        """The organisation (id) of each row, as the sources' own codes in ``code_field`` name
        them (a blank or a code not known: ``default``). A row of another organisation than
        the part's is a problem in ``found`` (of ``rank``): a council's own register file has
        no column of the platform's, and its rows of a neighbour's register must not be
        published as its own."""
        ids: list[int | None] = []
        for index, value in enumerate(values):
            code = (_as_text(value) or "").strip()
            organisation = self.by_code.get(code.lower())
            if organisation is None:
                ids.append(self.default)
                continue
            ids.append(organisation.pk)
            if self.part is not None and organisation.pk != self.part.pk:
                reason = (
                    f"belongs to {organisation.name}'s part ({organisation.slug}); this load "
                    f"replaces {self.part.name}'s part ({self.part.slug})"
                )
                found.append((index, rank, RowProblem(0, self.code_field, code, reason)))
        return ids

    def organisations(
        self, values: list[Any], found: list[tuple[int, int, RowProblem]], rank: int
    ) -> list[int | None]:
        """The organisation (id) of each row, as an organisation column's ``values`` name
        them (a blank: ``default``). A row naming another organisation than the part's, or one
        that does not publish the dataset (None), is a problem in ``found`` (of ``rank``)."""
        ids: list[int | None] = []
        for index, value in enumerate(values):
            slug = (_as_text(value) or "").strip()
            if not slug:
                ids.append(self.default)
                continue
            organisation = self.publishers.get(slug.lower())
            ids.append(organisation.pk if organisation is not None else None)
            if organisation is None:
                named = ", ".join(sorted(o.slug for o in self.publishers.values()))
                reason = f"is not an organisation that publishes this dataset ({named})"
            elif self.part is not None and organisation.pk != self.part.pk:
                reason = (
                    f"belongs to {organisation.name}'s part ({organisation.slug}); this load "
                    f"replaces {self.part.name}'s part ({self.part.slug})"
                )
            else:
                continue
            found.append((index, rank, RowProblem(0, DOWNLOAD_ORGANISATION, slug, reason)))
        return ids


def batch_rows(
    batch: FeatureBatch, mapping: IngestMapping, schema: dict[str, dict[str, Any]],
    staging: Staging, parts: LoadParts | None = None,
) -> list[tuple]:  # fmt: skip
    """The batch as staging rows (row, reference, properties JSON, WKB, organisation), its
    problems noted. The organisation (an id) is whose feature the row is: ``parts``' default,
    or what a download's organisation column names (None without ``parts``, or for a row
    naming none the dataset has).

    Works column by column (typing and the schema's rules once per column, not per value
    where the column's type settles it); the problems are reported in row order.
    """
    blank = {batch.first_row + index for index in _blank_rows(batch)}
    staging.blank_rows += len(blank)
    for problem in batch.problems:
        if problem.row not in blank:
            staging.add(problem)
    # Rows the connector could not read are reported as it said, not checked again here; blank
    # rows are not rows of data at all.
    unreadable = {problem.row for problem in batch.problems} | blank
    count = len(batch)
    columns: dict[str, list[Any]] = {}
    source_columns: dict[str, np.ndarray] = {}
    renamed = {mapping.rename[name] for name in batch.fields if name in mapping.rename}
    download = download_columns(
        batch, schema, mapping,
        several_publishers=parts is not None and parts.publishers is not None,
    )  # fmt: skip
    if batch.first_row == 1:
        staging.notes.extend(_rename_notes(mapping, list(batch.fields), renamed))
        if download is not None:
            staging.notes.append(download.note())
    for name, column in batch.fields.items():
        if name not in mapping.rename and name in renamed:
            continue  # the column renamed to this name takes its place, said in the notes
        if download is not None:
            if name in download.left_out:
                continue
            name_read = download.renames.get(name)
            if name_read is not None:
                source_columns[name_read] = column
                columns[name_read] = _column_values(column)
                continue
        if name in batch.geometry_columns and mapping.rename.get(name, name) not in schema:
            # The coordinates are the geometry: kept again as properties, a file written in
            # another projection of the same points would change every feature.
            continue
        source_columns[mapping.rename.get(name, name)] = column
        columns[mapping.rename.get(name, name)] = _column_values(column)
    for name, value in mapping.constants.items():
        columns[name] = [value] * count
    if batch.first_row == 1 and count and mapping.reference not in columns:
        # Said once, before any row is checked: otherwise every row would be a problem of its
        # own ("the reference is empty"), the same thousands of times.
        listed = ", ".join(dict.fromkeys([*columns, *batch.geometry_columns])) or "none"
        raise ConnectorError(
            f"The source has no column {mapping.reference!r} to read each feature's reference "
            f"from (its columns are: {listed}). Choose the column that identifies each feature "
            "as the reference column, or rename one to it."
        )
    if batch.first_row == 1:
        staging.columns = list(columns)
        if schema:
            staging.notes.extend(
                _schema_notes(schema, list(columns), mapping.reference, mapping.casts)
            )
    empty_reference = (
        "the reference is empty"
        if mapping.reference in columns
        else f"the reference is empty: this part of the source has no column {mapping.reference!r}"
        f" (its columns are: {', '.join(dict.fromkeys([*columns, *batch.geometry_columns])) or 'none'})"
    )
    found: list[tuple[int, int, RowProblem]] = []  # (row, order, problem) to sort by row
    specs = {name: {"type": kind} for name, kind in mapping.casts.items() if name not in schema}
    specs.update(schema)
    for order, (name, spec) in enumerate(specs.items()):
        values = columns.get(name)
        if values is None:
            if name not in schema:
                continue  # a cast of a column this source does not have
            values = columns[name] = [None] * count
        kind = spec.get("type", "string")
        if kind == "string" and name in mapping.casts:
            values = columns[name] = [_as_text(value) for value in values]
            bad = set()
        elif (
            kind == "integer"
            and name not in mapping.constants
            and _exact_integers(source_columns.get(name))
        ):
            bad = set()  # the source's own whole numbers: typing changes none and finds nothing
        elif kind != "string":
            # Infinity is null by now (JSON has none); in a number field it is not unknown but
            # wrong, so it is found in the source's column.
            infinite = (
                _infinities(source_columns[name])
                if kind in ("integer", "number") and name in source_columns
                else {}
            )
            typed = []
            for index, value in enumerate(values):
                if index in infinite:
                    typed.append(None)
                    shown = infinite[index]
                    problem = RowProblem(0, name, shown, f"{shown} is not a finite number")
                    found.append((index, 2 * order, problem))
                    continue
                try:
                    if kind == "date" and value is not None and value != "":
                        day, timed = date_and_time_of_day(value)
                        typed.append(day)
                        staging.times_of_day[name] += timed
                    else:
                        typed.append(typed_value(value, kind))
                except ValueError as error:
                    typed.append(value)
                    found.append((index, 2 * order, RowProblem(0, name, str(value), str(error))))
            bad = {index for index, rank, _ in found if rank == 2 * order}
            values = columns[name] = typed
        else:
            bad = set()
        allowed = spec.get("allowed")
        if spec.get("required") or allowed:
            shown = ", ".join(map(str, allowed or []))
            for index in _outside(values, allowed or None, required=bool(spec.get("required"))):
                if index in bad:
                    continue
                value = values[index]
                if value in (None, "") and name == mapping.reference:
                    continue  # an empty reference has a problem of its own, below
                if value in (None, ""):
                    found.append((index, 2 * order + 1, RowProblem(0, name, "", "is required")))
                else:
                    found.append(
                        (index, 2 * order + 1,
                         RowProblem(0, name, str(value), f"is not one of: {shown}"))
                    )  # fmt: skip
    if mapping.reference in columns:
        # Spaces around a reference are not part of it: "E1 " (a spreadsheet's stray space) is
        # feature E1, not a second feature beside it. Kept so in the properties too.
        columns[mapping.reference] = [
            value.strip() if isinstance(value, str) else value
            for value in columns[mapping.reference]
        ]
    # As text: a whole-number reference read as a double (a column with blanks) without ".0".
    references = [
        "" if value is None else _as_text(value)
        for value in columns.get(mapping.reference, [None] * count)
    ]
    if download is not None and download.reference_only:
        columns.pop(mapping.reference, None)
    if parts is not None and download is not None and download.organisation:
        named = _column_values(batch.fields[DOWNLOAD_ORGANISATION])
        organisations = parts.organisations(named, found, 2 * len(specs) + 1)
    elif parts is not None and parts.code_field in columns:
        organisations = parts.organisations_by_code(
            columns[parts.code_field], found, 2 * len(specs) + 1
        )
    else:
        organisations = [parts.default if parts is not None else None] * count
    rows = []
    for index, (reference, properties) in enumerate(
        zip(references, properties_json(columns, count), strict=True)
    ):
        number = batch.first_row + index
        if number in blank:
            continue
        if "\x00" in reference or "\\u0000" in properties:
            reference, properties = _without_nul(reference, properties, staging)
        if number in unreadable:
            # Reported as the connector said; staged for its reference alone, if it has one.
            if reference and len(reference) <= REFERENCE_MAX_LENGTH:
                staging.unchecked_rows.add(number)
                rows.append((number, reference, properties, None, organisations[index]))
            continue
        if not reference:
            found.append(
                (
                    index,
                    2 * len(specs),
                    RowProblem(0, mapping.reference, "", empty_reference),
                )
            )
            continue
        if len(reference) > REFERENCE_MAX_LENGTH:
            found.append(
                (index, 2 * len(specs),
                 RowProblem(0, mapping.reference, f"{reference[:40]}…",
                            f"the reference is longer than {REFERENCE_MAX_LENGTH} characters"))
            )  # fmt: skip
            continue
        geometry = batch.geometry[index] if batch.geometry is not None else None
        rows.append((number, reference, properties, geometry, organisations[index]))
    for index, _, problem in sorted(found, key=lambda item: item[:2]):
        number = batch.first_row + index
        if number not in unreadable:
            staging.add(RowProblem(number, problem.field, problem.value, problem.reason))
    return rows


def _exact_integers(column: np.ndarray | None) -> bool:
    """Whether ``column`` is the source's own whole numbers, all within what the map reads
    exactly: then typing them changes nothing and finds no problem."""
    if column is None or column.dtype.kind not in "iu":
        return False
    return not len(column) or (
        int(column.min()) >= -MAX_EXACT_INTEGER and int(column.max()) <= MAX_EXACT_INTEGER
    )


def _outside(values: list[Any], allowed: list[Any] | None, *, required: bool) -> list[int]:
    """The positions of values a field's rules refuse: blank when it is required, or not among
    its allowed values. Found in one pass with a set; a value no set can hold (a GeoJSON
    property that is a list) is compared with each allowed value instead."""
    blank = (None, "")
    if allowed is None:
        return [index for index, value in enumerate(values) if value in blank]
    accepted = list(allowed) if required else [*allowed, *blank]
    try:
        lookup = set(accepted)
        return [index for index, value in enumerate(values) if value not in lookup]
    except TypeError:
        return [index for index, value in enumerate(values) if value not in accepted]


# How ``json.dumps`` writes each plain value (the same text, character for character), as
# functions that run in C: a load writes millions of values.
_JSON_WRITERS = {
    str: encode_basestring_ascii,
    int: int.__repr__,
    float: float.__repr__,  # finite here: NaN and infinity are null or a problem by now
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}


def _json_texts(values: list[Any]) -> list[str]:
    """Each value as JSON text; a column of one plain type (most are) in one call."""
    kinds = set(map(type, values))
    if len(kinds) == 1 and (writer := _JSON_WRITERS.get(kinds.pop())) is not None:
        return list(map(writer, values))
    return [_JSON_WRITERS.get(type(value), json.dumps)(value) for value in values]


def properties_json(columns: dict[str, list[Any]], count: int) -> list[str]:
    """Each row's properties as the JSON text ``json.dumps`` would write for the row's dict,
    built column by column: one template per batch, filled row by row by ``str.format``."""
    if not columns:
        return ["{}"] * count
    template = (
        "{{"
        + ", ".join(
            encode_basestring_ascii(name).replace("{", "{{").replace("}", "}}") + ": {}"
            for name in columns
        )
        + "}}"
    )
    return list(map(template.format, *map(_json_texts, columns.values())))


def _blank_rows(batch: FeatureBatch) -> list[int]:
    """The positions of rows with nothing in them, no value in any column and no geometry: a
    spreadsheet's empty lines, a CSV's rows of commas only."""
    blank = np.ones(len(batch), dtype=bool)
    for column in batch.fields.values():
        if column.dtype.kind == "f":
            blank &= np.isnan(column)
        elif column.dtype.kind == "O":
            blank &= np.fromiter(
                (value is None or (isinstance(value, str) and not value.strip())
                 for value in column.tolist()),
                dtype=bool, count=len(column),
            )  # fmt: skip
        else:
            return []  # whole numbers and true/false are never blank
        if not blank.any():
            return []
    if batch.geometry is not None:
        blank &= np.fromiter((wkb is None for wkb in batch.geometry), dtype=bool, count=len(batch))
    return np.flatnonzero(blank).tolist()


def _infinities(column: np.ndarray) -> dict[int, str]:
    """The positions of infinite numbers in a source's column, each as JSON would write it.

    NaN is not among them: pyogrio gives an empty number as NaN and ArcGIS writes an unset one
    so, which makes NaN unknown (null), never a value."""
    if column.dtype.kind == "f":
        positions = np.flatnonzero(np.isinf(column)).tolist()
    elif column.dtype.kind == "O":
        positions = [
            index
            for index, value in enumerate(column.tolist())
            if isinstance(value, float) and math.isinf(value)
        ]
    else:
        return {}
    return {index: number_text(float(column[index])) for index in positions}


def number_text(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def _as_text(value: Any) -> str | None:
    """A value cast to text: true and false in lower case (as in JSON), and a whole number read
    as a double (as ArcGIS and GDAL often give codes) without its ".0" (one beyond what a
    double holds exactly keeps its exponent: its last digits would be made up)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_EXACT_INTEGER:
        return str(int(value))
    return str(value)


def _without_nul(reference: str, properties: str, staging: Staging) -> tuple[str, str]:
    """The row's reference and properties JSON without NUL characters, which PostgreSQL cannot
    store in text (JSON sources can carry them as ``\\u0000``); the row is counted if any went."""
    cleaned = {
        name.replace("\x00", ""): value.replace("\x00", "") if isinstance(value, str) else value
        for name, value in json.loads(properties).items()
    }
    without = json.dumps(cleaned)
    if "\x00" in reference or without != properties:
        staging.nul_rows += 1
    return reference.replace("\x00", ""), without
