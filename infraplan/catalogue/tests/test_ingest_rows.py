"""Mapping a batch's columns onto the dataset's schema, column by column: the JSON written for
each row is what ``json.dumps`` writes for the row's values, and the schema's rules find the
same problems whichever shortcut a column's type allows."""

import json

import numpy as np
import pytest

from infraplan.catalogue.ingest_rows import IngestMapping, Staging, batch_rows, properties_json
from infraplan.catalogue.loading import MAX_EXACT_INTEGER
from infraplan.connectors.base import FeatureBatch

TRICKY_COLUMNS = {
    "name": ['Site "A"', "Bishopsbourne £", "café", "tab\there", "\\slash", "emoji 🏠", ""],
    "homes": [1, -2, 0, 2**70, 12, 99, 5],
    "area": [0.1, 2.5, -0.0, 1e-7, 123456789.125, 3.0, 1e22],
    "open": [True, False, True, True, False, True, False],
    "unknown": [None] * 7,
    "mixed": ["a", 1, 2.5, None, True, [1, "two"], {"k": "v"}],
    '{braces} in "name"': ["x", "y", "z", "{}", "{0}", "}", "{"],
    "ünïcode key": [1, 2, 3, 4, 5, 6, 7],
}


def test_each_rows_json_is_what_json_dumps_writes_for_it():
    written = properties_json(TRICKY_COLUMNS, 7)
    rows = [
        dict(zip(TRICKY_COLUMNS, values, strict=True))
        for values in zip(*TRICKY_COLUMNS.values(), strict=True)
    ]
    assert written == [json.dumps(row) for row in rows]
    assert json.loads(written[5])["mixed"] == [1, "two"]


def test_rows_without_columns_are_empty_objects():
    assert properties_json({}, 2) == ["{}", "{}"]


def rows_of(fields: dict[str, np.ndarray], schema: list[dict], **mapping) -> tuple[list, Staging]:
    staging = Staging()
    batch = FeatureBatch(first_row=1, fields=fields, geometry=None, crs=None)
    rows = batch_rows(
        batch, IngestMapping(reference="ref", **mapping), {entry["name"]: entry for entry in schema},
        staging,
    )  # fmt: skip
    return rows, staging


def problems(staging: Staging) -> list[tuple]:
    return [
        (problem.row, problem.field, problem.value, problem.reason) for problem in staging.problems
    ]


def test_a_sources_own_whole_numbers_are_kept_and_checked_against_the_rules():
    fields = {
        "ref": np.array(["a", "b", "c"], dtype=object),
        "homes": np.array([5, 0, 7], dtype=np.int64),
    }
    schema = [{"name": "homes", "type": "integer", "required": True, "allowed": [5, 7]}]
    rows, staging = rows_of(fields, schema)
    assert [json.loads(row[2]) for row in rows] == [
        {"ref": "a", "homes": 5}, {"ref": "b", "homes": 0}, {"ref": "c", "homes": 7},
    ]  # fmt: skip
    assert problems(staging) == [(2, "homes", "0", "is not one of: 5, 7")]


def test_a_sources_whole_numbers_beyond_exact_are_still_problems():
    fields = {
        "ref": np.array(["a", "b"], dtype=object),
        "homes": np.array([3, MAX_EXACT_INTEGER + 1], dtype=np.int64),
    }
    rows, staging = rows_of(fields, [{"name": "homes", "type": "integer"}])
    assert [row[1] for row in rows] == ["a", "b"]  # rows with problems are counted, not dropped
    assert [problem[:2] for problem in problems(staging)] == [(2, "homes")]
    assert "too large to store exactly" in staging.problems[0].reason


def test_a_constant_over_a_whole_number_column_is_typed_as_the_constant():
    fields = {"ref": np.array(["a"], dtype=object), "homes": np.array([3], dtype=np.int64)}
    _, staging = rows_of(
        fields, [{"name": "homes", "type": "integer"}], constants={"homes": "many"}
    )
    assert problems(staging) == [(1, "homes", "many", "'many' is not a whole number")]


@pytest.mark.parametrize("required", [True, False])
def test_allowed_values_are_checked_for_list_values_and_blanks(required):
    fields = {
        "ref": np.array(["a", "b", "c", "d"], dtype=object),
        "status": np.array(["open", ["open"], None, "shut"], dtype=object),
    }
    schema = [{"name": "status", "type": "string", "required": required, "allowed": ["open"]}]
    _, staging = rows_of(fields, schema)
    expected = [(2, "status", "['open']", "is not one of: open")]
    if required:
        expected.append((3, "status", "", "is required"))
    expected.append((4, "status", "shut", "is not one of: open"))
    assert problems(staging) == expected


def test_an_empty_list_of_allowed_values_allows_any():
    fields = {
        "ref": np.array(["a", "b"], dtype=object),
        "status": np.array(["x", None], dtype=object),
    }
    _, staging = rows_of(fields, [{"name": "status", "type": "string", "allowed": []}])
    assert problems(staging) == []
