"""``infraplan ingest --save`` over a source that exists: what it was not told stays as the
source had it, and a column mapping the source page would refuse is refused here too."""

import pytest

from infraplan.connectors.models import IngestRun, Source
from infraplan.connectors.sources import source_save
from infraplan.connectors.tests.test_ingest_command import ingest
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db(transaction=True)

LAYER = "https://example.org/arcgis/rest/services/Sites/FeatureServer/0"
SAVE = ["--dataset", "sites", "--save", "--no-load"]


@pytest.fixture
def sites(personas):
    return dataset_make(
        slug="sites", owner=personas.organisation_a,
        field_schema=[{"name": "homes", "type": "integer", "title": "Homes"},
                      {"name": "area_ha", "type": "number", "title": "Area (ha)"}],
    )  # fmt: skip


def _saved() -> tuple[str, dict, dict, str]:
    source = Source.objects.get()
    mapping = {key: source.mapping[key] for key in ("reference", "rename", "casts", "constants")}
    return source.connector_key, source.config, mapping, source.schedule


def test_saving_again_keeps_what_is_not_given_and_says_what_changed(sites, tmp_path):
    first = ingest(tmp_path, LAYER, *SAVE, "--connector", "arcgis", "--schedule", "daily",
                   "--reference", "OBJECTID", "--rename", "units=homes", "--cast", "code=string",
                   "--constant", "status=allocated", "--option", "where=STATUS = 'A'",
                   "--threshold", "10", "--allow-large-removal")  # fmt: skip
    assert first.returncode == 0, first.stderr
    connector, config, mapping, _ = _saved()
    assert config["where"] == "STATUS = 'A'"

    # Only the schedule: the source's connector, settings and whole mapping are kept, and the
    # output says so (it said only "Changed the source", over a mapping reset to its defaults).
    again = ingest(tmp_path, LAYER, *SAVE, "--schedule", "weekly")
    assert again.returncode == 0, again.stderr
    assert _saved() == (connector, config, mapping, "weekly")
    source = Source.objects.get()
    assert (source.mapping["max_invalid_share"], source.mapping["allow_large_removal"]) == (
        0.1,
        True,
    )
    assert again.stdout.splitlines()[1:] == [
        "  kept: the arcgis settings, reference column OBJECTID, renames units=homes, "
        "casts code=string, constants status=allocated, rejection threshold 10%, large "
        "removals allowed"
    ]

    # A part given replaces that part alone; "none" empties it.
    renamed = ingest(tmp_path, LAYER, *SAVE, "--rename", "UNITS=homes", "--cast", "none",
                     "--option", "page_size=500")  # fmt: skip
    assert renamed.returncode == 0, renamed.stderr
    _, config, mapping, _ = _saved()
    assert (config["where"], config["page_size"]) == ("STATUS = 'A'", 500)
    assert mapping == {
        "reference": "OBJECTID", "rename": {"UNITS": "homes"}, "casts": {},
        "constants": {"status": "allocated"},
    }  # fmt: skip
    assert renamed.stdout.splitlines()[1:] == [
        "  setting page_size: 500 (was 1000)",
        "  renames: UNITS=homes (was units=homes)",
        "  casts: none (was code=string)",
        "  kept: the other arcgis settings, reference column OBJECTID, constants "
        "status=allocated, rejection threshold 10%, large removals allowed",
    ]
    # Large removals, once allowed, can be refused again.
    refused = ingest(tmp_path, LAYER, *SAVE, "--no-allow-large-removal")
    assert refused.returncode == 0, refused.stderr
    assert Source.objects.get().mapping["allow_large_removal"] is False
    assert "  large removals: refused (was allowed)" in refused.stdout.splitlines()
    assert not IngestRun.objects.exists()


def test_a_mapping_saved_on_the_source_page_is_kept(sites, personas, tmp_path):
    source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="arcgis",
        config={"url": LAYER, "where": "STATUS = 'A'", "format": "json"},
        mapping={"reference": "REF", "rename": {"UNITS": "homes"}, "casts": {"CODE": "string"},
                 "constants": {"status": "Allocated"}, "max_invalid_share": 0.1},
    )  # fmt: skip
    before = _saved()
    done = ingest(tmp_path, LAYER, *SAVE, "--schedule", "weekly", "--reference", "SITE_REF")
    assert done.returncode == 0, done.stderr
    connector, config, mapping, schedule = _saved()
    assert (connector, config, schedule) == (*before[:2], "weekly")
    assert mapping == {**before[2], "reference": "SITE_REF"}
    assert "  reference column: SITE_REF (was REF)" in done.stdout.splitlines()


def test_another_connector_starts_from_its_own_settings(sites, personas, tmp_path):
    source_save(
        actor=personas.data_manager_a, dataset=sites, connector_key="arcgis",
        config={"url": LAYER, "where": "STATUS = 'A'"}, mapping={"reference": "REF"},
    )  # fmt: skip
    done = ingest(tmp_path, "https://example.org/sites.csv", *SAVE, "--connector", "url")
    assert done.returncode == 0, done.stderr
    connector, config, mapping, _ = _saved()
    assert (connector, config["url"], mapping["reference"]) == (
        "url",
        "https://example.org/sites.csv",
        "REF",
    )
    assert "where" not in config
    assert "  connector: url (was arcgis)" in done.stdout.splitlines()


def test_none_goes_alone(sites, tmp_path):
    done = ingest(tmp_path, LAYER, *SAVE, "--connector", "arcgis", "--rename", "none",
                  "--rename", "a=b")  # fmt: skip
    assert done.returncode == 1
    assert "--rename none (no renames) cannot be given with others." in done.stderr
    assert not Source.objects.exists()


@pytest.mark.parametrize(
    "args",
    [
        [LAYER, *SAVE, "--connector", "arcgis"],
        [LAYER, "--dataset", "sites", "--connector", "arcgis", "--save"],
        ["{file}", "--dataset", "sites"],
    ],
)
def test_a_cast_of_a_field_of_the_dataset_to_another_type_is_refused(sites, tmp_path, args):
    """As the source page refuses it: the field is read by its type in the schema, so the cast
    would be ignored by every load, and the source could not be saved on its page after."""
    path = tmp_path / "sites.csv"
    path.write_text("reference,Easting,Northing,area_ha\nS1,615000,157500,1.5\n")
    args = [arg.format(file=path) for arg in args]
    done = ingest(tmp_path, *args, "--cast", "area_ha=string", "--cast", "homes=integer")
    assert done.returncode == 1
    assert (
        "The column mapping is not valid: area_ha is a field of the dataset, read as number by "
        "its type there: leave its cast out, or first change the field's type on the "
        "dataset's details page." in done.stderr
    )
    assert not Source.objects.exists() and not IngestRun.objects.exists()
    assert not sites.versions.exists()
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").rglob("*.*"))
