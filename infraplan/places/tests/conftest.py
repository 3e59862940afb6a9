import pytest
from pyproj import Transformer

from infraplan.core.testing.data import POSTCODE_SAMPLE, postcode_rows, postcodes_write
from infraplan.places.services import postcodes_load


@pytest.fixture
def sample_postcodes(db, tmp_path):
    """A few real postcodes, loaded."""
    return postcodes_load(
        path=postcodes_write(tmp_path / "sample.csv", postcode_rows(*POSTCODE_SAMPLE))
    )


@pytest.fixture
def examples_expected():
    """The examples search should show for a map's bounds, worked out here with pyproj: the
    centre of the bounds as a 6-figure grid reference in the square ``letters`` (known for
    each area a test uses), eastings and northings to the 100 m, latitude and longitude to two
    decimals and degrees, minutes and seconds to the second."""
    to_grid = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)

    def dms(value: float, positive: str, negative: str) -> str:
        seconds = round(abs(value) * 3600)
        return (
            f"{seconds // 3600}°{seconds % 3600 // 60:02d}'{seconds % 60:02d}\""
            f"{positive if value >= 0 else negative}"
        )

    def expected(bounds: list[float], letters: str) -> dict[str, str]:
        west, south, east, north = bounds
        lon, lat = (west + east) / 2, (south + north) / 2
        easting, northing = (int(round(value, -2)) for value in to_grid.transform(lon, lat))
        return {
            "grid_reference": f"{letters} {str(easting)[-5:-2]} {str(northing)[-5:-2]}",
            "eastings_northings": f"{easting},{northing}",
            "latitude_longitude": f"{lat:.2f}, {lon:.2f}",
            "degrees_minutes_seconds": f"{dms(lat, 'N', 'S')} {dms(lon, 'E', 'W')}",
        }

    return expected
