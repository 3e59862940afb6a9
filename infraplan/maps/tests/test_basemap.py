"""The optional basemap in the authority profile: validated at start-up, allowed by the CSP."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from infraplan.core.profile import load_profile

PROFILE = Path(settings.BASE_DIR) / "profiles" / "kent-medway.toml"


def profile_with_basemap(tmp_path: Path, basemap: str) -> Path:
    text = PROFILE.read_text(encoding="utf-8")
    text = re.sub(r"(\[map\]\n(?:#.*\n)*bounds = .*\n)", rf"\1basemap = {basemap}\n", text)
    path = tmp_path / "profile.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_demo_profile_has_no_basemap_and_the_csp_allows_no_other_origin():
    assert settings.AUTHORITY_PROFILE.map.basemap is None
    assert settings.AUTHORITY_PROFILE.map.basemap_origins == []
    assert all("://" not in source for source in settings.SECURE_CSP["connect-src"])


def test_a_raster_basemap_is_accepted_and_names_its_origin(tmp_path):
    path = profile_with_basemap(
        tmp_path,
        '{ raster_tiles = "https://tiles.example.org/light/{z}/{x}/{y}.png", '
        'attribution = "© Example" }',
    )
    basemap = load_profile(path).map
    assert basemap.basemap.raster_tiles.endswith("{z}/{x}/{y}.png")
    assert basemap.basemap.tile_size == 256
    assert basemap.basemap_origins == ["https://tiles.example.org"]


def test_a_style_basemap_is_accepted(tmp_path):
    path = profile_with_basemap(
        tmp_path,
        '{ style_url = "https://maps.example.org:8443/styles/light.json", attribution = "© Ex" }',
    )
    assert load_profile(path).map.basemap_origins == ["https://maps.example.org:8443"]


@pytest.mark.parametrize(
    ("basemap", "problem"),
    [
        ('{ raster_tiles = "https://t.example.org/{z}/{x}.png", attribution = "© Ex" }', "{y}"),
        (
            '{ raster_tiles = "http://t.example.org/{z}/{x}/{y}.png", attribution = "© Ex" }',
            "https",
        ),
        ('{ style_url = "https://s.example.org/style.json" }', "attribution"),
        (
            '{ style_url = "https://s.example.org/a.json", colour = "red", attribution = "Ex" }',
            "colour",
        ),
    ],
)
def test_a_bad_basemap_stops_start_up_naming_the_field(tmp_path, basemap, problem):
    path = profile_with_basemap(tmp_path, basemap)
    with pytest.raises(ImproperlyConfigured, match=r"map\.basemap") as error:
        load_profile(path)
    assert problem in str(error.value)
