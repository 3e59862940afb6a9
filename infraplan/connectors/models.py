"""Where a dataset's data comes from (``Source``) and each attempt to load it (``IngestRun``).

A source names a connector by its key, the connector's configuration, how its columns map onto
the dataset (an ``IngestMapping``) and when to refresh it. Every load, scheduled, asked for on
a page or from the command line, is an ``IngestRun``: the page shows its stage and rows while it
runs (written through a separate connection, see ``run_execution.RunProgress``) and its outcome
after.
"""

from django.db import models
from django.db.models import Q

from .base import ConnectorError
from .registry import (
    ROLLBACK_KEY,
    connector_config,
    connector_for,
    connector_has_settings,
    connector_title,
)

# The named schedules (schedules.SCHEDULES gives their cron expressions) in words.
SCHEDULE_NAMES = {
    "": "By hand only: a data manager presses Refresh now",
    "daily": "Every day, at 2am (UTC)",
    "weekly": "Every week, on Mondays at 2am (UTC)",
    "monthly": "Every month, on the 1st at 2am (UTC)",
}


class Source(models.Model):
    """A dataset's source, or one organisation's part of it (brownfield registers: one per
    council). Configuration and mapping are validated by ``sources.source_save``."""

    dataset = models.ForeignKey(
        "catalogue.Dataset", on_delete=models.CASCADE, related_name="sources"
    )
    organisation = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The publisher whose part of the dataset this source replaces "
        "(empty: the whole dataset).",
    )
    connector_key = models.CharField(max_length=40)
    config = models.JSONField(default=dict, blank=True)
    mapping = models.JSONField(default=dict, help_text="An IngestMapping: rename, constants ...")
    schedule = models.CharField(
        max_length=100,
        blank=True,
        help_text="Empty (by hand only), daily, weekly, monthly, or a cron expression "
        "(minute hour day-of-month month day-of-week, in UTC).",
    )
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run = models.ForeignKey(
        "IngestRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The source's credentials, kept apart from its config (which each run copies and the audit
    # log records): encrypted (``credentials.credentials_encrypt``), set and removed only by
    # ``sources.source_save``. The kind, and who entered them when, are not secret: the form
    # shows them, even when the key has changed and the secret can no longer be read.
    credentials_encrypted = models.TextField(blank=True)
    credentials_kind = models.CharField(max_length=20, blank=True)
    credentials_set_at = models.DateTimeField(null=True, blank=True)
    credentials_set_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["dataset", "organisation"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "organisation"],
                nulls_distinct=False,
                name="one_source_per_dataset_part",
            ),
        ]
        indexes = [
            models.Index(fields=["next_run_at"], condition=Q(enabled=True), name="source_due_idx"),
        ]

    def __str__(self) -> str:
        part = f" ({self.organisation})" if self.organisation_id else ""
        return f"{self.dataset}{part} from {self.connector_key}"

    @property
    def schedule_text(self) -> str:
        """When the source is refreshed, in the words the source's form offers."""
        if not self.schedule:
            return "By hand only"
        return SCHEDULE_NAMES.get(
            self.schedule.lower(), f"On the cron expression {self.schedule} (UTC)"
        )

    @property
    def connector_title(self) -> str:
        """The connector's name for people (its key, for one no longer installed)."""
        return connector_title(self.connector_key)

    @property
    def connector_title_in_text(self) -> str:
        """The connector's name within a sentence: "file upload", but "ArcGIS REST layer",
        "OGC API - Features" and "WFS 2.0" as they are written."""
        title = self.connector_title
        first_word = title.split(" ", 1)[0]
        if first_word[:1].isupper() and first_word[1:].islower():
            return title[0].lower() + title[1:]
        return title

    @property
    def has_settings_page(self) -> bool:
        """Whether a data manager changes this source's settings on its page (an upload's
        source has none: each file is uploaded)."""
        return connector_has_settings(self.connector_key)


class RunState(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Loading"
    PUBLISHED = "published", "Published"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


# How the error of a run a person cancelled begins (its source switched off or removed while it
# waited, ``sources.source_loads_cancel``): such a run is failed, and its pages say cancelled.
CANCELLED = "Cancelled: "


# What each stage a run records (``IngestRun.stage``) is called on its pages; a rollback's
# stage ("restoring version 3") is shown as it is.
STAGE_LABELS = {
    "starting": "Starting",
    "fetching": "Fetching from the source",
    "reading": "Reading the file",
    "checking": "Checking the rows",
    "publishing": "Publishing",
    "done": "Finished",
}


class IngestRun(models.Model):
    """One load of a source or of a one-off upload.

    ``rejected``: the data was read and checked but did not pass (too many problem rows, or the
    connector said it cannot be read); ``failed``: the load could not finish (retries used up,
    the worker stopped, an internal error). Either way the version holds the report.
    """

    ACTIVE = (RunState.QUEUED, RunState.RUNNING)
    # Ended without publishing: what the dataset page warns of, and what mails a source's people
    # (``notifications``).
    UNPUBLISHED = (RunState.REJECTED, RunState.FAILED)

    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    dataset = models.ForeignKey(
        "catalogue.Dataset", on_delete=models.CASCADE, related_name="ingest_runs"
    )
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connector_key = models.CharField(max_length=40)
    config = models.JSONField(default=dict, blank=True)
    mapping = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.QUEUED)
    stage = models.CharField(max_length=40, blank=True, help_text="reading, checking, publishing")
    rows_read = models.PositiveBigIntegerField(default=0)
    version = models.ForeignKey(
        "catalogue.DatasetVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The version this run made (its report), once it has one.",
    )
    error = models.TextField(blank=True)
    temporary = models.BooleanField(
        default=False, help_text="The last failure was one a later attempt may get past."
    )
    attempts = models.PositiveIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    job_id = models.BigIntegerField(
        null=True, blank=True, help_text="The task-queue job (none when run from the CLI)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["state"],
                condition=Q(state__in=["queued", "running"]),
                name="run_active_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dataset} run {self.pk} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE

    @property
    def did_not_publish(self) -> bool:
        """Whether the run ended without publishing (rejected or failed); the current version
        is then as it was."""
        return self.state in self.UNPUBLISHED

    @property
    def is_rollback(self) -> bool:
        """Whether the run restores an earlier version (``rollback_request``) in place of
        loading a source."""
        return self.connector_key == ROLLBACK_KEY

    @property
    def stage_label(self) -> str:
        """The stage in words; a run that ended without publishing says where it stopped."""
        if not self.stage:
            return "Not started"
        label = STAGE_LABELS.get(self.stage, self.stage.capitalize())
        if self.state in (RunState.REJECTED, RunState.FAILED) and self.stage != "done":
            return f"Stopped while {label[0].lower()}{label[1:]}"
        return label

    @property
    def source_label(self) -> str:
        """Where the run's data comes from, before its version names the file or address."""
        if self.version_id is not None:
            return self.version.source
        try:
            connector = connector_for(self.connector_key)
            return connector.describe(connector_config(self.connector_key, self.config))
        except ConnectorError:  # a rollback, or settings a connector no longer accepts
            return connector_title(self.connector_key)

    @property
    def noun(self) -> str:
        """What its pages call the run."""
        return "rollback" if self.is_rollback else "load"

    @property
    def cancelled(self) -> bool:
        """Whether a person ended the run before it was (tried again and) done (``CANCELLED``)."""
        return self.state == RunState.FAILED and self.error.startswith(CANCELLED)

    @property
    def state_label(self) -> str:
        """What its pages call its state: a failed run a person cancelled is "Cancelled", and a
        waiting one whose attempt failed is waiting to try again, not to start."""
        if self.cancelled:
            return "Cancelled"
        if self.state == RunState.QUEUED and self.retry_at:
            return "Waiting to try again"
        return self.get_state_display()

    @property
    def rollback_to(self) -> int | None:
        """The number of the version a rollback restores."""
        return self.config.get("version") if self.is_rollback else None
