"""Placing a draft version's features in districts and wards (``Feature.district``/``ward``).

A feature's district is the source's own district code where it has a field for one (an ONS
LAD code column, say, or a code the source uses for its district that ``district_codes`` turns
into the ONS code, as a brownfield register's planning authority), else the district that
contains its representative point (the point itself, or a point on the surface of a line or
polygon). The source's code comes first because boundaries are generalised: a site a few metres
inside its authority's real boundary can lie outside the generalised one, or inside a
neighbour's. Its ward is the ward of its district that contains that point, else the nearest
ward of its district within ``WARD_NEAREST_METRES``. A ward's district is the district that
contains the ward's own representative point: districts and wards are generalised apart, so a
point near a border can fall in one district's polygon and a neighbouring district's ward, and
a feature is never placed in a ward of another district than its own. A feature whose point
lies in no district but within ``WARD_NEAREST_METRES`` of a ward (a seafront site just beyond
a generalised coastline) takes that ward's district too, so that its council's area holds it.
Nothing is dropped: features whose point lies outside every district (a coordinate typed
wrongly, say) are listed in the version's report by reference, whether or not the source's code
or a ward placed them, and so are those left without a district or a ward.

A dataset without geometry (a list of conservation areas, say) is placed by the source's own
code alone: it has no point to place by, and no ward; so is a boundary dataset itself (wards
by their district's code), asked not to be placed ``by_geometry``. The ward boundaries are each
in their own ward, by reference (the ward's code), whether placed ``by_geometry`` or not: their
draft cannot place itself, not being the current version of the ward boundaries until
published, and a ward's boundary is a feature of its ward.

The boundary datasets are the current versions of the datasets named (by slug); their
features' references are the GSS codes stored. All of it is set-based SQL over the spatial
index, so placing thousands of features costs a few statements, not a query per feature.
"""

import json
from typing import Any

from django.db import connection

from .models import Dataset, DatasetVersion, Feature, GeometryType

WARD_NEAREST_METRES = 250
GSS_CODE = r"^[EWSN][0-9]{8}$"

_OF_DRAFT = "t.dataset_id = %(dataset)s AND t.valid_from = %(version)s"
_DRAFT = f"{_OF_DRAFT} AND t.geom IS NOT NULL"
_BOUNDARY = "b.dataset_id = %(boundary)s AND b.valid_to IS NULL AND b.valid_from <= %(current)s"

# The source's value, through the dataset's own code list where it has one.
_SOURCE_CODE = (
    "COALESCE(%(codes)s::jsonb ->> (t.properties ->> %(field)s), t.properties ->> %(field)s)"
)
_FROM_SOURCE = f"""
    UPDATE {{draft}} t SET district = {_SOURCE_CODE}
    WHERE {_OF_DRAFT} AND {_SOURCE_CODE} ~ %(pattern)s
"""  # noqa: S608 (table name from model metadata, values bound)
# A ward ``b`` of the feature's own district (any ward, for a feature without one): the
# district's polygon holds the ward's representative point.
_WARD_OF_DISTRICT = """(t.district = '' OR EXISTS (
    SELECT FROM {feature} d
    WHERE d.dataset_id = %(districts)s AND d.valid_to IS NULL
          AND d.valid_from <= %(districts_current)s AND d.reference = t.district
          AND ST_Intersects(d.geom, ST_PointOnSurface(b.geom))))"""
# DISTINCT ON picks one boundary, the lowest code, for a point exactly on a shared edge.
_CONTAINING = f"""
    UPDATE {{draft}} u SET {{column}} = placed.code
    FROM (
        SELECT DISTINCT ON (t.id) t.id, b.reference AS code
        FROM {{draft}} t
        JOIN {{feature}} b ON {_BOUNDARY} AND ST_Intersects(b.geom, ST_PointOnSurface(t.geom))
        WHERE {_DRAFT} AND t.{{column}} = '' AND {{of_district}}
        ORDER BY t.id, b.reference
    ) placed
    WHERE u.id = placed.id
"""  # noqa: S608
_NEAREST = f"""
    UPDATE {{draft}} u SET {{column}} = placed.code
    FROM (
        SELECT t.id, nearest.code
        FROM {{draft}} t
        CROSS JOIN LATERAL (
            SELECT b.reference AS code FROM {{feature}} b
            WHERE {_BOUNDARY} AND ST_DWithin(b.geom, ST_PointOnSurface(t.geom), %(metres)s)
                  AND {{of_district}}
            ORDER BY ST_Distance(b.geom, ST_PointOnSurface(t.geom)), b.reference
            LIMIT 1
        ) nearest
        WHERE {_DRAFT} AND t.{{column}} = ''
    ) placed
    WHERE u.id = placed.id
"""  # noqa: S608
# A feature left without a district whose nearest ward placed it: the district holding that
# ward's representative point, as ``_WARD_OF_DISTRICT`` reckons a ward's district.
_DISTRICT_OF_WARD = f"""
    UPDATE {{draft}} t SET district = d.reference
    FROM {{feature}} w, {{feature}} d
    WHERE {_DRAFT} AND t.district = '' AND t.ward <> ''
          AND w.dataset_id = %(boundary)s AND w.valid_to IS NULL AND w.valid_from <= %(current)s
          AND w.reference = t.ward
          AND d.dataset_id = %(districts)s AND d.valid_to IS NULL
          AND d.valid_from <= %(districts_current)s
          AND ST_Intersects(d.geom, ST_PointOnSurface(w.geom))
"""  # noqa: S608
_OUTSIDE = f"""
    SELECT t.reference FROM {{draft}} t
    WHERE {_DRAFT} AND NOT EXISTS (
        SELECT FROM {{feature}} b WHERE {_BOUNDARY} AND ST_Intersects(b.geom, ST_PointOnSurface(t.geom))
    )
    ORDER BY 1
"""  # noqa: S608
_UNPLACED = f"SELECT t.reference FROM {{draft}} t WHERE {_DRAFT} AND t.{{column}} = '' ORDER BY 1"  # noqa: S608
_IN_ANOTHER_DISTRICT = f"""
    SELECT t.reference FROM {{draft}} t
    WHERE {_OF_DRAFT} AND t.district <> '' AND t.district <> %(area)s ORDER BY 1
"""  # noqa: S608
# A ward boundary is in its own ward, its reference being the ward's code.
_WARD_ITSELF = f"""
    UPDATE {{draft}} t SET ward = t.reference
    WHERE {_OF_DRAFT} AND t.ward = '' AND t.reference ~ %(pattern)s
"""  # noqa: S608
_UNPLACED_LISTED = (
    f"SELECT t.reference FROM {{draft}} t WHERE {_OF_DRAFT} AND t.district = '' ORDER BY 1"  # noqa: S608
)


def references_outside_area(*, version: DatasetVersion, area: str, table: str = "") -> list[str]:
    """The draft ``version``'s features placed in a district other than ``area`` (a council's
    own district), by reference: a council's part lying in a neighbour's district is as likely
    a file of the wrong council, or its coordinates shifted, as a site across the border.
    ``table``: where the draft's features are (``features_place``)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(_IN_ANOTHER_DISTRICT, draft=table),
            {"dataset": version.dataset_id, "version": version.number, "area": area},
        )
        return [reference for (reference,) in cursor.fetchall()]


def _sql(
    template: str, column: str = "district", of_district: bool = False, draft: str = ""
) -> str:
    """``template`` for ``column``; ``of_district``: only wards of the feature's district;
    ``draft``: the table of the draft's features, the feature table by default."""
    table = Feature._meta.db_table
    condition = _WARD_OF_DISTRICT.format(feature=table) if of_district else "true"
    return template.format(
        feature=table, draft=draft or table, column=column, of_district=condition
    )


def _boundary(slug: str) -> dict[str, int] | None:
    dataset = Dataset.objects.filter(slug=slug).first()
    current = dataset.current_version if dataset else None
    return {"boundary": dataset.pk, "current": current.number} if current else None


def features_place(
    *, version: DatasetVersion, districts: str, wards: str, district_field: str = "",
    district_codes: dict[str, str] | None = None, by_geometry: bool = True, table: str = "",
) -> dict[str, Any]:  # fmt: skip
    """Set the district and ward of the draft ``version``'s features; returns the counts and
    the references flagged, for the version's report: ``outside_districts`` (the point lies in
    no district, though its nearest ward may have placed it: ``district_by_nearest_ward``
    counts those), ``district_unplaced`` (no district at all) and ``ward_unplaced``.

    Run inside the publishing transaction, after the draft's features are added to ``table``:
    the feature table by default, or a dataset's own table not yet attached as its partition
    (a first load, ``partitions``). The ``wards`` dataset itself is placed in its own wards
    first (``ward_itself`` counts them). A boundary
    dataset that has no current version is listed under ``boundaries_missing``. A dataset
    without geometry, or one not placed ``by_geometry``, is placed by ``district_field`` alone
    (its report: the count placed and ``district_unplaced``).
    """
    draft = {"dataset": version.dataset_id, "version": version.number}
    report: dict[str, Any] = {"district_from_source": 0}
    missing = []
    with connection.cursor() as cursor:
        if version.dataset.slug == wards:
            # Not by the ward boundaries: while they load, they are this very draft, which is
            # not published yet (nothing on a first load, the version it replaces on a reload).
            cursor.execute(_sql(_WARD_ITSELF, draft=table), {**draft, "pattern": GSS_CODE})
            report["ward_itself"] = cursor.rowcount
        if district_field:
            cursor.execute(
                _sql(_FROM_SOURCE, draft=table),
                {
                    **draft, "field": district_field, "pattern": GSS_CODE,
                    "codes": json.dumps(district_codes or {}),
                },
            )  # fmt: skip
            report["district_from_source"] = cursor.rowcount
        if not by_geometry or version.dataset.geometry_type == GeometryType.NONE:
            cursor.execute(_sql(_UNPLACED_LISTED, draft=table), draft)
            report["district_unplaced"] = [reference for (reference,) in cursor.fetchall()]
            return report
        report["district_by_geometry"] = 0
        district_boundary = _boundary(districts)
        if district_boundary is None:
            missing.append(districts)
        else:
            cursor.execute(_sql(_CONTAINING, draft=table), {**draft, **district_boundary})
            report["district_by_geometry"] = cursor.rowcount
            cursor.execute(_sql(_OUTSIDE, draft=table), {**draft, **district_boundary})
            report["outside_districts"] = [reference for (reference,) in cursor.fetchall()]
        ward_boundary = _boundary(wards)
        if ward_boundary is None:
            missing.append(wards)
        else:
            of_district = district_boundary is not None
            parameters = {**draft, **ward_boundary, "metres": WARD_NEAREST_METRES}
            if of_district:
                parameters.update(
                    districts=district_boundary["boundary"],
                    districts_current=district_boundary["current"],
                )
            cursor.execute(_sql(_CONTAINING, "ward", of_district, draft=table), parameters)
            report["ward_by_containment"] = cursor.rowcount
            cursor.execute(_sql(_NEAREST, "ward", of_district, draft=table), parameters)
            report["ward_nearest"] = cursor.rowcount
            cursor.execute(_sql(_UNPLACED, "ward", draft=table), draft)
            report["ward_unplaced"] = [reference for (reference,) in cursor.fetchall()]
            if of_district:
                cursor.execute(_sql(_DISTRICT_OF_WARD, draft=table), parameters)
                report["district_by_nearest_ward"] = cursor.rowcount
        if district_boundary is not None:
            cursor.execute(_sql(_UNPLACED, draft=table), draft)
            report["district_unplaced"] = [reference for (reference,) in cursor.fetchall()]
    if missing:
        report["boundaries_missing"] = missing
    return report
