"""``infraplan export``: the same downloads from the command line, as the platform."""

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from infraplan.audit.models import AuditEntry
from infraplan.core.testing.data import (
    dataset_make,
    days_ago,
    published_days_ago,
    version_publish_points,
)
from infraplan.exports.management.commands.export import Command

from .conftest import layer, schools_in

pytestmark = pytest.mark.django_db


def export(*arguments: str) -> str:
    out = io.StringIO()
    call_command("export", *arguments, stdout=out)
    return out.getvalue()


def test_schools_in_ashford_to_a_geopackage(schools, tmp_path):
    path = tmp_path / "out.gpkg"
    said = export("schools", "--format", "gpkg", "--area", "E07000105", "-o", str(path))
    expected = schools_in("E07000105")
    assert said == f"Wrote {expected:,} features to {path}.\n"
    assert list(tmp_path.iterdir()) == [path]  # nothing half-written left beside it
    meta, rows, _ = layer(path, "schools")
    assert meta["crs"] == "EPSG:27700" and len(rows) == expected


def test_a_box_on_the_national_grid(personas, tmp_path):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    version_publish_points(
        dataset=dataset, points={"in": (601300, 142700), "out": (602400, 142700)}
    )
    path = tmp_path / "out.csv"
    grid = "http://www.opengis.net/def/crs/EPSG/0/27700"
    box = ("--bbox", "601000,142500,601600,142900", "--bbox-crs", grid)
    export("sites", "--format", "csv", *box, "-o", str(path))
    assert [line.split(",")[0] for line in path.read_text().splitlines()[1:]] == ["in"]


def test_filters_ended_and_a_date(personas, tmp_path):
    dataset = dataset_make(
        slug="register", owner=personas.organisation_a,
        field_schema=[{"name": "kind", "type": "string", "title": "Kind"}],
    )  # fmt: skip
    first = version_publish_points(
        dataset=dataset, points={"a": (601300, 142700), "b": (601650, 142180)},
        properties={"a": {"kind": "x"}, "b": {"kind": "y", "end-date": "2001-01-01"}},
    )  # fmt: skip
    published_days_ago(first, 10)
    version_publish_points(dataset=dataset, points={"c": (601500, 142400)})
    path = tmp_path / "out.csv"

    export("register", "--format", "csv", "--as-of", days_ago(5), "-o", str(path))
    assert [line.split(",")[0] for line in path.read_text().splitlines()[1:]] == ["a"]
    export("register", "--format", "csv", "--as-of", days_ago(5), "--ended", "-o", str(path))
    assert [line.split(",")[0] for line in path.read_text().splitlines()[1:]] == ["a", "b"]
    arguments = ("--as-of", days_ago(5), "--ended", "--where", "kind=y", "--where", "kind=z")
    export("register", "--format", "csv", *arguments, "-o", str(path))
    assert [line.split(",")[0] for line in path.read_text().splitlines()[1:]] == ["b"]
    export("register", "--format", "csv", "--dataset-version", "1", "-o", str(path))
    assert [line.split(",")[0] for line in path.read_text().splitlines()[1:]] == ["a"]


def test_a_date_to_come_fails_as_on_the_web_and_today_is_now(personas, tmp_path):
    dataset = dataset_make(slug="sites", owner=personas.organisation_a)
    version_publish_points(dataset=dataset, points={"a": (601300, 142700)})
    path = tmp_path / "out.csv"
    for when in (days_ago(-1), "2999-01-01"):
        with pytest.raises(CommandError) as raised:
            export("sites", "--format", "csv", "--as-of", when, "-o", str(path))
        assert str(raised.value) == (
            "Cannot make this export: as_of: The date must be today or in the past."
        )
    assert list(tmp_path.iterdir()) == []
    said = export("sites", "--format", "csv", "--as-of", days_ago(0), "-o", str(path))
    assert said == f"Wrote 1 feature to {path}.\n"


def test_bad_input_fails_with_the_message_and_writes_nothing(schools, tmp_path):
    path = tmp_path / "out.gpkg"
    with pytest.raises(CommandError) as raised:
        export("schools", "--format", "gpkg", "--area", "E0700010", "-o", str(path))
    assert str(raised.value).startswith(
        "Cannot make this export: area: 'E0700010' is not an area of this service"
    )
    with pytest.raises(CommandError, match=re.escape("--where 'town' is not field=value.")):
        export("schools", "--format", "csv", "--where", "town", "-o", str(path))
    with pytest.raises(CommandError, match=re.escape("There is no dataset 'nope'.")):
        export("nope", "--format", "csv", "-o", str(path))
    with pytest.raises(CommandError, match="'shp'"):
        export("schools", "--format", "shp", "-o", str(path))
    with pytest.raises(CommandError, match=re.escape(f"Cannot write {tmp_path}: it is a folder")):
        export("schools", "--format", "csv", "-o", str(tmp_path))
    missing = tmp_path / "no-such-folder" / "out.csv"
    with pytest.raises(
        CommandError, match=re.escape(f"Cannot write {missing}: No such file or directory.")
    ):
        export("schools", "--format", "csv", "-o", str(missing))
    assert list(tmp_path.iterdir()) == []


def test_it_runs_as_the_platform_and_says_so(restricted, tmp_path, security_events):
    help_text = Command().create_parser("infraplan", "export").format_help()
    assert "Runs as the platform: every dataset, restricted ones included" in " ".join(
        help_text.split()
    )
    path = tmp_path / "sites.geojson"
    export("a-only-sites", "--format", "geojson", "-o", str(path))
    _, rows, _ = layer(path)
    assert sorted(row["reference"] for row in rows) == ["civic-centre", "station"]
    (entry,) = AuditEntry.objects.filter(action="dataset.read.download")
    assert entry.actor_id is None
    (event,) = security_events("export.restricted")
    assert event["via"] == "command line" and event["datasets"] == ["a-only-sites"]


def test_there_is_no_limit_on_the_command_line(schools, tmp_path, settings):
    settings.EXPORT_MAX_FEATURES = 10
    path = tmp_path / "all.xlsx"
    said = export("schools", "--format", "xlsx", "--ended", "-o", str(path))
    assert said.startswith("Wrote 1,504 ")  # every school, closed ones too
