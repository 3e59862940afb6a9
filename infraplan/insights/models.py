from django.db import models


class UsageRecord(models.Model):
    """One request, kept cheaply for KPIs: no address, no query string, no user agent.

    ``visitor`` is a keyed hash of the client address and user agent that changes every day, so
    daily unique visitors can be counted but nobody can be followed across days.
    """

    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=60, help_text="The route's name, e.g. 'tile' or 'map'.")
    method = models.CharField(max_length=8)
    dataset = models.CharField(max_length=80, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField()
    visitor = models.CharField(max_length=16)

    class Meta:
        indexes = [models.Index(fields=["kind", "at"]), models.Index(fields=["dataset", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.method} {self.kind} {self.status}"
