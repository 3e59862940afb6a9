"""The authority profile: who runs this deployment, its branding, areas and organisations.

One TOML file (``AUTHORITY_PROFILE``) holds everything that differs between authorities, so another
council deploys the platform by writing its own profile, not by changing code. It is validated at
start-up; an invalid profile stops the process with the field's path in the message.
"""

import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from django.core.exceptions import ImproperlyConfigured
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from infraplan.catalogue.styles import StyleError, style_legend, style_parse

GSS_CODE = r"^[EWSN]\d{8}$"
HEX_COLOUR = r"^#[0-9a-fA-F]{6}$"
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")
SSO_TENANT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _relative_luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2.2 contrast ratio between two #rrggbb colours."""
    lighter, darker = sorted(
        (_relative_luminance(first), _relative_luminance(second)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


class Authority(_Strict):
    name: str = Field(min_length=2, description="The organisation running this deployment.")
    service_name: str = Field(min_length=2, description="The service's name in the header.")
    website: str = Field(pattern=r"^https://")
    contact_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    accessibility_contact_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    data_protection_contact: str = Field(min_length=2)


class Branding(_Strict):
    header_colour: str = Field(pattern=HEX_COLOUR)
    header_text_colour: str = Field(pattern=HEX_COLOUR)
    accent_colour: str = Field(pattern=HEX_COLOUR)
    logo: str | None = Field(
        default=None,
        description="Path of an SVG or PNG logo under the static files, e.g. 'branding/logo.svg' "
        "in the folder BRANDING_STATIC_DIR names (README, 'Configuration').",
    )
    logo_alt: str | None = None

    @field_validator("logo")
    @classmethod
    def _under_the_static_files(cls, logo: str | None) -> str | None:
        if logo is not None:
            path = PurePosixPath(logo)
            if path.is_absolute() or ".." in path.parts or "\\" in logo:
                raise ValueError(
                    f"{logo!r} is not a path under the static files, like 'branding/logo.svg'"
                )
        return logo

    @model_validator(mode="after")
    def _readable(self) -> "Branding":
        ratio = contrast_ratio(self.header_colour, self.header_text_colour)
        if ratio < 4.5:
            raise ValueError(
                f"header_text_colour on header_colour has contrast {ratio:.2f}:1; "
                "WCAG 2.2 AA needs at least 4.5:1"
            )
        if self.logo and not self.logo_alt:
            raise ValueError("logo_alt is required when a logo is set")
        return self


class Boundary(_Strict):
    dataset: str = Field(pattern=r"^[a-z0-9-]+$", description="Slug of the boundary dataset.")
    reference: str = Field(min_length=1, description="The area's reference in that dataset.")


class Area(_Strict):
    code: str = Field(pattern=GSS_CODE)
    name: str = Field(min_length=2)
    kind: Literal["county", "district", "unitary", "group"]
    boundary: Boundary
    in_phase_one: bool = False
    former_names: list[str] = Field(
        default_factory=list,
        description="Names the area went by before it was renamed: search finds it by them too.",
    )


class Organisation(_Strict):
    slug: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str = Field(min_length=2)
    kind: Literal["county", "district", "unitary", "health", "other"]
    area: str | None = Field(default=None, pattern=GSS_CODE)
    email_domains: list[str] = Field(
        default_factory=list,
        description="Domains of its staff's work email: registering with one joins it.",
    )
    requires_approval: bool = Field(
        default=True,
        description="New accounts wait for an admin's approval (false: a verified email is enough).",
    )

    @field_validator("email_domains")
    @classmethod
    def _domains(cls, domains: list[str]) -> list[str]:
        for domain in domains:
            if not DOMAIN.match(domain):
                raise ValueError(f"{domain!r} is not a lower-case domain name")
        return domains

    sso_tenants: list[str] = Field(
        default_factory=list,
        description="Single sign-on tenants it accepts: Entra ID tenant ids, or the issuer URL "
        "of a provider without tenants (see docs/sso.md).",
    )

    @field_validator("sso_tenants")
    @classmethod
    def _tenants(cls, tenants: list[str]) -> list[str]:
        for tenant in tenants:
            if not (SSO_TENANT.match(tenant) or tenant.startswith("https://")):
                raise ValueError(f"{tenant!r} is neither a tenant id (a GUID) nor an https issuer")
        return tenants


class StyleBasemap(_Strict):
    """A basemap drawn from a MapLibre style document (vector tiles, with its own glyphs)."""

    style_url: str = Field(pattern=r"^https://[^/\s]+/\S*$")
    attribution: str = Field(min_length=2)


class RasterBasemap(_Strict):
    """A basemap of XYZ raster tiles; the URL holds the {z}, {x} and {y} placeholders."""

    raster_tiles: str = Field(pattern=r"^https://[^/\s]+/\S*$")
    attribution: str = Field(min_length=2)
    tile_size: Literal[256, 512] = 256

    @field_validator("raster_tiles")
    @classmethod
    def _placeholders(cls, url: str) -> str:
        missing = [name for name in ("{z}", "{x}", "{y}") if name not in url]
        if missing:
            raise ValueError(f"the tile URL needs the placeholders {', '.join(missing)}")
        return url


class MapSettings(_Strict):
    bounds: Annotated[list[float], Field(min_length=4, max_length=4)]
    basemap: StyleBasemap | RasterBasemap | None = Field(
        default=None,
        description="Optional background map; without one the platform's own layers are the base.",
    )

    @property
    def basemap_origins(self) -> list[str]:
        """The origins the Content-Security-Policy must allow for the basemap (none or one)."""
        if self.basemap is None:
            return []
        url = getattr(self.basemap, "style_url", None) or self.basemap.raster_tiles
        scheme, rest = url.split("://", 1)
        return [f"{scheme}://{rest.split('/', 1)[0]}"]

    @field_validator("bounds")
    @classmethod
    def _bounds(cls, bounds: list[float]) -> list[float]:
        min_lon, min_lat, max_lon, max_lat = bounds
        if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
            raise ValueError("bounds must be [min_lon, min_lat, max_lon, max_lat] in WGS84")
        return bounds


class PostTowns(_Strict):
    """Where search finds towns by name: a dataset whose features carry an address's post town
    and postcode (the schools, say). A town covers the postcode districts (``CT5``) where most
    of the dataset's addresses name it, and search shows where those districts' postcodes are."""

    dataset: str = Field(pattern=r"^[a-z0-9-]+$", description="Slug of the dataset.")
    town_field: str = Field(min_length=1)
    postcode_field: str = Field(min_length=1)


class SearchSettings(_Strict):
    post_towns: PostTowns | None = Field(
        default=None, description="Towns by name; without it, search has no towns of its own."
    )


# The catalogue's themes (infraplan.catalogue.models.Theme, which settings cannot import).
THEMES = Literal[
    "housing-growth", "education", "health", "transport", "utilities", "green-infrastructure",
    "flood", "community", "designations", "boundaries", "demographics",
]  # fmt: skip
MAP_BACKGROUND = "#ffffff"
# Every planning.data.gov.uk entity has these; a national dataset may list more of its own.
NATIONAL_FIELDS = [
    {"name": "entity", "type": "integer", "title": "planning.data.gov.uk entity"},
    {"name": "reference", "type": "string", "title": "Publisher's reference"},
    {"name": "name", "type": "string", "title": "Name"},
    {"name": "organisation-entity", "type": "string", "title": "Publisher (organisation entity)"},
    {"name": "documentation-url", "type": "string", "title": "Documentation"},
    {"name": "entry-date", "type": "date", "title": "Entry date"},
    {"name": "start-date", "type": "date", "title": "Start date"},
    {"name": "end-date", "type": "date", "title": "End date"},
]


class NationalField(_Strict):
    name: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    type: Literal["string", "integer", "number", "boolean", "date"]
    title: str = Field(min_length=2)


class NationalDataset(_Strict):
    """A planning.data.gov.uk dataset the deployment can switch on: its catalogue entry and
    what part of it to load. Without ``organisation_entity`` only the entities meeting the
    map's bounds are loaded (national publishers such as Natural England cover all England)."""

    dataset: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="planning.data name.")
    slug: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="The catalogue's slug.")
    title: str = Field(min_length=2)
    abstract: str = Field(min_length=10)
    theme: THEMES
    licence: str = Field(min_length=2)
    attribution: str = Field(min_length=2)
    geometry_type: Literal["point", "polygon"]
    min_zoom: int = Field(default=0, ge=0, le=22)
    keywords: list[str] = Field(default_factory=list)
    fields: list[NationalField] = Field(
        default_factory=list, description="Properties besides the ones every entity has."
    )
    style: dict = Field(default_factory=dict)
    organisation_entity: int | None = Field(default=None, ge=1)

    @property
    def field_schema(self) -> list[dict]:
        return NATIONAL_FIELDS + [field.model_dump() for field in self.fields]

    @model_validator(mode="after")
    def _style(self) -> "NationalDataset":
        try:
            style = style_parse(self.style, fields=[f["name"] for f in self.field_schema])
        except StyleError as error:
            raise ValueError(f"style: {error}") from None
        if not self.style:
            raise ValueError("style: give each national dataset a colour of its own")
        for colour, label in style_legend(style, default_colour=MAP_BACKGROUND):
            ratio = contrast_ratio(colour, MAP_BACKGROUND)
            if ratio < 3:
                raise ValueError(
                    f"style: {colour}{f' ({label})' if label else ''} has contrast "
                    f"{ratio:.2f}:1 on the map's white; WCAG 2.2 AA needs 3:1 for graphics"
                )
        return self


class NationalSources(_Strict):
    """planning.data.gov.uk datasets set up, switched off, for a platform admin to switch on."""

    owner: str = Field(pattern=r"^[a-z0-9-]+$", description="The organisation listing them.")
    service: str = Field(default="https://www.planning.data.gov.uk", pattern=r"^https?://\S+$")
    datasets: list[NationalDataset] = Field(default_factory=list)

    @model_validator(mode="after")
    def _distinct(self) -> "NationalSources":
        for name in ("slug", "dataset"):
            values = [getattr(entry, name) for entry in self.datasets]
            if len(values) != len(set(values)):
                raise ValueError(f"datasets: each {name} must appear once")
        return self


class Profile(_Strict):
    authority: Authority
    branding: Branding
    map: MapSettings
    areas: list[Area] = Field(min_length=1)
    organisations: list[Organisation] = Field(min_length=1)
    national: NationalSources | None = None
    search: SearchSettings = Field(default_factory=SearchSettings)

    @model_validator(mode="after")
    def _consistent(self) -> "Profile":
        codes = [area.code for area in self.areas]
        if len(codes) != len(set(codes)):
            raise ValueError("areas: each code must appear once")
        slugs = [organisation.slug for organisation in self.organisations]
        if len(slugs) != len(set(slugs)):
            raise ValueError("organisations: each slug must appear once")
        for index, organisation in enumerate(self.organisations):
            if organisation.area and organisation.area not in codes:
                raise ValueError(
                    f"organisations.{index}.area: {organisation.area} is not one of the areas"
                )
        if self.national and self.national.owner not in slugs:
            raise ValueError(
                f"national.owner: {self.national.owner} is not one of the organisations"
            )
        return self

    def organisation_for_email(self, email: str) -> Organisation | None:
        domain = email.rsplit("@", 1)[-1].lower()
        for organisation in self.organisations:
            if domain in organisation.email_domains:
                return organisation
        return None


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile; raise ImproperlyConfigured naming the file and field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ImproperlyConfigured(
            f"AUTHORITY_PROFILE {path} cannot be read: {error.strerror}."
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ImproperlyConfigured(
            f"AUTHORITY_PROFILE {path} is not valid TOML: {error}."
        ) from None
    try:
        return Profile.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or '(top level)'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ImproperlyConfigured(f"AUTHORITY_PROFILE {path} is invalid: {problems}.") from None
