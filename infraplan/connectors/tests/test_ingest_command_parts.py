"""``infraplan ingest`` and the organisations of a dataset: whose part a load replaces, said
or refused, and where it reads from (its first argument, never an option beside it)."""

import pytest
from django.core.exceptions import ValidationError

from infraplan.accounts.models import Organisation
from infraplan.catalogue.ingest import IngestMapping
from infraplan.catalogue.store import current_features
from infraplan.connectors.load_requests import ingest_request
from infraplan.connectors.models import IngestRun, Source
from infraplan.connectors.sources import source_save
from infraplan.connectors.tests.test_ingest_command import ingest
from infraplan.core.testing.data import dataset_make, version_publish_points

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shared(personas):
    """A dataset two councils publish, each with a feature of its own."""
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    sites.contributing_organisations.add(personas.organisation_b)
    for organisation, reference in [
        (personas.organisation_a, "A1"),
        (personas.organisation_b, "B1"),
    ]:
        version_publish_points(
            dataset=sites, points={reference: (615000, 157500)}, organisation=organisation
        )
    return sites


def _csv(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("ref,Easting,Northing\nS1,615000,157500\n")
    return path


def _live(dataset) -> list[tuple[str, str]]:
    return sorted(current_features(dataset).values_list("organisation__slug", "reference"))


def test_a_dataset_several_organisations_publish_needs_the_part_named(shared, tmp_path):
    done = ingest(tmp_path, str(_csv(tmp_path)), "--dataset", "sites", "--reference", "ref")
    assert done.returncode == 1
    assert (
        "sites is published by several organisations (org-a, org-b): say whose part this load "
        "replaces with --organisation SLUG, or replace every organisation's features with "
        "--organisation '*'." in done.stderr
    )
    assert _live(shared) == [("org-a", "A1"), ("org-b", "B1")]
    assert not IngestRun.objects.exists()
    assert not any((tmp_path / "uploads").rglob("*.csv"))
    # Named, one council's load replaces its own part and leaves the other's.
    done = ingest(tmp_path, str(_csv(tmp_path)), "--dataset", "sites", "--reference", "ref",
                  "--organisation", "org-b")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _live(shared) == [("org-a", "A1"), ("org-b", "S1")]
    # '*' replaces the whole dataset, as the upload page's "The whole dataset" does.
    done = ingest(tmp_path, str(_csv(tmp_path)), "--dataset", "sites", "--reference", "ref",
                  "--organisation", "*")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _live(shared) == [("org-a", "S1")]


def test_an_organisation_that_does_not_publish_the_dataset_is_refused(shared, tmp_path):
    Organisation.objects.create(slug="org-c", name="Organisation C", kind="district")
    done = ingest(tmp_path, str(_csv(tmp_path)), "--dataset", "sites", "--reference", "ref",
                  "--organisation", "org-c")  # fmt: skip
    assert done.returncode == 1
    assert (
        "Organisation C does not publish Sites: its owner and contributing organisations are "
        "Organisation A, Organisation B." in done.stderr
    )
    assert _live(shared) == [("org-a", "A1"), ("org-b", "B1")]
    assert not IngestRun.objects.exists()
    assert not any((tmp_path / "uploads").rglob("*.csv"))


def test_the_services_refuse_a_part_for_an_organisation_outside_the_dataset(shared, tmp_path):
    outsider = Organisation.objects.create(slug="org-c", name="Organisation C", kind="district")
    common = {
        "actor": None, "dataset": shared, "connector_key": "url",
        "config": {"url": "https://example.org/sites.csv"},
        "mapping": IngestMapping(reference="ref"), "organisation": outsider,
    }  # fmt: skip
    with pytest.raises(ValidationError, match="Organisation C does not publish Sites"):
        ingest_request(**common)
    with pytest.raises(ValidationError, match="Organisation C does not publish Sites"):
        source_save(**common)
    assert not IngestRun.objects.exists() and not Source.objects.exists()


@pytest.mark.parametrize(
    ("source", "option"),
    [("{file}", "path=/etc/hostname"), ("https://example.org/sites.csv", "url=https://x.org/")],
)
def test_an_option_cannot_change_where_the_load_reads_from(shared, tmp_path, source, option):
    source = source.format(file=_csv(tmp_path))
    done = ingest(tmp_path, source, "--dataset", "sites", "--reference", "ref",
                  "--organisation", "org-a", "--option", option)  # fmt: skip
    assert done.returncode == 1
    name = option.partition("=")[0]
    assert (
        f"--option {name}= cannot be given: the file or address to load is the command's first "
        "argument." in done.stderr
    )
    assert not IngestRun.objects.exists()
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").rglob("*.*"))


def test_a_folder_is_refused_saying_what_to_give(shared, tmp_path):
    (tmp_path / "shapes").mkdir()
    done = ingest(tmp_path, str(tmp_path / "shapes"), "--dataset", "sites",
                  "--organisation", "org-a")  # fmt: skip
    assert done.returncode == 1
    assert "shapes is a folder: give a file (a Shapefile as a .zip of its" in done.stderr


def test_a_download_loaded_back_goes_to_the_parts_its_organisation_column_names(
    shared, client, tmp_path
):
    """Both councils' sites downloaded in one file: loaded as B's part, A's row is refused by
    name and nothing changes; loaded for the whole dataset, each site stays its council's."""
    path = tmp_path / "download.csv"
    path.write_bytes(b"".join(client.get("/datasets/sites/download.csv").streaming_content))
    assert path.read_text(encoding="utf-8-sig").startswith("reference,organisation,name,")

    done = ingest(tmp_path, str(path), "--dataset", "sites", "--organisation", "org-b")
    assert done.returncode == 1
    assert (
        "  row 1, organisation 'org-a': belongs to Organisation A's part (org-a); this load "
        "replaces Organisation B's part (org-b)" in done.stdout.splitlines()
    )
    assert "1 of 2 rows have problems (50.0%), over the 5% allowed." in done.stderr
    assert _live(shared) == [("org-a", "A1"), ("org-b", "B1")]

    done = ingest(tmp_path, str(path), "--dataset", "sites", "--organisation", "*")
    assert done.returncode == 0, done.stderr
    assert "  added 0, changed 0, removed 0, unchanged 2" in done.stdout.splitlines()
    assert _live(shared) == [("org-a", "A1"), ("org-b", "B1")]
