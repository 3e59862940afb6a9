"""Recognising uploads: every format officers send, and every way a file can be wrong."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely

from infraplan.connectors.upload.files import (
    BNG,
    WGS84,
    UploadError,
    UploadLimits,
    crs_infer,
    upload_open,
)

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
    with pytest.raises(UploadError, match="cannot be read as GPKG: it may be truncated"):
        upload_open(truncated, workdir=workdir)
    broken_zip = tmp_path / "broken.zip"
    broken_zip.write_bytes(
        zipped(tmp_path / "ok.zip", shapefile_members(tmp_path)).read_bytes()[:200]
    )
    with pytest.raises(UploadError, match="zip file is damaged or incomplete"):
        upload_open(broken_zip, workdir=workdir)
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(UploadError, match="not a format the platform reads"):
        upload_open(binary, workdir=workdir)


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
