import pytest

from infraplan.core.testing.data import POSTCODE_SAMPLE, postcode_rows, postcodes_write
from infraplan.places.services import postcodes_load


@pytest.fixture
def sample_postcodes(db, tmp_path):
    """A few real postcodes, loaded."""
    return postcodes_load(
        path=postcodes_write(tmp_path / "sample.csv", postcode_rows(*POSTCODE_SAMPLE))
    )
