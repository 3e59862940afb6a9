"""The ``url`` connector: a GeoJSON or CSV file (or any other file an upload may be) published
at an address, downloaded into the load's scratch folder and read exactly as an upload is."""

import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator

from ..base import Connector, ConnectorConfig, FeatureBatch, SourceContext, http_address
from ..credentials import CredentialKind
from ..fetch import address_shown
from ..registry import connector_register
from ..remote import remote_get
from ..upload import UploadConfig, UploadConnector

_SAFE_SUFFIXES = {".geojson", ".json", ".csv", ".gpkg", ".fgb", ".zip", ".xlsx"}


class URLConfig(ConnectorConfig):
    form_fields: ClassVar[tuple[str, ...]] = ("url", "layer")

    url: str = Field(
        title="File address",
        description="The file's http or https address: GeoJSON, CSV, GeoPackage, FlatGeobuf, "
        "a zipped Shapefile or XLSX.",
    )
    layer: str | None = Field(
        default=None, max_length=200, title="Layer name (optional)",
        description="For a file holding several: the GeoPackage layer, the workbook sheet (as its tab shows it) or the Shapefile in the zip to load.",
    )  # fmt: skip
    batch_size: int = Field(default=50_000, ge=1)

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        http_address(url)
        return url


def _local_name(url: str) -> str:
    """A file name for the download: the address's own suffix where it is a data format GDAL
    knows (the upload reader recognises the content either way), never a path from the URL."""
    suffix = PurePosixPath(unquote(urlsplit(url).path)).suffix.lower()
    return f"download{suffix if suffix in _SAFE_SUFFIXES else ''}"


@connector_register
class URLConnector(Connector):
    key = "url"
    title = "File at an address"
    Config = URLConfig
    credential_kinds = (CredentialKind.BASIC, CredentialKind.HEADER)

    def describe(self, config: URLConfig) -> str:
        return address_shown(config.url) + (f" (layer {config.layer})" if config.layer else "")

    def batches(self, config: URLConfig, context: SourceContext) -> Iterator[FeatureBatch]:
        context.progress(0, "fetching")
        download = Path(context.workdir) / "download"
        download.mkdir(parents=True, exist_ok=True)
        # Written to disk as it arrives; named once the address after any redirect is known.
        with tempfile.NamedTemporaryFile(dir=download, delete=False) as file:
            result = remote_get(config.url, context, into=file)
        path = Path(file.name).rename(download / _local_name(result.url))
        reading = Path(context.workdir) / "read"
        reading.mkdir(exist_ok=True)
        upload = UploadConfig(path=str(path), layer=config.layer, batch_size=config.batch_size)
        yield from UploadConnector().batches(upload, replace(context, workdir=reading))
