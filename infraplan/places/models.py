"""Places that search finds but that are not map layers: postcodes, and the record of their loads."""

from django.contrib.gis.db import models as gis_models
from django.db import models


class Postcode(models.Model):
    """A postcode's grid reference, from the ONS Postcode Directory (ONSPD).

    ``postcode`` is normalised: upper case, one space before the inward code (``CT1 2EH``).
    """

    postcode = models.CharField(max_length=8, primary_key=True)
    district = models.CharField(max_length=9, help_text="GSS code of its local authority district.")
    point = gis_models.PointField(srid=27700, spatial_index=False)
    # Django gives a CharField primary key a second, varchar_pattern_ops index as well: the one
    # that finds every postcode of an outward code or sector (LIKE 'CT1 %').

    def __str__(self) -> str:
        return self.postcode


class PostcodeLoad(models.Model):
    """One load of the postcode table: which file (by checksum), how many rows, how long."""

    source = models.CharField(max_length=500)
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the file's bytes.")
    rows = models.PositiveIntegerField()
    seconds = models.FloatField(help_text="How long the load took.")
    loaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-loaded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rows} postcodes from {self.source}"
