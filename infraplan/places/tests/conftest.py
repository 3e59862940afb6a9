from pathlib import Path

import pytest

from infraplan.places.services import postcodes_load

DIRECTORY = (
    Path(__file__).resolve().parents[3]
    / "data"
    / "kent_postcodes_onspd"
    / "kent_medway_postcodes_onspd.csv"
)
HEADER = "pcd,laua,oseast1m,osnrth1m,lat_wgs84,long_wgs84"


def real_rows(*postcodes: str) -> list[str]:
    """The ONSPD lines of ``postcodes`` (in the directory's 7-character form) from the real file."""
    wanted = set(postcodes)
    with DIRECTORY.open(encoding="utf-8") as source:
        rows = [line.rstrip("\n") for line in source if line.split(",", 1)[0] in wanted]
    assert len(rows) == len(wanted), "a postcode named by a test is not in the directory"
    return rows


def write_postcodes(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


# Real postcodes: the cathedral precincts in Canterbury, a street in Sittingbourne (a 4-character
# outward code, written without a space in ONSPD) and two more in CT1.
SAMPLE = ("CT1 2EH", "CT1 2EJ", "CT1 1AA", "ME101AA")


@pytest.fixture
def sample_postcodes(db, tmp_path):
    """A few real postcodes, loaded."""
    return postcodes_load(path=write_postcodes(tmp_path / "sample.csv", real_rows(*SAMPLE)))
