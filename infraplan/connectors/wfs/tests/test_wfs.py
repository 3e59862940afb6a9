"""The WFS connector against MapServer (Debian's ``mapserv``) serving a Shapefile over WFS 2.0,
run as a CGI program behind a small HTTP server on 127.0.0.1: GML paging, GeoJSON where it is
offered, latitude-first ``urn:ogc:def:crs:EPSG::4326``, exception reports, bad answers
half-way through paging, and a server sending fewer features a request than asked for (its
``wfs_maxfeatures``)."""

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from infraplan.catalogue.ingest import IngestMapping, IngestRejected, ingest_run
from infraplan.catalogue.store import current_features
from infraplan.connectors.base import ConnectorError, RowProblem
from infraplan.connectors.registry import connector_config, connector_for
from infraplan.connectors.tests.servers import (
    HTML,
    Replay,
    local_policy,
    replay_server,
    slow,
    source_context,
)
from infraplan.core.testing.data import dataset_make, version_publish_points

MAPSERV = shutil.which("mapserv") or "mapserv (install mapserver-bin: scripts/lib.sh does)"
SITES = [(f"W{n}", 615000 + n * 100, 157500) for n in range(1, 8)]
TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)
COUNT_DEFAULT = re.compile(rb'<ows:Constraint name="CountDefault">.*?</ows:Constraint>', re.DOTALL)

MAPFILE = """
MAP
  NAME "sites"
  EXTENT 600000 150000 630000 170000
  SHAPEPATH "{folder}"
  PROJECTION "EPSG:27700" END
  WEB
    METADATA
      "wfs_title" "Sites"
      "wfs_onlineresource" "{address}/wfs?"
      "wfs_srs" "EPSG:27700 EPSG:4326"
      "wfs_enable_request" "*"
      {limits}
      {formats}
    END
  END
  OUTPUTFORMAT
    NAME "geojson"
    DRIVER "OGR/GEOJSON"
    MIMETYPE "application/json; subtype=geojson"
    FORMATOPTION "STORAGE=stream"
    FORMATOPTION "FORM=SIMPLE"
  END
  LAYER
    NAME "sites"
    TYPE POINT
    STATUS ON
    DATA "sites"
    PROJECTION "EPSG:27700" END
    METADATA
      "wfs_title" "Sites"
      "gml_include_items" "all"
      "gml_types" "auto"
      "gml_featureid" "ref"
    END
  END
END
"""


def mapserv(folder: Path, query: dict[str, str]) -> tuple[int, str, bytes]:
    """Run MapServer as a CGI program for one request: the map named by ``map``."""
    query = dict(query)
    mapfile = folder / f"{query.pop('map', 'gml')}.map"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "REQUEST_METHOD": "GET",
        "QUERY_STRING": urlencode(query),
        "MS_MAPFILE": str(mapfile),
        "MAPSERVER_CONFIG_FILE": str(folder / "mapserver.conf"),
    }
    output = subprocess.run([MAPSERV], env=env, capture_output=True, check=True).stdout
    head, _, body = output.partition(b"\r\n\r\n")
    headers = dict(
        line.split(": ", 1) for line in head.decode("latin-1").splitlines() if ": " in line
    )
    return int(headers.get("Status", "200").split()[0]), headers["Content-Type"], body


@contextmanager
def mapserver(
    folder: Path, intercept=None, *, max_features: int | None = None, count_matched: bool = True,
    cap_advertised: bool = True,
) -> Iterator[Replay]:  # fmt: skip
    """MapServer behind an HTTP server; ``intercept(query)`` may answer a request instead.
    ``max_features``: the most features it sends a request, whatever COUNT asks (its
    ``wfs_maxfeatures``, which its capabilities advertise as ``CountDefault``);
    ``cap_advertised`` False: the capabilities say nothing of it, as GeoServer says nothing of
    a feature type's own maximum; ``count_matched`` False: it says numberMatched="unknown", as
    MapServer does by default."""
    folder.mkdir(parents=True, exist_ok=True)
    points = [shapely.Point(x, y) for _, x, y in SITES]
    pyogrio.raw.write(
        folder / "sites.shp", np.array(shapely.to_wkb(points), dtype=object),
        [np.array([ref for ref, _, _ in SITES], dtype=object),
         np.array([n * 10 for n in range(1, 8)], dtype=np.int32)],
        ["ref", "homes"], driver="ESRI Shapefile", geometry_type="Point", crs="EPSG:27700",
    )  # fmt: skip
    (folder / "mapserver.conf").write_text(
        f'CONFIG\n  ENV\n    MS_MAP_PATTERN "^{folder}/"\n  END\nEND\n'
    )

    def route(path: str, query: dict[str, str]):
        answer = intercept(query) if intercept else None
        if answer is None and query.get("REQUEST") == "GetCapabilities" and not cap_advertised:
            status, content_type, body = mapserv(folder, query)
            return status, content_type, COUNT_DEFAULT.sub(b"", body)
        return answer or mapserv(folder, query)

    limits = f'"wfs_compute_number_matched" "{str(count_matched).lower()}"'
    if max_features is not None:
        limits += f'\n      "wfs_maxfeatures" "{max_features}"'
    with replay_server(route) as replay:
        for name, formats in (("gml", ""), ("geojson", '"wfs_getfeature_formatlist" "geojson"')):
            (folder / f"{name}.map").write_text(
                MAPFILE.format(folder=folder, address=replay.url, formats=formats, limits=limits)
            )
        yield replay


def read(replay, tmp_path, seen=None, map_name="gml", context=None, **options):
    config = connector_config(
        "wfs", {"url": f"{replay.url}/wfs?map={map_name}", "type_names": "sites", **options}
    )
    context = context or source_context(tmp_path, seen)
    return list(connector_for("wfs").batches(config, context))


def get_features(replay):
    return [query for _, query in replay.requests if query.get("REQUEST") == "GetFeature"]


def test_configuration_is_checked_at_the_edge():
    with pytest.raises(ConnectorError, match="url: Value error, must be the service's address "
                       "without WFS request parameters"):  # fmt: skip
        connector_config(
            "wfs", {"url": "https://example.org/wfs?service=WFS&request=GetCapabilities",
                    "type_names": "sites"},
        )  # fmt: skip
    with pytest.raises(ConnectorError, match="type_names: String should match pattern"):
        connector_config("wfs", {"url": "https://example.org/wfs", "type_names": "a b"})


def test_gml_pages_by_start_index(tmp_path):
    seen = []
    with mapserver(tmp_path / "ms") as replay:
        batches = read(replay, tmp_path, seen, page_size=3)
    assert [(q["STARTINDEX"], q["COUNT"], q.get("OUTPUTFORMAT")) for q in get_features(replay)] == [
        ("0", "3", None), ("3", "3", None), ("6", "3", None),
    ]  # fmt: skip
    assert [(batch.first_row, len(batch)) for batch in batches] == [(1, 3), (4, 3), (7, 1)]
    assert [ref for batch in batches for ref in batch.fields["ref"]] == [s[0] for s in SITES]
    assert list(batches[0].fields["homes"]) == [10, 20, 30]
    assert "lowerCorner" not in batches[0].fields
    assert batches[0].crs == "EPSG:27700"
    assert shapely.from_wkb(batches[2].geometry[0]).coords[0] == (615700, 157500)
    assert seen == [(3, "fetching"), (6, "fetching"), (7, "fetching")]
    # The GML names its schema at this server: GDAL was never let to fetch it.
    assert not [q for _, q in replay.requests if q.get("REQUEST") == "DescribeFeatureType"]


def test_latitude_first_urn_4326_comes_out_longitude_first(tmp_path):
    urn = "urn:ogc:def:crs:EPSG::4326"
    with mapserver(tmp_path / "ms") as replay:
        batches = read(replay, tmp_path, srs_name=urn, bbox=[1.0, 51.0, 2.0, 52.0], page_size=5)
        # What MapServer wrote for the first site: latitude first.
        gml = mapserv(tmp_path / "ms", {**get_features(replay)[0], "map": "gml"})[2]
    first = gml[gml.index(b"<gml:pos>") + 9 : gml.index(b"</gml:pos>")].split()
    assert float(first[0]) == pytest.approx(51.276, abs=0.001)
    assert get_features(replay)[0]["BBOX"] == "51.0,1.0,52.0,2.0,urn:ogc:def:crs:EPSG::4326"
    assert [len(batch) for batch in batches] == [5, 2]
    assert batches[0].crs == "EPSG:4326"
    point = shapely.from_wkb(batches[0].geometry[0])
    assert (point.x, point.y) == pytest.approx(TO_WGS84.transform(615100, 157500), abs=1e-5)
    assert 0 < point.x < 2 and 50 < point.y < 52


def test_geojson_is_used_where_getfeature_offers_it(tmp_path):
    with mapserver(tmp_path / "ms") as replay:
        batches = read(replay, tmp_path, map_name="geojson", page_size=4)
    formats = {q.get("OUTPUTFORMAT") for q in get_features(replay)}
    assert formats == {"application/json; subtype=geojson"}
    assert [(batch.first_row, len(batch)) for batch in batches] == [(1, 4), (5, 3)]
    assert batches[0].crs == "EPSG:27700"  # from the collection's crs member
    assert shapely.from_wkb(batches[1].geometry[2]).coords[0] == (615700, 157500)


@pytest.mark.parametrize("map_name", ["gml", "geojson"])
def test_a_server_sending_fewer_than_asked_is_read_on_to_number_matched(tmp_path, map_name):
    """GeoServer and MapServer send at most their maximum features a request, whatever COUNT
    asks, and say how many match: where the capabilities do not say what that maximum is, each
    page is asked for from where the last one ended until that many have been read, and the
    load's notes say how it went."""
    context = source_context(tmp_path)
    with mapserver(tmp_path / "ms", max_features=3, cap_advertised=False) as replay:
        batches = read(replay, tmp_path, map_name=map_name, context=context, page_size=5)
    assert [(q["STARTINDEX"], q["COUNT"]) for q in get_features(replay)] == [
        ("0", "5"), ("3", "5"), ("6", "5"),
    ]  # fmt: skip
    assert [(batch.first_row, len(batch)) for batch in batches] == [(1, 3), (4, 3), (7, 1)]
    assert [ref for batch in batches for ref in batch.fields["ref"]] == [s[0] for s in SITES]
    assert context.notes == [
        "The service returned at most 3 features a request (asked for 5); read in 3 requests."
    ]


def test_a_server_that_counts_no_matches_is_read_on_while_it_links_a_next_page(tmp_path):
    """MapServer by default says numberMatched="unknown" but links the next page while its
    maximum cut a page short: a short page with that link is not the last."""
    context = source_context(tmp_path)
    capped = mapserver(tmp_path / "ms", max_features=3, count_matched=False, cap_advertised=False)
    with capped as replay:
        batches = read(replay, tmp_path, context=context, page_size=5)
    assert [q["STARTINDEX"] for q in get_features(replay)] == ["0", "3", "6"]
    assert [ref for batch in batches for ref in batch.fields["ref"]] == [s[0] for s in SITES]
    assert context.notes == [
        "The service returned at most 3 features a request (asked for 5); read in 3 requests."
    ]


def test_a_server_that_counts_no_matches_nor_links_a_next_page_is_asked_for_its_maximum(
    tmp_path,
):
    """MapServer's GeoJSON says neither how many match nor that a next page follows, so a page
    shorter than asked for ends the reading: asked for more than its maximum, it would have
    published its first page as the whole layer. Its capabilities advertise that maximum
    (``CountDefault``), and no more is asked for a request, so a short page is the last."""
    context = source_context(tmp_path)
    with mapserver(tmp_path / "ms", max_features=3, count_matched=False) as replay:
        batches = read(replay, tmp_path, map_name="geojson", context=context, page_size=5)
    assert [(q["STARTINDEX"], q["COUNT"]) for q in get_features(replay)] == [
        ("0", "3"), ("3", "3"), ("6", "3"),
    ]  # fmt: skip
    assert [(batch.first_row, len(batch)) for batch in batches] == [(1, 3), (4, 3), (7, 1)]
    assert [ref for batch in batches for ref in batch.fields["ref"]] == [s[0] for s in SITES]
    assert context.notes == [
        "The service answers at most 3 features a request (CountDefault): read 3 at a time."
    ]


NUMBER_MATCHED = re.compile(rb'"numberMatched": *\d+, *')


def test_a_short_page_from_a_server_that_says_nothing_more_is_checked_with_the_next(tmp_path):
    """A server whose own maximum its capabilities do not advertise, and that says neither how
    many match nor that a next page follows (GeoJSON without ``numberMatched``): a page shorter
    than asked for may be cut by that maximum, so the next page is asked for too, and only an
    empty one ends the reading. Before, the first page was published as the whole layer, and a
    refresh would have removed the rest."""
    folder = tmp_path / "ms"

    def without_number_matched(query):
        if query.get("REQUEST") != "GetFeature":
            return None
        status, content_type, body = mapserv(folder, query)
        return status, content_type, NUMBER_MATCHED.sub(b"", body)

    capped = mapserver(folder, without_number_matched, max_features=3, count_matched=False,
                       cap_advertised=False)  # fmt: skip
    context = source_context(tmp_path)
    with capped as replay:
        batches = read(replay, tmp_path, map_name="geojson", context=context, page_size=5)
    assert [q["STARTINDEX"] for q in get_features(replay)] == ["0", "3", "6", "7"]
    assert [ref for batch in batches for ref in batch.fields["ref"]] == [s[0] for s in SITES]
    assert context.notes == [
        "The service returned at most 3 features a request (asked for 5); read in 4 requests."
    ]


def test_a_server_that_ignores_start_index_is_read_once(tmp_path):
    """A server without paging answers every page with all it has: the check of its short page
    gets the same features again, which ends the reading (not the endless-paging refusal), and
    a layer that fits one page leaves no note."""
    folder = tmp_path / "ms"

    def without_paging(query):
        if query.get("REQUEST") != "GetFeature":
            return None
        status, content_type, body = mapserv(folder, {**query, "STARTINDEX": "0"})
        return status, content_type, NUMBER_MATCHED.sub(b"", body)

    context = source_context(tmp_path)
    with mapserver(folder, without_paging, count_matched=False) as replay:
        batches = read(replay, tmp_path, map_name="geojson", context=context, page_size=10)
    assert [q["STARTINDEX"] for q in get_features(replay)] == ["0", "7"]
    assert [ref for batch in batches for ref in batch.fields["ref"]] == [s[0] for s in SITES]
    assert context.notes == []


@pytest.mark.parametrize(
    ("constraint", "counts"),
    [
        # Where GeoServer writes it: in GetFeature's operation, not the service's metadata.
        ("in GetFeature", ["2", "2", "2", "2"]),
        ("0", ["5", "5", "5"]),  # none of these says a maximum: read on to numberMatched
        ("unlimited", ["5", "5", "5"]),
        ("-3", ["5", "5", "5"]),
    ],
)
def test_count_default_where_getfeature_says_it_and_one_that_is_no_number(
    tmp_path, constraint, counts
):
    folder = tmp_path / "ms"

    def intercept(query):
        if query.get("REQUEST") != "GetCapabilities":
            return None
        status, content_type, body = mapserv(folder, query)
        if constraint == "in GetFeature":
            found = COUNT_DEFAULT.search(body).group().replace(b">3<", b">2<")
            body = COUNT_DEFAULT.sub(b"", body).replace(
                b'<ows:Operation name="GetFeature">', b'<ows:Operation name="GetFeature">' + found
            )
        else:
            body = body.replace(
                b"<ows:DefaultValue>3<", f"<ows:DefaultValue>{constraint}<".encode()
            )
        return status, content_type, body

    with mapserver(folder, intercept, max_features=3) as replay:
        batches = read(replay, tmp_path, map_name="geojson", page_size=5)
    assert [q["COUNT"] for q in get_features(replay)] == counts
    assert [ref for batch in batches for ref in batch.fields["ref"]] == [s[0] for s in SITES]


@pytest.mark.parametrize("map_name", ["gml", "geojson"])
def test_a_page_without_features_before_number_matched_fails_the_load(tmp_path, map_name):
    folder = tmp_path / "ms"

    def intercept(query):
        if query.get("STARTINDEX") != "3":
            return None
        return mapserv(folder, {**query, "STARTINDEX": "100"})  # its answer past the end

    with (
        mapserver(folder, intercept, max_features=3) as replay,
        pytest.raises(ConnectorError) as raised,
    ):
        read(replay, tmp_path, map_name=map_name, page_size=5)
    assert str(raised.value) == (
        "The WFS says 7 features match but sent none from feature 4 on (page 2, from feature "
        "4): loading stopped rather than publish only 3 of them."
    )
    assert not raised.value.temporary


def test_an_unknown_feature_type_names_the_ones_there_are(tmp_path):
    with (
        mapserver(tmp_path / "ms") as replay,
        pytest.raises(
            ConnectorError, match="The WFS has no feature type 'roads'; it has: ms:sites"
        ),
    ):
        read(replay, tmp_path, type_names="roads")


def test_an_exception_report_is_a_connector_error(tmp_path):
    folder = tmp_path / "ms"

    # A coordinate system the platform knows but the service does not offer (its wfs_srs).
    def with_http_200(query):  # as GeoServer sends it; MapServer says HTTP 400
        if query.get("REQUEST") == "GetFeature":
            return 200, "text/xml", mapserv(folder, query)[2]
        return None

    with mapserver(folder) as replay, pytest.raises(ConnectorError) as refused:
        read(replay, tmp_path, srs_name="EPSG:2154")
    assert "answered HTTP 400" in str(refused.value)
    assert "Invalid GetFeature Request:Invalid SRS" in str(refused.value)  # the server's words
    with mapserver(folder, with_http_200) as replay, pytest.raises(ConnectorError) as reported:
        read(replay, tmp_path, srs_name="EPSG:2154")
    assert str(reported.value).startswith("The WFS reported an error (InvalidParameterValue): ")
    assert str(reported.value).endswith("(page 1, from feature 1).")


@pytest.mark.parametrize(
    ("answer", "message", "temporary"),
    [
        ((200, "text/html", HTML.encode()), "answered with a web page, not data", False),
        ((503, "text/xml", b"<busy/>"), "answered HTTP 503", True),
        ("cut", "The WFS answer is not valid XML", False),
        ("closed", "The WFS page was cut short: it announces 3 features but holds 1", False),
        ((200, "text/xml", b"<wfs:FeatureCollection numberMatched="), "not valid XML", False),
        ((200, "text/xml", b"<results><count>3</count></results>"), "not GML", False),
        ((200, "text/xml", b'<!DOCTYPE x [<!ENTITY a "aaaaaaaa">]><x>&a;&a;</x>'),
         "declares XML entities, which are refused", False),
    ],
)  # fmt: skip
def test_bad_answers_half_way_through_paging_name_the_page(tmp_path, answer, message, temporary):
    folder = tmp_path / "ms"

    def intercept(query):
        if query.get("STARTINDEX") != "3":
            return None
        if answer in ("cut", "closed"):  # the second page as MapServer wrote it, cut short
            status, content_type, body = mapserv(folder, query)
            body = body[: body.index(b"</wfs:member>") + 13]
            if answer == "closed":
                body += b"</wfs:FeatureCollection>"
            return status, content_type, body
        return answer

    with mapserver(folder, intercept) as replay, pytest.raises(ConnectorError) as raised:
        read(replay, tmp_path, page_size=3)
    assert message in str(raised.value) and "(page 2, from feature 4)" in str(raised.value)
    assert raised.value.temporary is temporary


def test_a_timeout_is_temporary_and_a_host_off_the_list_refused(tmp_path):
    with replay_server(lambda path, query: slow(2, (200, "text/xml", b"<x/>"))) as replay:
        config = connector_config("wfs", {"url": f"{replay.url}/wfs", "type_names": "sites"})
        context = source_context(tmp_path, policy=local_policy(read_timeout=0.3))
        with pytest.raises(ConnectorError, match="did not answer within the time") as raised:
            list(connector_for("wfs").batches(config, context))
    assert raised.value.temporary
    config = connector_config("wfs", {"url": "https://maps.example.org/wfs", "type_names": "a"})
    with pytest.raises(ConnectorError, match=r"maps\.example\.org is not on this platform's list"):
        list(connector_for("wfs").batches(config, source_context(tmp_path)))


@pytest.mark.django_db
def test_end_to_end_and_a_failure_half_way_publishes_nothing(personas, tmp_path):
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    before = version_publish_points(dataset=sites, points={"KEEP": (615000, 157500)})
    failing = {"on": True}

    def intercept(query):
        if failing["on"] and query.get("STARTINDEX") == "6":
            return 502, "text/plain", b"bad gateway"
        return None

    with mapserver(tmp_path / "ms", intercept) as replay:
        ingest = dict(
            actor=None, dataset=sites, connector_key="wfs",
            config={"url": f"{replay.url}/wfs?map=gml", "type_names": "sites", "page_size": 3},
            mapping=IngestMapping(reference="ref"), fetch_policy=local_policy(),
        )  # fmt: skip
        with pytest.raises(IngestRejected, match=r"HTTP 502.*\(page 3, from feature 7\)"):
            ingest_run(**ingest)
        before.refresh_from_db()
        assert before.is_current
        assert list(current_features(sites).values_list("reference", flat=True)) == ["KEEP"]
        failing["on"] = False
        version = ingest_run(**ingest)
    assert version.is_current and version.report["rows_read"] == 7
    features = {f.reference: f for f in current_features(sites)}
    assert sorted(features) == [s[0] for s in SITES]
    assert (features["W7"].geom.x, features["W7"].geom.y) == (615700, 157500)
    assert features["W7"].properties["homes"] == 70


@pytest.mark.django_db
def test_a_capped_server_replaces_the_whole_version_or_none_of_it(personas, tmp_path):
    """A server sending 3 features a request where 5 were asked: the load publishes all 7 (none
    "removed"), and one whose page goes empty before numberMatched publishes nothing."""
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    before = version_publish_points(dataset=sites, points={ref: (x, y) for ref, x, y in SITES})
    folder = tmp_path / "ms"
    empty = {"on": True}

    def intercept(query):
        if empty["on"] and query.get("STARTINDEX") == "3":
            return mapserv(folder, {**query, "STARTINDEX": "100"})
        return None

    with mapserver(folder, intercept, max_features=3, cap_advertised=False) as replay:
        ingest = dict(
            actor=None, dataset=sites, connector_key="wfs",
            config={"url": f"{replay.url}/wfs?map=gml", "type_names": "sites", "page_size": 5},
            mapping=IngestMapping(reference="ref"), fetch_policy=local_policy(),
        )  # fmt: skip
        with pytest.raises(IngestRejected, match=r"says 7 features match but sent none"):
            ingest_run(**ingest)
        before.refresh_from_db()
        assert before.is_current
        assert current_features(sites).count() == len(SITES)
        empty["on"] = False
        version = ingest_run(**ingest)
    assert version.is_current and version.report["rows_read"] == len(SITES)
    assert sorted(current_features(sites).values_list("reference", flat=True)) == [
        s[0] for s in SITES
    ]
    assert (
        "The service returned at most 3 features a request (asked for 5); read in 3 requests."
        in version.report["notes"]
    )


def test_a_coordinate_that_is_not_a_number_is_a_problem_of_its_row(tmp_path):
    """GDAL reads ``<gml:pos>abc 157500</gml:pos>`` as 0: the feature would sit at the grid's
    origin. The row is reported instead, and the other features are read as ever."""
    folder = tmp_path / "ms"

    def intercept(query):
        if query.get("REQUEST") != "GetFeature" or query.get("STARTINDEX") != "3":
            return None
        status, content_type, body = mapserv(folder, query)
        members = body.split(b"<wfs:member>")
        members[2] = re.sub(rb"<gml:pos>[^ <]+", b"<gml:pos>abc", members[2], count=1)
        return status, content_type, b"<wfs:member>".join(members)

    with mapserver(folder, intercept) as replay:
        batches = read(replay, tmp_path, page_size=3)
    assert [batch.problems for batch in batches] == [
        [],
        [RowProblem(5, "geometry", "abc", "the coordinate 'abc' is not a number")],
        [],
    ]
    assert shapely.from_wkb(batches[1].geometry[0]).coords[0] == (615400, 157500)


def test_an_answer_naming_files_for_gdal_to_open_reads_none_of_them(tmp_path):
    """A GDAL virtual layer (VRT) names files and addresses for GDAL to open, and GDAL would
    know one by its text even in a WFS answer read from memory. Its drivers are off, so a
    hostile or broken service cannot have the server read its own files as the data."""
    secret = tmp_path / "secret.csv"
    secret.write_text("ref,password\nW1,hunter2\n")
    virtual_layer = (
        f'<?xml version="1.0"?><OGRVRTDataSource><member/><OGRVRTLayer name="secret">'
        f"<SrcDataSource>{secret}</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>"
    ).encode()

    def intercept(query):
        return (200, "text/xml", virtual_layer) if query.get("REQUEST") == "GetFeature" else None

    with mapserver(tmp_path / "ms", intercept) as replay, pytest.raises(ConnectorError) as raised:
        read(replay, tmp_path)
    assert "The WFS answer is not GML the platform can read (page 1, from feature 1)" in str(
        raised.value
    )
    assert "hunter2" not in str(raised.value)
    assert not {"OGR_VRT", "VRT"} & set(pyogrio.list_drivers())
