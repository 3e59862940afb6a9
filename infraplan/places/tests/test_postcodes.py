"""Loading the postcode directory: fast, all or nothing, and only when the file changed."""

import pytest
from django.test import override_settings

from infraplan.audit.models import AuditEntry
from infraplan.core.testing.data import (
    POSTCODE_DIRECTORY,
    POSTCODE_HEADER,
    POSTCODE_SAMPLE,
    postcode_rows,
    postcodes_write,
)
from infraplan.places.models import Postcode, PostcodeLoad
from infraplan.places.services import PostcodeFileError, postcode_normalise, postcodes_load
from infraplan.places.tasks import postcodes_load_task


def _content(*postcodes: str) -> dict[str, tuple[str, float, float]]:
    """The loaded postcodes (or only ``postcodes``) with their district and grid point."""
    rows = Postcode.objects.filter(pk__in=postcodes) if postcodes else Postcode.objects.all()
    return {row.postcode: (row.district, row.point.x, row.point.y) for row in rows}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ct1 2eh", "CT1 2EH"),
        ("CT12EH", "CT1 2EH"),
        ("  ct1   2eh ", "CT1 2EH"),
        ("ME101AA", "ME10 1AA"),
        ("SW1A 1AA", "SW1A 1AA"),
        ("CT1", None),
        ("Canterbury", None),
        ("CT1 2E", None),
    ],
)
def test_postcodes_are_normalised(text, expected):
    assert postcode_normalise(text) == expected


@pytest.mark.django_db
def test_the_real_directory_loads_in_full_with_each_point_where_onspd_puts_it():
    result = postcodes_load(path=POSTCODE_DIRECTORY)

    assert result.changed and result.rows == 71_839 == Postcode.objects.count()
    # ONSPD (Nov 2025): CT1 2EH, E07000106, 615146 E, 157812 N; ME10 1AA, 590428 E, 163687 N.
    assert _content("CT1 2EH", "ME10 1AA") == {
        "CT1 2EH": ("E07000106", 615146, 157812),
        "ME10 1AA": ("E07000113", 590428, 163687),
    }
    entry = AuditEntry.objects.get(action="places.postcodes.load")
    assert entry.after["rows"] == 71_839 and entry.after["checksum"] == result.checksum
    assert entry.actor_label == "system"


@pytest.mark.django_db
def test_loading_the_same_file_again_does_nothing(tmp_path):
    path = postcodes_write(tmp_path / "postcodes.csv", postcode_rows(*POSTCODE_SAMPLE))
    first = postcodes_load(path=path)
    again = postcodes_load(path=path)

    assert first.changed and not again.changed
    assert again.rows == first.rows == len(POSTCODE_SAMPLE)
    assert PostcodeLoad.objects.count() == 1
    assert AuditEntry.objects.filter(action="places.postcodes.load").count() == 1


@pytest.mark.django_db
def test_a_changed_file_replaces_the_whole_content(tmp_path):
    postcodes_load(path=postcodes_write(tmp_path / "old.csv", postcode_rows(*POSTCODE_SAMPLE)))
    result = postcodes_load(path=postcodes_write(tmp_path / "new.csv", postcode_rows("CT1 1AA")))

    assert result.changed and set(_content()) == {"CT1 1AA"}
    entry = AuditEntry.objects.filter(action="places.postcodes.load").order_by("-id").first()
    assert entry.before["rows"] == len(POSTCODE_SAMPLE) and entry.after["rows"] == 1


GOOD = "CT1 1AA,E07000106,615886,158470,51.284437,1.094448"


@pytest.mark.parametrize(
    ("rows", "header", "why"),
    [
        (
            [GOOD, "CT1 ZZZ,E07000106,615886,158470,,"],
            POSTCODE_HEADER,
            "Line 3, field pcd: “CT1 ZZZ”",
        ),
        ([GOOD, "CT1 1AB,Canterbury,615886,158470,,"], POSTCODE_HEADER, "Line 3, field laua"),
        (
            [GOOD, "CT1 1AB,E07000106,61588x,158470,,"],
            POSTCODE_HEADER,
            "Line 3, field oseast1m: “61588x”",
        ),
        ([GOOD, "CT1 1AB,E07000106,615886,,,"], POSTCODE_HEADER, "Line 3, field osnrth1m: “”"),
        (
            [GOOD, "CT1 1AB,E07000106,615886,1400000,,"],
            POSTCODE_HEADER,
            "outside the National Grid",
        ),
        ([GOOD, GOOD], POSTCODE_HEADER, "Line 3, field pcd: CT1 1AA appears twice"),
        ([GOOD], "postcode,laua,oseast1m,osnrth1m", "Line 1: the header lacks the column.s. pcd"),
    ],
)
@pytest.mark.django_db
def test_a_bad_row_is_named_and_the_previous_content_stays(tmp_path, rows, header, why):
    postcodes_load(path=postcodes_write(tmp_path / "good.csv", postcode_rows(*POSTCODE_SAMPLE)))
    before = _content()

    with pytest.raises(PostcodeFileError, match=why):
        postcodes_load(path=postcodes_write(tmp_path / "bad.csv", rows, header=header))

    assert _content() == before
    assert PostcodeLoad.objects.count() == 1


@pytest.mark.django_db
def test_the_task_loads_a_file_in_the_demo_data_folder(tmp_path):
    postcodes_write(tmp_path / "postcodes.csv", postcode_rows(*POSTCODE_SAMPLE))
    with override_settings(DEMO_DATA_DIR=tmp_path):
        assert postcodes_load_task(path="postcodes.csv")["rows"] == len(POSTCODE_SAMPLE)
        assert postcodes_load_task(path="postcodes.csv")["changed"] is False
    assert set(_content()) == {postcode_normalise(code) for code in POSTCODE_SAMPLE}
