"""GeoJSON (RFC 7946): a FeatureCollection in WGS84 longitude and latitude to 7 decimal places
(about a centimetre), outer rings anticlockwise, streamed. Each feature's ``id`` is its
reference and its properties are the table's columns (``exports.table``) with their stored
values, null where unknown or empty text (``table.property_value``). The collection carries
the download's metadata in a foreign member, ``metadata``.
"""

import json
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy
import shapely

from .base import Batches, StreamingExporter
from .registry import exporter_register
from .table import GRID_TO_WGS84, ORGANISATION, property_value, table_columns

if TYPE_CHECKING:
    from infraplan.catalogue.sources import FeatureRecord

    from .selectors import Export
    from .table import Column

DECIMALS = 7


def _to_wgs84(x: numpy.ndarray, y: numpy.ndarray) -> tuple[numpy.ndarray, numpy.ndarray]:
    longitude, latitude = GRID_TO_WGS84.transform(x, y)
    return numpy.round(longitude, DECIMALS), numpy.round(latitude, DECIMALS)


def geometry_json(geometry: Any) -> dict[str, Any] | None:
    """An EPSG:27700 geometry as an RFC 7946 geometry object (None for none)."""
    if geometry is None or geometry.empty:
        return None
    shape = shapely.from_wkb(bytes(geometry.wkb))
    shape = shapely.orient_polygons(shapely.transform(shape, _to_wgs84, interleaved=False))
    return json.loads(shapely.to_geojson(shape))


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def feature_json(export: "Export", columns: list["Column"], record: "FeatureRecord") -> dict:
    properties = {}
    for column in columns:
        if column.part == "property":
            properties[column.name] = property_value(record.properties, column.key)
        elif column.part == "reference":
            properties[column.name] = record.reference
        elif column.part == ORGANISATION:
            properties[column.name] = record.organisation or None
        elif column.part in ("district", "ward"):
            properties[column.name] = getattr(record, column.part) or None
        elif column.part == "ended":
            properties[column.name] = _value(export.ended(record))
    return {
        "type": "Feature",
        "id": record.reference,
        "geometry": geometry_json(record.geometry),
        "properties": properties,
    }


@exporter_register
class GeoJsonExporter(StreamingExporter):
    key = "geojson"
    title = "GeoJSON"
    hint = "For web maps and GIS (WGS84 longitude and latitude)."
    media_type = "application/geo+json"
    spatial_only = True

    def chunks(self, export: "Export") -> Iterator[bytes]:
        columns = table_columns(export, geometry="none")
        head = {"type": "FeatureCollection", "metadata": export.about.as_json()}
        opening = json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [\n'
        batches = Batches()
        batches.add(opening.encode())
        separator = ""
        for record in export.records():
            feature = json.dumps(
                feature_json(export, columns, record), ensure_ascii=False, allow_nan=False
            )
            if chunk := batches.add(f"{separator}{feature}".encode()):
                yield chunk
            separator = ",\n"
        batches.add(b"\n]}\n")
        yield batches.take()
