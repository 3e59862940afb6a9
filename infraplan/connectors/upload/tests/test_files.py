"""Recognising uploads: every format officers send, and every way a file can be wrong."""

import io
import json
import re
import sqlite3
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely

from infraplan.connectors.upload.files import upload_open
from infraplan.connectors.upload.opened import BNG, WGS84, UploadError, UploadLimits, gdal_reason
from infraplan.connectors.upload.tables import crs_infer, crs_of_most

from .workbooks import write_compound_file, write_workbook

CANTERBURY_BNG = (615000.0, 157500.0)
CANTERBURY_WGS84 = (1.0789, 51.2802)


def write_vector(path: Path, driver: str, crs: str | None = "EPSG:27700", layer: str = "sites",
                 point: tuple[float, float] = CANTERBURY_BNG, **options) -> Path:  # fmt: skip
    geometry = np.array([shapely.to_wkb(shapely.Point(*point))], dtype=object)
    pyogrio.raw.write(
        path, geometry, [np.array(["site-1"], dtype=object)], ["reference"],
        driver=driver, geometry_type="Point", crs=crs, layer=layer, **options,
    )  # fmt: skip
    return path


def zipped(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def shapefile_members(tmp_path: Path, crs: str | None = "EPSG:27700") -> dict[str, bytes]:
    folder = tmp_path / "shape"
    folder.mkdir()
    write_vector(folder / "sites.shp", "ESRI Shapefile", crs=crs)
    return {path.name: path.read_bytes() for path in folder.iterdir()}


@pytest.fixture
def workdir(tmp_path) -> Path:
    return tmp_path / "work"


def test_geojson(tmp_path, workdir):
    opened = upload_open(write_vector(tmp_path / "a.geojson", "GeoJSON", crs="EPSG:4326",
                                      point=CANTERBURY_WGS84), workdir=workdir)  # fmt: skip
    assert (opened.format, opened.crs, opened.crs_inferred) == ("GeoJSON", WGS84, False)


@pytest.mark.parametrize("separator", [b"", b"\x1e"], ids=["lines", "record separators"])
def test_a_sequence_of_geojson_features_is_read_as_geojson(tmp_path, workdir, separator):
    """GeoJSON text sequences, one feature per line (RFC 8142 starts each with the record
    separator; newline-delimited GeoJSON does not), as command-line tools and APIs write them."""
    feature = (
        b'{"type": "Feature", "properties": {"reference": "site-%d"}, '
        b'"geometry": {"type": "Point", "coordinates": [1.0789, 51.2802]}}\n'
    )
    path = tmp_path / "sites.txt"
    path.write_bytes(b"".join(separator + feature % number for number in (1, 2)))
    opened = upload_open(path, workdir=workdir)
    assert (opened.format, opened.crs) == ("GeoJSON", WGS84)
    assert pyogrio.read_info(opened.path, layer=opened.layer)["features"] == 2


def test_format_comes_from_the_bytes_not_the_name(tmp_path, workdir):
    path = write_vector(tmp_path / "a.gpkg", "GPKG")
    renamed = path.rename(tmp_path / "sites.dat")
    assert upload_open(renamed, workdir=workdir).format == "GPKG"


def test_geopackage_layers_must_be_chosen(tmp_path, workdir):
    path = write_vector(tmp_path / "two.gpkg", "GPKG", layer="allocations")
    write_vector(path, "GPKG", layer="brownfield", append=False)
    with pytest.raises(UploadError, match=r"several layers \(allocations, brownfield\): choose"):
        upload_open(path, workdir=workdir)
    opened = upload_open(path, workdir=workdir, layer="brownfield")
    assert (opened.layer, opened.crs) == ("brownfield", BNG)
    with pytest.raises(UploadError, match="no layer 'housing'; its layers are: allocations"):
        upload_open(path, workdir=workdir, layer="housing")


def test_flatgeobuf(tmp_path, workdir):
    opened = upload_open(write_vector(tmp_path / "a.fgb", "FlatGeobuf"), workdir=workdir)
    assert (opened.format, opened.crs) == ("FlatGeobuf", BNG)


def test_zipped_shapefile(tmp_path, workdir):
    archive = zipped(tmp_path / "sites.zip", shapefile_members(tmp_path))
    opened = upload_open(archive, workdir=workdir)
    assert (opened.format, opened.path.name, opened.crs) == ("ESRI Shapefile", "sites.shp", BNG)
    assert opened.path.is_relative_to(workdir)


def test_shapefile_without_prj_is_refused(tmp_path, workdir):
    members = shapefile_members(tmp_path)
    del members["sites.prj"]
    with pytest.raises(UploadError, match=r"sites has no \.prj file, so its coordinate system"):
        upload_open(zipped(tmp_path / "sites.zip", members), workdir=workdir)


def test_incomplete_shapefile_is_refused(tmp_path, workdir):
    members = shapefile_members(tmp_path)
    del members["sites.dbf"]
    with pytest.raises(UploadError, match=r"sites is incomplete: \.dbf missing"):
        upload_open(zipped(tmp_path / "sites.zip", members), workdir=workdir)


@pytest.mark.parametrize("name", ["../escape.geojson", "/etc/escape.geojson", "a/../../x.csv"])
def test_path_traversal_in_archives_is_refused(tmp_path, workdir, name):
    archive = zipped(tmp_path / "bad.zip", {name: b"{}"})
    with pytest.raises(UploadError, match="names a path outside itself"):
        upload_open(archive, workdir=workdir)
    assert not (tmp_path / "escape.geojson").exists()


def test_zip_bombs_are_refused(tmp_path, workdir):
    archive = zipped(tmp_path / "bomb.zip", {"big.csv": b"0" * 5_000_000})
    with pytest.raises(UploadError, match="possible zip bomb"):
        upload_open(archive, workdir=workdir)
    with pytest.raises(UploadError, match="unpacks to 5,000,000 bytes, more than the 1,000,000"):
        upload_open(archive, workdir=workdir, limits=UploadLimits(max_unpacked_bytes=1_000_000))


def test_too_many_members_are_refused(tmp_path, workdir):
    archive = zipped(tmp_path / "many.zip", {f"{n}.txt": b"x" for n in range(20)})
    with pytest.raises(UploadError, match="holds 20 files, more than the 10 allowed"):
        upload_open(archive, workdir=workdir, limits=UploadLimits(max_members=10))


def test_oversize_upload_is_refused(tmp_path, workdir):
    path = write_vector(tmp_path / "a.gpkg", "GPKG")
    with pytest.raises(UploadError, match="over the limit of 1,000"):
        upload_open(path, workdir=workdir, limits=UploadLimits(max_bytes=1_000))


def test_empty_truncated_and_damaged_files(tmp_path, workdir):
    empty = tmp_path / "empty.geojson"
    empty.write_bytes(b"")
    with pytest.raises(UploadError, match="The file is empty"):
        upload_open(empty, workdir=workdir)
    whole = write_vector(tmp_path / "a.gpkg", "GPKG").read_bytes()
    truncated = tmp_path / "truncated.gpkg"
    truncated.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(UploadError, match="cannot be read as a GeoPackage: it may be truncated"):
        upload_open(truncated, workdir=workdir)
    broken_zip = tmp_path / "broken.zip"
    broken_zip.write_bytes(
        zipped(tmp_path / "ok.zip", shapefile_members(tmp_path)).read_bytes()[:200]
    )
    with pytest.raises(UploadError, match="zip file is damaged or incomplete"):
        upload_open(broken_zip, workdir=workdir)
    # A workbook is a zip file inside, which its user need not know.
    broken_workbook = tmp_path / "sites.xlsx"
    broken_workbook.write_bytes(broken_zip.read_bytes())
    with pytest.raises(UploadError, match=r"^The workbook is damaged or incomplete: save it again"):
        upload_open(broken_workbook, workdir=workdir)
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(UploadError, match="not a format the platform reads"):
        upload_open(binary, workdir=workdir)


@pytest.mark.parametrize(
    ("name", "what"),
    [("notreally.gpkg", "a GeoPackage"), ("sites.fgb", "FlatGeobuf"), ("sites.zip", "a zip file"),
     ("sites.XLSX", "an Excel workbook"), ("sites.geojson", "GeoJSON")],
)  # fmt: skip
def test_text_named_as_another_format_says_so_rather_than_read_as_a_table(
    tmp_path, workdir, name, what
):
    """A text file named .gpkg is no GeoPackage: read as a CSV, it was refused for having no
    coordinate columns, which says nothing of what is wrong."""
    path = tmp_path / name
    path.write_text("hello\n")
    with pytest.raises(UploadError) as refused:
        upload_open(path, workdir=workdir)
    assert str(refused.value).startswith(
        f"The file is named {path.suffix} but is not {what}: it holds plain text."
    )


@pytest.mark.parametrize(
    ("streams", "message"),
    [
        (
            ["Workbook", "SummaryInformation"],
            "an Excel 97-2003 workbook (.xls), which the platform",
        ),
        (["Book"], "an Excel 97-2003 workbook (.xls)"),
        (["EncryptionInfo", "EncryptedPackage"], "protected by a password, which the platform"),
        (["WordDocument"], "an older Microsoft Office document, not data"),
    ],
)
def test_office_compound_files_are_named_with_what_to_do(tmp_path, workdir, streams, message):
    path = write_compound_file(tmp_path / "sites.xls", streams)
    with pytest.raises(UploadError, match=re.escape(message)) as refused:
        upload_open(path, workdir=workdir)
    assert ".xlsx" in str(refused.value) or "CSV" in str(refused.value)


@pytest.mark.parametrize(
    ("header", "row", "crs", "inferred"),
    [
        ("Name,Easting,Northing", "Site,615000,157500", BNG, False),
        ("Name,GeoX,GeoY", "Site,615000,157500", BNG, True),
        ("Name,X,Y", "Site,615000,157500", BNG, True),
        ("Name,X,Y", "Site,1.0789,51.2802", WGS84, True),
        ("Name,latitude,longitude", "Site,51.2802,1.0789", WGS84, False),
        ("name,LAT,LON", "Site,51.2802,1.0789", WGS84, False),
    ],
)
def test_csv_point_columns_from_uk_publishers_headers(
    tmp_path, workdir, header, row, crs, inferred
):
    path = tmp_path / "sites.csv"
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    opened = upload_open(path, workdir=workdir)
    assert (opened.crs, opened.crs_inferred, opened.encoding) == (crs, inferred, "UTF-8")
    assert opened.x_column.lower() in {"easting", "geox", "x", "longitude", "lon"}


def test_windows_1252_csv_keeps_the_pound_sign(tmp_path, workdir):
    path = tmp_path / "costs.csv"
    path.write_bytes(
        "Scheme,Cost,Easting,Northing\nNew school,£4.5m,615000,157500\n".encode("cp1252")
    )
    opened = upload_open(path, workdir=workdir)
    assert opened.encoding == "CP1252"
    assert "Windows-1252" in " ".join(opened.notes)
    _, _, _, values = pyogrio.raw.read(opened.path, read_geometry=False, encoding=opened.encoding)
    assert values[1][0] == "£4.5m"


def test_csv_without_coordinates_names_its_columns(tmp_path, workdir):
    path = tmp_path / "list.csv"
    path.write_text("Name,Ward\nSite,Northgate\n", encoding="utf-8")
    with pytest.raises(UploadError, match=r"no coordinate columns: .* Its columns are: Name, Ward"):
        upload_open(path, workdir=workdir)


def test_csv_whose_columns_contradict_their_names(tmp_path, workdir):
    path = tmp_path / "swapped.csv"
    path.write_text("Name,Easting,Northing\nSite,1.0789,51.2802\n", encoding="utf-8")
    with pytest.raises(UploadError, match="named as grid coordinates but hold latitude/longitude"):
        upload_open(path, workdir=workdir)


def test_csv_with_values_that_are_no_coordinates(tmp_path, workdir):
    path = tmp_path / "odd.csv"
    path.write_text("Name,X,Y\nSite,-5000000,99999999\n", encoding="utf-8")
    with pytest.raises(UploadError, match="neither British National Grid eastings"):
        upload_open(path, workdir=workdir)


def test_xlsx_table(tmp_path, workdir):
    path = tmp_path / "sites.xlsx"
    pyogrio.raw.write(
        path, None, [np.array(["Site"], dtype=object), np.array([615000.0]), np.array([157500.0])],
        ["Name", "Easting", "Northing"], driver="XLSX", geometry_type=None,
    )  # fmt: skip
    opened = upload_open(path, workdir=workdir)
    assert (opened.format, opened.x_column, opened.crs) == ("XLSX", "Easting", BNG)


def test_geometry_without_declared_crs_is_inferred(tmp_path, workdir):
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        path = write_vector(tmp_path / "nocrs.gpkg", "GPKG", crs=None)
    opened = upload_open(path, workdir=workdir)
    assert (opened.crs, opened.crs_inferred) == (BNG, True)


def test_a_tables_coordinate_system_is_what_most_of_its_points_show():
    grid = np.array([615000.0] * 49 + [6150000.0]), np.array([157500.0] * 50)  # one typo
    assert crs_of_most(*grid) == BNG
    degrees = np.array([1.08] * 9 + [200.0]), np.array([51.28] * 9 + [100.0])
    assert crs_of_most(*degrees) == WGS84
    # Half and half: degrees fit the grid's range too (the pipeline then finds them in the sea).
    assert crs_of_most(np.array([615000.0, 1.08]), np.array([157500.0, 51.28])) == BNG
    assert crs_of_most(np.array([800000.0, 615000.0]), np.array([2e6, 157500.0])) is None
    assert crs_of_most(np.array([np.nan]), np.array([np.nan])) is None


def test_crs_inference():
    assert crs_infer(np.array([615000.0]), np.array([157500.0])) == BNG
    assert crs_infer(np.array([1.08]), np.array([51.28])) == WGS84
    assert crs_infer(np.array([np.nan]), np.array([np.nan])) is None
    assert crs_infer(np.array([800000.0]), np.array([157500.0])) is None


def test_upload_of_a_zip_holding_one_csv(tmp_path, workdir):
    archive = zipped(
        tmp_path / "csv.zip", {"data/sites.csv": b"Name,Easting,Northing\nA,615000,157500\n"}
    )
    opened = upload_open(archive, workdir=workdir)
    assert (opened.format, opened.crs) == ("CSV", BNG)
    assert io.BytesIO(opened.path.read_bytes()).read().startswith(b"Name")


def test_csv_with_a_wkt_column(tmp_path, workdir):
    path = tmp_path / "lines.csv"
    path.write_text(
        'Name,WKT\nRoute,"LINESTRING (615000 157500, 616000 158000)"\n', encoding="utf-8"
    )
    opened = upload_open(path, workdir=workdir)
    assert (opened.wkt_column, opened.crs) == ("WKT", BNG)
    path.write_text('Name,WKT\nRoute,"POINT (1.0789 51.2802)"\nBad,"not wkt"\n', encoding="utf-8")
    assert upload_open(path, workdir=tmp_path / "second").crs == WGS84


def test_geojson_holding_grid_coordinates_is_read_as_grid(tmp_path, workdir):
    path = tmp_path / "grid.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
        ' "geometry": {"type": "Point", "coordinates": [615000, 157500]}}]}'
    )
    opened = upload_open(path, workdir=workdir)
    assert (opened.crs, opened.crs_inferred) == (BNG, True)
    assert "holds British National Grid coordinates" in opened.notes[0]


def geojson_points(path: Path, points: list[list[float]], crs: str | None = None) -> Path:
    member = f'"crs": {{"type": "name", "properties": {{"name": "{crs}"}}}}, ' if crs else ""
    features = ", ".join(
        f'{{"type": "Feature", "properties": {{}}, "geometry": {{"type": "Point", '
        f'"coordinates": [{x}, {y}]}}}}'
        for x, y in points
    )
    path.write_text(f'{{"type": "FeatureCollection", {member}"features": [{features}]}}')
    return path


def test_geojson_declaring_longitude_latitude_keeps_it_whatever_its_values(tmp_path, workdir):
    for crs in ("urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:EPSG::4326"):
        path = geojson_points(tmp_path / "declared.geojson", [list(CANTERBURY_BNG)], crs=crs)
        opened = upload_open(path, workdir=workdir)
        assert (opened.crs, opened.crs_inferred, opened.notes) == (WGS84, False, [])


def test_undeclared_geojson_with_some_longitude_latitude_stays_longitude_latitude(
    tmp_path, workdir
):
    path = geojson_points(tmp_path / "mixed.geojson", [list(CANTERBURY_WGS84), [200, 100]])
    opened = upload_open(path, workdir=workdir)
    assert (opened.crs, opened.crs_inferred) == (WGS84, False)
    assert opened.notes == [
        "The GeoJSON declares no coordinate system, so it is read as longitude/latitude (as "
        "GeoJSON is by definition), but some of its coordinates are beyond their ranges. If it "
        "holds British National Grid coordinates, export it with its coordinate system "
        "(EPSG:27700)."
    ]


def test_nul_bytes_in_a_csv_are_removed_and_noted(tmp_path, workdir):
    path = tmp_path / "sites.csv"
    path.write_bytes(b"Name,Easting,Northing\nA\x00\x00,615000,157500\nB,615100,157600\x00\n")
    opened = upload_open(path, workdir=workdir)
    assert opened.path.read_bytes() == (
        b"Name,Easting,Northing\nA,615000,157500\nB,615100,157600\n"
    )
    assert path.read_bytes().count(b"\x00") == 3  # the upload itself is kept as it came
    assert opened.notes[0] == (
        "The file held NUL characters on lines 2 and 3 (the header is line 1), which text "
        "cannot carry; they were removed."
    )


def test_utf16_text_is_named_as_such(tmp_path, workdir):
    path = tmp_path / "sites.csv"
    path.write_bytes("Name\tEasting\tNorthing\nA\t615000\t157500\n".encode("utf-16"))
    with pytest.raises(
        UploadError, match=r"UTF-16 text .* save it as UTF-8 \(from a spreadsheet, as CSV UTF-8\)"
    ):
        upload_open(path, workdir=workdir)


def shapefile_text_members(tmp_path: Path, name: str, encoding: str) -> dict[str, bytes]:
    """A zipped Shapefile's files, its one feature named ``name`` in ``encoding``."""
    folder = tmp_path / "text"
    folder.mkdir()
    pyogrio.raw.write(
        folder / "sites.shp", np.array([shapely.to_wkb(shapely.Point(*CANTERBURY_BNG))]),
        [np.array(["S1"], dtype=object), np.array([name], dtype=object)], ["ref", "name"],
        driver="ESRI Shapefile", geometry_type="Point", crs="EPSG:27700", encoding=encoding,
    )  # fmt: skip
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def test_shapefile_text_that_is_neither_utf8_nor_windows_1252_is_refused(tmp_path, workdir):
    # Byte 0x81 is no Windows-1252 character; ISO-8859-1 calls it a control character.
    members = shapefile_text_members(tmp_path, "Caf\u00e9 \x81", "ISO-8859-1")
    del members["sites.cpg"]
    with pytest.raises(
        UploadError,
        match=r"The text in the Shapefile sites is neither UTF-8 nor Windows-1252: add a \.cpg "
        r"file naming its encoding",
    ):
        upload_open(zipped(tmp_path / "sites.zip", members), workdir=workdir)


def test_what_a_mac_adds_to_a_zip_file_is_left_out(tmp_path, workdir):
    members = shapefile_members(tmp_path)
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X"
    for name in list(members):
        members[f"__MACOSX/._{name}"] = apple_double
    members["._sites.shp"] = apple_double  # as some zip tools keep them beside the files
    opened = upload_open(zipped(tmp_path / "sites.zip", members), workdir=workdir)
    assert (opened.path.name, opened.crs) == ("sites.shp", BNG)
    assert not (workdir / "unpacked" / "__MACOSX").exists()


def test_a_shapefile_the_layer_does_not_name_is_refused(tmp_path, workdir):
    members = shapefile_members(tmp_path)
    with pytest.raises(
        UploadError,
        match=r"no Shapefile 'housing'; its Shapefiles are: sites\. Give the name of one \(without "
        r"\.shp\) as the layer name",
    ):
        upload_open(zipped(tmp_path / "sites.zip", members), workdir=workdir, layer="housing")


def test_geojson_in_windows_1252_is_read_so_and_said(tmp_path, workdir):
    path = geojson_points(tmp_path / "sites.geojson", [list(CANTERBURY_WGS84)])
    path.write_bytes(
        path.read_bytes().replace(
            b'"properties": {}', '"properties": {"name": "Caf\u00e9 \u00a3"}'.encode("cp1252")
        )
    )
    opened = upload_open(path, workdir=workdir)
    assert opened.encoding == "CP1252"
    assert opened.notes == ["Read as Windows-1252 text (not UTF-8, as GeoJSON must be)."]


def test_geojson_neither_utf8_nor_windows_1252_is_refused(tmp_path, workdir):
    path = geojson_points(tmp_path / "sites.geojson", [list(CANTERBURY_WGS84)])
    path.write_bytes(
        path.read_bytes().replace(b'"properties": {}', b'"properties": {"name": "\xe9\x81"}')
    )
    with pytest.raises(
        UploadError,
        match=r"The GeoJSON file is neither UTF-8 nor Windows-1252 text \(byte \d+\); export it "
        r"again as UTF-8, as GeoJSON must be",
    ):
        upload_open(path, workdir=workdir)


SITES = [["Reference", "Easting", "Northing"], ["S1", 615000, 157500]]


def test_workbook_sheet_named_as_the_layer_is_read(tmp_path, workdir):
    later = [SITES[0], ["S2", 616000, 158000]]
    path = write_workbook(tmp_path / "sites.xlsx", {"Sites2023": SITES, "Sites2024": later})
    opened = upload_open(path, workdir=workdir, layer="Sites2024")
    assert (opened.layer, opened.layers) == ("Sites2024", ["Sites2023", "Sites2024"])
    with pytest.raises(
        UploadError,
        match=r"The workbook has no sheet 'Sites2025'; its sheets are: Sites2023, Sites2024\. "
        r"Give the name of one, as its tab shows it, as the layer name\.",
    ):
        upload_open(path, workdir=tmp_path / "again", layer="Sites2025")


def test_workbook_with_several_sheets_of_data_is_refused_without_a_layer(tmp_path, workdir):
    path = write_workbook(tmp_path / "sites.xlsx", {"Sites2023": SITES, "Sites2024": SITES})
    with pytest.raises(
        UploadError,
        match=r"several sheets with data \(Sites2023, Sites2024\): choose one by giving its name "
        r"as the layer name\.",
    ):
        upload_open(path, workdir=workdir)


TEXT_SITES = [["Reference", "Easting", "Northing"], ["S1", "615000", "157500"]]


def test_workbook_sheets_of_text_are_each_read_with_their_header(tmp_path, workdir):
    """GDAL finds the header row of a workbook's first sheet only: a later sheet whose cells are
    all text (numbers stored as text) seemed to have no header, so a workbook of one sheet per
    year was read from its first sheet without a word, and the later sheet named as the layer
    was refused for a header it has."""
    later = [TEXT_SITES[0], ["S2", "616000", "158000"], ["S3", "616100", "158100"]]
    path = write_workbook(tmp_path / "years.xlsx", {"Y2023": TEXT_SITES, "Y2024": later})

    with pytest.raises(UploadError, match=r"several sheets with data \(Y2023, Y2024\)"):
        upload_open(path, workdir=workdir)
    opened = upload_open(path, workdir=tmp_path / "later", layer="Y2024")

    assert (opened.layer, opened.x_column, opened.y_column) == ("Y2024", "Easting", "Northing")
    _, _, _, values = pyogrio.raw.read(
        opened.gdal_path, layer=opened.layer, read_geometry=False, **opened.open_options
    )
    assert list(values[0]) == ["S2", "S3"]  # the header is not read as a row


@pytest.mark.parametrize(
    ("first_sheet", "why"),
    [([], "with data"), ([["This workbook lists the sites."]], "with coordinate columns")],
    ids=["empty", "read-me"],
)
def test_workbook_with_one_sheet_of_data_reads_it_and_says_so(tmp_path, workdir, first_sheet, why):
    path = write_workbook(tmp_path / "sites.xlsx", {"Notes": first_sheet, "Data": SITES})
    opened = upload_open(path, workdir=workdir)
    assert (opened.layer, opened.x_column, opened.crs) == ("Data", "Easting", BNG)
    assert opened.notes[0] == (
        f"Read the sheet Data, the workbook's only sheet {why} (its other sheets: Notes)."
    )


@pytest.mark.parametrize(
    "rows",
    [
        [SITES[0], ["S1", "615000", "157500"]],
        [[*SITES[0], None, None], [*SITES[1], None, None]],
        [[None, *SITES[0]], [None, *SITES[1]]],
    ],
    ids=["every-cell-text", "empty-cells-beside-the-header", "column-a-empty"],
)
def test_workbook_first_row_is_its_header(tmp_path, workdir, rows):
    opened = upload_open(write_workbook(tmp_path / "sites.xlsx", {"Sites": rows}), workdir=workdir)
    assert (opened.x_column, opened.y_column, opened.crs) == ("Easting", "Northing", BNG)


def test_workbook_with_a_title_above_its_header_says_row_1_is_not_the_header(tmp_path, workdir):
    path = write_workbook(tmp_path / "sites.xlsx", {"Sites": [["Sites in 2024"], *SITES]})
    with pytest.raises(UploadError) as refused:
        upload_open(path, workdir=workdir)
    assert str(refused.value) == (
        "The table has no coordinate columns, and its header row was not found in row 1: 2 of "
        "its 3 columns have no name there, and row 1 holds only 'Sites in 2024'. Put the column "
        "names in row 1, deleting any title or empty rows above them, and name the coordinate "
        "columns Easting and Northing (British National Grid), Latitude and Longitude, GeoX and "
        "GeoY, or X and Y, or give a WKT column."
    )


def test_csv_with_a_title_above_its_header_says_row_1_is_not_the_header(tmp_path, workdir):
    path = tmp_path / "sites.csv"
    path.write_text("Sites in 2024,,\nReference,Easting,Northing\nS1,615000,157500\n")
    with pytest.raises(UploadError, match=r"header row was not found in row 1: 2 of its 3"):
        upload_open(path, workdir=workdir)


def test_geopackage_layer_without_geometry_says_so(tmp_path, workdir):
    path = tmp_path / "sites.gpkg"
    pyogrio.raw.write(
        path, None, [np.array(["L1"], dtype=object)], ["reference"], driver="GPKG",
        geometry_type=None, layer="lookup",
    )  # fmt: skip
    with pytest.raises(
        UploadError,
        match=r"The layer 'lookup' has no geometry \(it is a table without a geometry column\), "
        r"so it cannot be loaded as features: export the data with its geometry\.",
    ):
        upload_open(path, workdir=workdir)
    write_vector(path, "GPKG", layer="sites", append=True)
    with pytest.raises(
        UploadError, match=r"give the name of a layer with geometry \(sites\) as the layer name"
    ):
        upload_open(path, workdir=tmp_path / "again", layer="lookup")


def test_truncated_flatgeobuf_may_be_truncated(tmp_path, workdir):
    whole = write_vector(tmp_path / "whole.fgb", "FlatGeobuf").read_bytes()
    truncated = tmp_path / "sites.fgb"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(
        UploadError,
        match="cannot be read as FlatGeobuf: it holds no layers, so it may be truncated, or not "
        "be FlatGeobuf at all",
    ):
        upload_open(truncated, workdir=workdir)


def test_messages_name_the_file_never_its_path_on_the_server(tmp_path, workdir):
    whole = write_vector(tmp_path / "whole.gpkg", "GPKG").read_bytes()
    stored = tmp_path / "uploads" / "web" / "sites-dataset"
    stored.mkdir(parents=True)
    truncated = stored / "sites.gpkg"
    truncated.write_bytes(whole[:60])  # too short for GDAL to recognise as any format
    with pytest.raises(UploadError) as refused:
        upload_open(truncated, workdir=workdir)
    assert str(refused.value) == (
        "The file cannot be read as a GeoPackage: it may be truncated or damaged ('sites.gpkg' "
        "not recognized as being in a supported file format)."
    )


def test_csv_rows_with_more_values_than_the_header_are_noted_by_line(tmp_path, workdir):
    path = tmp_path / "sites.csv"
    path.write_text(
        "reference,Easting,Northing,name\n"
        "S1,615000,157500,Smith and Partners\n"
        "S2,615100,157600,Smith, Jones and Partners\n"
        '"S3",615200,157700,"Brown, Green and Co"\n'
        "S4,615300,157800,Kent,\n"
    )
    opened = upload_open(path, workdir=workdir)
    assert (
        "1 row of the file (line 3) holds more values than the header has columns; the extra "
        "values were left out. A value holding a comma needs double quotes around it, or the "
        "values after it move along by one column."
    ) in opened.notes


@pytest.mark.parametrize(
    ("start", "kind"),
    [
        (b'<?xml version="1.0"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>',
         "KML (as Google Earth saves)"),
        (b'<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="Garmin">',
         "GPX (as GPS devices and route planners save)"),
        (b"<!DOCTYPE html><html><head><title>Sign in</title>", "a web page (HTML), not data"),
        (b'\xef\xbb\xbf <wfs:FeatureCollection xmlns:gml="http://www.opengis.net/gml/3.2">',
         "GML"),
        (b"<sites><site>A</site></sites>", "XML"),
    ],
)  # fmt: skip
def test_markup_is_named_for_what_it_is_not_read_as_a_table(tmp_path, workdir, start, kind):
    path = tmp_path / "sites.csv"
    path.write_bytes(start + b"\n</x>\n")
    with pytest.raises(UploadError) as refused:
        upload_open(path, workdir=workdir)
    assert str(refused.value) == (
        f"The file is {kind}, which the platform does not read as an upload: export the data "
        "from your GIS as GeoJSON, a GeoPackage, a zipped Shapefile or FlatGeobuf, or as a CSV "
        "or XLSX table with coordinate columns."
    )


def _with_method(archive: Path, method: int) -> Path:
    """``archive`` with its (one) member's compression method set to ``method`` in both of the
    headers that name it, as another archiver would write it."""
    data = bytearray(archive.read_bytes())
    data[8:10] = method.to_bytes(2, "little")  # the local file header
    central = data.find(b"PK\x01\x02")
    data[central + 10 : central + 12] = method.to_bytes(2, "little")
    archive.write_bytes(bytes(data))
    return archive


def _encrypted(archive: Path) -> Path:
    """``archive`` with its (one) member marked as encrypted, as ``zip -P`` writes it."""
    data = bytearray(archive.read_bytes())
    data[6] |= 1
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 1
    archive.write_bytes(bytes(data))
    return archive


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ({"sites": b"x", "sites/sites.geojson": b"{}"}, "both a file and a folder named 'sites'"),
        (
            {"s.geojson/a.txt": b"x", "s.geojson": b"{}"},
            "both a file and a folder named 's.geojson'",
        ),
        ({"a" * 300 + ".geojson": b"{}"}, "whose name is too long to unpack"),
        ({"/".join(["folder"] * 200) + "/s.geojson": b"{}"}, "whose name is too long to unpack"),
    ],
)
def test_zip_files_no_folder_can_hold_are_refused(tmp_path, workdir, members, reason):
    with pytest.raises(UploadError, match=reason):
        upload_open(zipped(tmp_path / "odd.zip", members), workdir=workdir)


def test_a_zip_file_with_a_password_is_refused_saying_so(tmp_path, workdir):
    archive = _encrypted(zipped(tmp_path / "locked.zip", {"sites.geojson": b"{}"}))
    with pytest.raises(
        UploadError, match=r"^'sites\.geojson' in the zip file is protected by a password"
    ):
        upload_open(archive, workdir=workdir)


def test_a_zip_file_compressed_with_deflate64_is_refused_saying_so(tmp_path, workdir):
    archive = _with_method(zipped(tmp_path / "large.zip", {"sites.geojson": b"{}"}), 9)
    with pytest.raises(UploadError, match="compressed with Deflate64, which the platform cannot"):
        upload_open(archive, workdir=workdir)


def test_a_workbook_is_checked_as_a_zip_file_before_gdal_unpacks_it(tmp_path, workdir):
    # An XLSX file is a zip file: a shared string of many megabytes packs into a few kilobytes,
    # and GDAL would hold it (several times over) in memory.
    path = write_workbook(tmp_path / "sites.xlsx", {"Sites": SITES})
    with zipfile.ZipFile(path) as workbook:
        members = {info.filename: workbook.read(info) for info in workbook.infolist()}
    members["xl/sharedStrings.xml"] = b"<sst><si><t>" + b"S" * 5_000_000 + b"</t></si></sst>"
    bomb = zipped(tmp_path / "bomb.xlsx", members)
    with pytest.raises(UploadError, match=r"^'xl/sharedStrings\.xml' in the workbook expands"):
        upload_open(bomb, workdir=workdir)
    with pytest.raises(
        UploadError, match=r"^The workbook unpacks to [\d,]+ bytes, more than the 1,000,000"
    ):
        upload_open(
            bomb,
            workdir=workdir,
            limits=UploadLimits(max_unpacked_bytes=1_000_000, max_ratio=10**6),
        )


def test_a_geopackage_layer_gdal_would_fetch_or_open_elsewhere_is_refused(tmp_path, workdir):
    # A virtual table of GDAL's VirtualOGR module would read whatever its argument names (a
    # file on the server, an address through /vsicurl/); GDAL does not offer the module to a
    # GeoPackage, and the layer is refused with the reason rather than failing the load.
    path = write_vector(tmp_path / "sites.gpkg", "GPKG")
    with sqlite3.connect(path) as database:
        database.execute("PRAGMA writable_schema = ON")
        database.execute(
            "INSERT INTO sqlite_master VALUES ('table', 'remote', 'remote', 0, "
            "'CREATE VIRTUAL TABLE remote USING VirtualOGR(''/vsicurl/http://127.0.0.1:9/x'')')"
        )
        database.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier) "
            "VALUES ('remote', 'attributes', 'remote')"
        )
    database.close()
    with pytest.raises(UploadError, match=r"^The layer 'remote' cannot be read \(no such module"):
        upload_open(path, workdir=workdir, layer="remote", geometry=False)


SERVER_ROWS = b"Reference,Easting,Northing\nfrom-the-server,615000,157500\n"


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 standing for one inside the council's network: it records every
    request and answers each with a table."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_HEAD(self) -> None:
            requests.append(f"{self.command} {self.path}")
            self.send_response(200)
            self.send_header("Content-Length", str(len(SERVER_ROWS)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(SERVER_ROWS)

        do_GET = do_HEAD

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", ["csv", "geojson"])
@pytest.mark.parametrize("target", ["file", "address"])
def test_text_naming_a_gdal_virtual_layer_is_read_as_itself(
    tmp_path, workdir, listener, kind, target
):
    """GDAL takes text holding <OGRVRTDataSource> for a virtual layer over the file or address
    it names: the upload must be read as the CSV or GeoJSON it is, never as that."""
    url, requests = listener
    server_file = tmp_path / "server.csv"
    server_file.write_bytes(SERVER_ROWS)
    source, layer = (
        (str(server_file), "server") if target == "file" else (f"/vsicurl/{url}/x.csv", "x")
    )
    virtual = (
        f"<OGRVRTDataSource><OGRVRTLayer name='sites'><SrcDataSource>{source}</SrcDataSource>"
        f"<SrcLayer>{layer}</SrcLayer></OGRVRTLayer></OGRVRTDataSource>"
    )
    path = tmp_path / f"upload.{kind}"
    if kind == "csv":
        path.write_text(f"Reference {virtual},Easting,Northing\nmine,615000,157500\n")
    else:
        point = {"type": "Point", "coordinates": [1.0789, 51.2802]}
        feature = {"type": "Feature", "properties": {"Reference": "mine"}, "geometry": point}
        path.write_text(
            json.dumps({"type": "FeatureCollection", "name": virtual, "features": [feature]})
        )
    opened = upload_open(path, workdir=workdir)
    _, _, _, values = pyogrio.raw.read(opened.gdal_path, layer=opened.layer)
    assert list(values[0]) == ["mine"]
    assert requests == []


def test_a_path_given_to_gdal_with_its_driver_is_not_shown():
    error = RuntimeError("CSV:/srv/uploads/web/sites/0a1b/upload.csv: No such file or directory")
    # As without the prefix: the whole path, up to the space, becomes the file's name.
    assert gdal_reason(error, "sites.csv") == "sites.csv No such file or directory"


@pytest.mark.parametrize("text", ['{"status": "ok"}', '{"collections": [{"id": "sites"}]}'])
def test_json_that_is_not_geojson_is_said_to_be_so(tmp_path, workdir, text):
    """An API's answer saved as a file (or fetched from an address): not an internal error."""
    path = tmp_path / "sites.json"
    path.write_text(text)
    with pytest.raises(UploadError) as refused:
        upload_open(path, workdir=workdir)
    assert str(refused.value) == (
        "The file is JSON but not GeoJSON: it holds no FeatureCollection or Feature (GeoJSON's "
        '"type" member). Export the data as GeoJSON, or give the address of the service\'s '
        "GeoJSON output."
    )
