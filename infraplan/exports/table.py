"""A download as a table: its columns and each feature's values in them, shared by every format
that has columns (CSV, XLSX, GeoPackage, and GeoJSON's properties) so that a column has the
same name in each.

Columns: ``reference``; for a dataset with several publishers (``store.several_publishers``:
a brownfield register of a dozen councils), ``organisation``, the slug of the organisation whose
part the feature is in (as ``infraplan ingest --organisation`` takes it: two councils' features
may share a reference); the schema's fields by their names (stable for scripts; titles are in
the metadata), in schema order; any other properties the chosen features have, by name; the
``district`` and ``ward`` each feature was placed in (ONS codes); ``ended`` when ended features
are shown; then the geometry, where the format keeps it in cells: a point as ``easting`` and
``northing`` (British National Grid metres, to the millimetre) and ``longitude`` and
``latitude`` (WGS84, 6 decimal places); any other geometry as WKT in EPSG:27700
(``geometry_wkt_epsg27700``). A property whose name is one of the columns any format adds
(say a field called ``reference``, or ``latitude``) is written as ``property_<name>`` in every
format, those that keep the geometry as geometry included (GeoJSON, GeoPackage): a property is
named the same in each, and a download loaded again reads it back by that name
(``catalogue.ingest_rows``). So is a property called ``organisation`` where the dataset has
several publishers (only there: a one-publisher dataset's columns do not change).

A property's value is read once for every format, by ``property_value``: a property whose
value is empty text is written as no value, as an unknown one is.
"""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import shapely
from pyproj import Transformer

from infraplan.catalogue.models import GeometryType
from infraplan.catalogue.sources import FeatureRecord

if TYPE_CHECKING:
    from .selectors import Export

WKT = "geometry_wkt_epsg27700"
POINT_COLUMNS = ("easting", "northing", "longitude", "latitude")
# Never a property's column name: the table's own columns, and GeoPackage's id and geometry;
# and, in every format, the names of the geometry's cells, which CSV and XLSX add.
FIXED_NAMES = frozenset({"reference", "district", "ward", "ended", "fid", "geom"})
ORGANISATION = "organisation"  # a column of a dataset with several publishers only
GEOMETRY_CELL_NAMES = frozenset({*POINT_COLUMNS, WKT})
TYPES = ("string", "integer", "number", "boolean", "date")
GRID_DECIMALS = 3  # millimetres
DEGREE_DECIMALS = 6  # about 10 cm

# From the store's British National Grid to WGS84 (see docs/coordinates.md for its accuracy).
GRID_TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)


@dataclass(frozen=True)
class Column:
    name: str  # as the file's header names it
    title: str
    type: str  # one of TYPES, or "any" for a property outside the schema (any JSON value)
    part: str  # reference, organisation, property, district, ward, ended, easting ... wkt
    key: str = ""  # the property's own name, for a property column


# Which geometry a format keeps in cells: "cells", points as coordinates and anything else as
# WKT; "points", only points (a worksheet cell cannot hold a large polygon); "none".
GeometryCells = Literal["cells", "points", "none"]


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``property_<name>`` (numbered if need be) when it is taken. Names are
    compared without case: GeoPackage (SQLite) columns ignore it."""
    base = name if name.strip() else "property"
    candidate, number = base, 2
    if candidate.lower() in taken:
        candidate = f"property_{base}"
    while candidate.lower() in taken:
        candidate, number = f"property_{base}_{number}", number + 1
    taken.add(candidate.lower())
    return candidate


def table_columns(export: "Export", *, geometry: GeometryCells) -> list[Column]:
    """The download's columns, with the geometry in cells as ``geometry`` says. Which
    properties are renamed does not depend on it: a property is named alike in every format."""
    taken = set(FIXED_NAMES | GEOMETRY_CELL_NAMES)
    columns = [Column("reference", "Reference", "string", "reference")]
    if export.several_publishers:
        taken.add(ORGANISATION)
        columns.append(
            Column(
                ORGANISATION,
                "Organisation whose part of the dataset the feature is in (its slug, as "
                "infraplan ingest --organisation takes it)",
                "string", ORGANISATION,
            )
        )  # fmt: skip
    schema = [entry for entry in export.dataset.field_schema if entry.get("name")]
    for entry in schema:
        kind = entry.get("type", "string")
        columns.append(
            Column(
                _unique(entry["name"], taken), entry.get("title") or entry["name"],
                kind if kind in TYPES else "any", "property", entry["name"],
            )
        )  # fmt: skip
    known = {entry["name"] for entry in schema}
    for name in export.summary.property_names:
        if name not in known:
            columns.append(Column(_unique(name, taken), name, "any", "property", name))
    columns += [
        Column("district", "District (ONS code)", "string", "district"),
        Column("ward", "Ward (ONS code)", "string", "ward"),
    ]
    if export.moment.show_ended:
        columns.append(Column("ended", "Ended on", "date", "ended"))
    kind = export.dataset.geometry_type
    if geometry != "none" and kind == GeometryType.POINT:
        columns += [
            Column("easting", "Easting (British National Grid, metres)", "number", "easting"),
            Column("northing", "Northing (British National Grid, metres)", "number", "northing"),
            Column("longitude", "Longitude (WGS84)", "number", "longitude"),
            Column("latitude", "Latitude (WGS84)", "number", "latitude"),
            # A feature of several points has no single easting and northing.
            Column(WKT, "Several points (WKT, EPSG:27700)", "string", "wkt"),
        ]
    elif geometry == "cells" and kind in (GeometryType.LINE, GeometryType.POLYGON):
        columns.append(Column(WKT, "Geometry (WKT, EPSG:27700)", "string", "wkt"))
    return columns


def property_value(properties: Mapping[str, Any], name: str) -> Any:
    """The property ``name`` as every download, and the OGC API, write it: its stored value,
    or None (no value: JSON null, a NULL, a blank cell) where it has none or where it is empty
    text.

    A source's blank text cell is read as empty text and stored so. Written as it is, a file
    would hold a value there (a GeoPackage's '', an XLSX cell that Excel counts as filled,
    GeoJSON's "") where a blank date has none. The platform shows it as no value everywhere
    else: the feature's pop-up and page leave it out, and an attribute filter's empty value
    (``?notes=``, ``catalogue.filters``) keeps the features whose value is missing, null or
    empty text, which are those a download writes with no value there.

    Only empty text, not text of spaces alone, which is written as the source has it: a
    spreadsheet does not count a cell of spaces as blank either (ISBLANK), the empty filter
    does not keep it and the pop-up shows it. Written as no value, it would be a blank that a
    download filtered to the blank ones leaves out."""
    value = properties.get(name)
    return None if value == "" else value


def typed(value: Any, kind: str) -> Any:
    """A stored value as its column's type: an ISO date text as a date; a whole number stored as
    10.0 in an integer field as 10. A value that is not of the type (a load may keep some) is
    given as it is, for each format to write as best it can."""
    if value is None or kind in ("string", "any"):
        return value
    if kind == "date" and isinstance(value, str):
        try:
            return date.fromisoformat(value[:10]) if len(value) >= 10 else value
        except ValueError:
            return value
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _geometry_cells(geometry: Any) -> dict[str, Any]:
    if geometry is None or geometry.empty:
        return {}
    shape = shapely.from_wkb(bytes(geometry.wkb))
    if isinstance(shape, shapely.MultiPoint) and len(shape.geoms) == 1:
        shape = shape.geoms[0]
    if isinstance(shape, shapely.Point):
        longitude, latitude = GRID_TO_WGS84.transform(shape.x, shape.y)
        return {
            "easting": round(shape.x, GRID_DECIMALS),
            "northing": round(shape.y, GRID_DECIMALS),
            "longitude": round(longitude, DEGREE_DECIMALS),
            "latitude": round(latitude, DEGREE_DECIMALS),
        }
    return {"wkt": shapely.to_wkt(shape, rounding_precision=GRID_DECIMALS, trim=True)}


def table_row(export: "Export", columns: list[Column], record: FeatureRecord) -> list[Any]:
    """The feature's values in ``columns``, typed (numbers, booleans, dates; None for unknown)."""
    in_cells = columns[-1].part == "wkt"  # geometry columns, when there are any, come last
    cells = _geometry_cells(record.geometry) if in_cells else {}
    row = []
    for column in columns:
        if column.part == "property":
            row.append(typed(property_value(record.properties, column.key), column.type))
        elif column.part == "reference":
            row.append(record.reference)
        elif column.part == ORGANISATION:
            row.append(record.organisation or None)
        elif column.part in ("district", "ward"):
            row.append(getattr(record, column.part) or None)
        elif column.part == "ended":
            row.append(export.ended(record))
        else:
            row.append(cells.get(column.part))
    return row


def table_rows(export: "Export", columns: list[Column]) -> Iterator[list[Any]]:
    for record in export.records():
        yield table_row(export, columns, record)


def json_text(value: Any) -> str:
    """A list or object value (a property outside the schema may hold one) as JSON text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
