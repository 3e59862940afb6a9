"""The examples a search shows come from the deployment's own area, whatever the profile.

A deployment for another authority ("Wessex", a box over Wiltshire, Dorset and Hampshire whose
centre, on Cranborne Chase, is in the National Grid square SU) must not be told to search for a
Kent postcode or grid reference: trying one would fly its map 200 km east.
"""

import pytest

from infraplan.core.coordinates import coordinates_parse
from infraplan.core.testing.data import POSTCODE_SAMPLE, postcode_rows, postcodes_write
from infraplan.places.map_area import in_map_area
from infraplan.places.services import postcodes_load

WESSEX = [-2.9, 50.5, -1.0, 51.4]
# The examples the test profile (Kent's) gave before they were worked out from its area, and
# the postcodes of the Kent sample.
KENT_EXAMPLES = ["CT1", "ME10", "TR 150 575", "615000,157500", "51.28, 1.08", "TQ ", "TR "]
# Two postcodes in the Wessex box (their rows made up for the test): SP6 1AA 1 km from its
# centre (403609 E, 116731 N), SP1 1AA 17 km.
WESSEX_ROWS = [
    "SP6 1AA,E06000054,404500,117500,50.96,-1.94",
    "SP1 1AA,E06000054,414500,130000,51.07,-1.80",
]


@pytest.fixture
def wessex(settings):
    profile = settings.AUTHORITY_PROFILE
    settings.AUTHORITY_PROFILE = profile.model_copy(
        update={"map": profile.map.model_copy(update={"bounds": WESSEX})}
    )


def _search(client, query: str) -> dict:
    response = client.get("/search/", {"q": query, "format": "json"})
    assert response.status_code == 200
    return response.json()


def _postcodes_load(tmp_path, rows: list[str]) -> None:
    postcodes_load(path=postcodes_write(tmp_path / "postcodes.csv", rows))


def test_another_profiles_examples_are_in_its_area_and_none_is_kents(
    client, db, tmp_path, wessex, examples_expected
):
    """With only Kent's postcodes loaded, no postcode is given as an example: none is in the
    area. Every example is the centre of the area, and searching for one finds a place in it."""
    _postcodes_load(tmp_path, postcode_rows(*POSTCODE_SAMPLE))
    expected = examples_expected(WESSEX, "SU")
    assert expected["grid_reference"].startswith("SU ")

    page = client.get("/search/").content.decode()
    hint = f"For example {expected['grid_reference']}, {expected['eastings_northings']} or a"
    assert hint in page
    nothing = _search(client, "Atlantis")
    assert nothing["formats"][:4] == [
        "a postcode, or the start of one",
        f"a grid reference, like {expected['grid_reference']}",
        f"eastings and northings, like {expected['eastings_northings']}",
        f"latitude and longitude, like {expected['latitude_longitude']}",
    ]
    errors = [
        _search(client, "TR 150 57")["error"],  # a malformed grid reference
        _search(client, "T")["error"],  # the letter of a grid square alone
        _search(client, "51 60 N 1 4 W")["error"],  # 60 minutes
    ]
    assert f"like {expected['grid_reference']}." in errors[0]
    assert f"like {expected['grid_reference']}." in errors[1]
    assert f"like {expected['degrees_minutes_seconds']}." in errors[2]
    for error in errors:
        assert (
            f"You can also search for a grid reference like {expected['grid_reference']}, "
            f"eastings and northings like {expected['eastings_northings']}, or latitude and "
            f"longitude like {expected['latitude_longitude']} or "
            f"{expected['degrees_minutes_seconds']}." in error
        )
    for shown in [page, nothing["message"], *nothing["formats"], *errors]:
        for kent in KENT_EXAMPLES:
            assert kent not in shown.replace("TR 150 57”", ""), (kent, shown)

    for example in expected.values():
        assert in_map_area(coordinates_parse(example).point), example
        (found,) = _search(client, example)["results"]
        assert "of the area the map covers" not in found["detail"], example


def test_the_postcode_example_is_the_one_nearest_the_centre_of_the_area(
    client, db, tmp_path, wessex
):
    _postcodes_load(tmp_path, [*postcode_rows(*POSTCODE_SAMPLE), *WESSEX_ROWS])
    assert client.get("/search/").content.decode().count("For example SP6 1AA, SU ") == 1
    assert _search(client, "Atlantis")["formats"][0] == (
        "a postcode, like SP6 1AA, or the start of one, like SP6"
    )


def test_a_postcode_loaded_after_the_first_search_becomes_the_example(client, db, tmp_path):
    """The example is kept per load of the directory: one loaded while the service runs is
    used without a restart."""
    assert _search(client, "Atlantis")["formats"][0] == "a postcode, or the start of one"
    _postcodes_load(tmp_path, postcode_rows(*POSTCODE_SAMPLE))
    assert _search(client, "Atlantis")["formats"][0].startswith("a postcode, like ME10 1AA,")


def test_the_features_tables_area_examples_are_boxes_in_the_area(client, db, wessex):
    """The features table's area field gives a box in degrees and one on the grid, each around
    the centre of the deployment's own area, and each read back as inside it."""
    page = client.get("/map/features/").content.decode()
    hint = page.split('id="bbox-hint"', 1)[1].split("</div>", 1)[0]
    assert not [example for example in KENT_EXAMPLES if example in hint]
    assert "0.8,51.1,1.2,51.3" not in hint and "580000,140000,620000,160000" not in hint
    assert "for example -2.1,50.9,-1.8,51.1," in hint
    assert "for example 390000,110000,420000,120000." in hint
    for box in ("-2.1,50.9,-1.8,51.1", "390000,110000,420000,120000"):
        response = client.get("/map/features/", {"bbox": box, "layers": ""})
        assert response.status_code == 200 and 'id="bbox-error"' not in response.content.decode()
