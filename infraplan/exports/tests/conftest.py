"""Fixtures and readers for the download tests: the real demo data, small datasets made through
the same services as real loads, and each format read back."""

import csv
import io
import json
from pathlib import Path

import numpy
import pyogrio
import pyogrio.raw
import pytest
from django.db import connection

from infraplan.catalogue.demo import demo_load
from infraplan.catalogue.models import Dataset


@pytest.fixture
def schools(db):
    """The real districts (for the areas' boundaries) and schools (GIAS 2022) of the demo data."""
    *_, schools = demo_load(only={"districts", "schools"})
    return schools.dataset


@pytest.fixture
def ward_schools(db):
    """The real districts, wards and schools of the demo data, each school placed in its
    district and its ward as a load places it."""
    *_, schools = demo_load(only={"districts", "wards", "schools"})
    return schools.dataset


def body(response) -> bytes:
    """The whole body of a response, streamed or not."""
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def csv_table(response) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV download's header and rows."""
    text = body(response).decode("utf-8")
    assert text.startswith("\ufeff"), "a byte order mark, so that Excel reads UTF-8"
    reader = csv.DictReader(io.StringIO(text[1:]))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def csv_rows(response) -> list[dict[str, str]]:
    return csv_table(response)[1]


def saved(response, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(body(response))
    return path


def layer(path: Path, layer: str | None = None, **options: str) -> tuple[dict, list[dict], list]:
    """A file read back by GDAL (pyogrio), with GDAL's open ``options``: its metadata, each
    feature's fields, and geometries as WKB."""
    meta, _, geometry, fields = pyogrio.raw.read(path, layer=layer, **options)
    names = list(meta["fields"])
    rows = []
    for index in range(len(fields[0]) if fields else 0):
        row = {}
        for name, values in zip(names, fields, strict=True):
            value = values[index]
            if isinstance(value, numpy.generic):
                value = value.item()
            row[name] = value
        rows.append(row)
    return meta, rows, list(geometry) if geometry is not None else []


def geojson(response) -> dict:
    return json.loads(body(response))


def postgis_count(sql: str, **parameters) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        return cursor.fetchone()[0]


def schools_in(area_code: str) -> int:
    """How many schools of the current version PostGIS finds in or on the area's current
    boundary, leaving out those closed (downloads leave ended features out unless asked)."""
    return postgis_count(
        """
        SELECT count(*) FROM catalogue_feature school, catalogue_feature boundary
        WHERE school.dataset_id = %(schools)s AND school.valid_to IS NULL
          AND school.properties ->> 'close_date' IS NULL
          AND boundary.dataset_id = %(districts)s AND boundary.valid_to IS NULL
          AND boundary.reference = %(code)s AND ST_Intersects(school.geom, boundary.geom)
        """,
        schools=Dataset.objects.get(slug="schools").pk,
        districts=Dataset.objects.get(slug="districts").pk,
        code=area_code,
    )
