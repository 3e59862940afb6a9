"""The feature store: datasets, their published versions, and their features.

See docs/architecture.md, "Feature store and versions", for the version model: a feature row is
valid from the version that introduced it until the version that replaced or removed it.
"""

from django.contrib.gis.db import models as gis_models
from django.contrib.gis.db.models.functions import Transform
from django.contrib.postgres.indexes import GistIndex
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from infraplan.accounts.models import Organisation

from .access import DatasetQuerySet

_NOT_ANNOTATED = object()


class Theme(models.TextChoices):
    HOUSING_GROWTH = "housing-growth", "Housing growth"
    EDUCATION = "education", "Education"
    HEALTH = "health", "Health"
    TRANSPORT = "transport", "Transport"
    UTILITIES = "utilities", "Utilities"
    GREEN_INFRASTRUCTURE = "green-infrastructure", "Green infrastructure"
    FLOOD = "flood", "Flood"
    COMMUNITY = "community", "Community"
    DESIGNATIONS = "designations", "Designations and constraints"
    BOUNDARIES = "boundaries", "Boundaries"
    DEMOGRAPHICS = "demographics", "Demographics"


class AccessLevel(models.TextChoices):
    PUBLIC = "public", "Public: anyone, without signing in"
    SIGNED_IN = "signed_in", "Anyone signed in"
    ORGANISATIONS = "organisations", "Named organisations only"


class GeometryType(models.TextChoices):
    POINT = "point", "Points"
    LINE = "line", "Lines"
    POLYGON = "polygon", "Polygons"
    NONE = "none", "No geometry (a table)"


class UpdateFrequency(models.TextChoices):
    """ISO 19115 maintenance frequency codes, as UK GEMINI uses them."""

    CONTINUAL = "continual", "Continual"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    BIANNUALLY = "biannually", "Twice a year"
    ANNUALLY = "annually", "Annually"
    AS_NEEDED = "asNeeded", "As needed"
    IRREGULAR = "irregular", "Irregular"
    NOT_PLANNED = "notPlanned", "Not planned"
    UNKNOWN = "unknown", "Unknown"


class Dataset(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    abstract = models.TextField()
    theme = models.CharField(max_length=40, choices=Theme.choices)
    owner = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="datasets")
    access_level = models.CharField(
        max_length=20, choices=AccessLevel.choices, default=AccessLevel.SIGNED_IN
    )
    shared_with = models.ManyToManyField(
        Organisation,
        blank=True,
        related_name="datasets_shared_with",
        help_text="For 'named organisations only': who besides the owner may see it.",
    )
    contributing_organisations = models.ManyToManyField(
        Organisation,
        blank=True,
        related_name="datasets_contributed_to",
        help_text="Organisations whose contributors may add their own features.",
    )
    licence = models.CharField(max_length=200)
    attribution = models.TextField()
    lineage = models.TextField()
    update_frequency = models.CharField(
        max_length=20, choices=UpdateFrequency.choices, default=UpdateFrequency.UNKNOWN
    )
    geometry_type = models.CharField(max_length=10, choices=GeometryType.choices)
    field_schema = models.JSONField(
        default=list,
        blank=True,
        help_text="List of {name, type, title} describing the features' properties.",
    )
    min_zoom = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(22)])
    keywords = models.JSONField(default=list, blank=True, help_text="Free-text keywords.")
    temporal_start = models.DateField(
        null=True, blank=True, help_text="Start of the period the data describe."
    )
    temporal_end = models.DateField(
        null=True, blank=True, help_text="End of the period the data describe."
    )
    reference_date = models.DateField(
        null=True, blank=True, help_text="When the source was published or last revised."
    )
    source_format = models.CharField(
        max_length=40, blank=True, help_text="The source's format, e.g. GeoJSON or CSV."
    )
    style = models.JSONField(
        default=dict,
        blank=True,
        help_text="How the map draws it: see infraplan.catalogue.styles (simple, categorised, "
        "graduated).",
    )
    label_field = models.CharField(
        max_length=80, blank=True, help_text="The property the map uses as a label, if any."
    )
    source_key = models.CharField(
        max_length=40,
        default="store",
        help_text="The registered FeatureSource that serves this dataset's features.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Withdrawn (published in error, or superseded): seen only by those who manage it, loaded
    # by nobody, until restored. Set and cleared only by ``services.dataset_withdraw`` and
    # ``dataset_restore``; each is in the audit log, which keeps every earlier withdrawal.
    withdrawn_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was withdrawn (empty: it is not)."
    )
    withdrawn_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    withdrawal_reason = models.TextField(blank=True, help_text="Why it was withdrawn.")
    part_codes = models.JSONField(
        default=dict,
        blank=True,
        help_text="For a dataset several organisations publish, how its sources name each "
        "row's publisher: {'field': the field naming it, 'codes': {its value: the "
        "organisation's slug}} (a brownfield register's 'local-authority-eng:DOV' is dover).",
    )

    objects = DatasetQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(condition=Q(min_zoom__lte=22), name="dataset_min_zoom_range"),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | ~Q(withdrawal_reason=""),
                name="dataset_withdrawn_with_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    @property
    def is_spatial(self) -> bool:
        """Whether its features have geometry: a table (``GeometryType.NONE``) has none."""
        return self.geometry_type != GeometryType.NONE

    @property
    def is_public(self) -> bool:
        """Whether anyone may see it, signed in or not: public and not withdrawn. What decides
        whether an answer made from it may be kept by shared caches, and whether reading it is
        a read of restricted data."""
        return self.access_level == AccessLevel.PUBLIC and self.withdrawn_at is None

    @property
    def current_version(self) -> "DatasetVersion | None":
        return self.versions.filter(is_current=True).first()

    def current_version_number(self) -> int:
        """The current version's number (0 before the first publish). Uses the number annotated
        by ``DatasetQuerySet.with_current_version_number`` when the row was read with it, which
        saves hot paths such as tiles a query."""
        annotated = getattr(self, "annotated_current_version", _NOT_ANNOTATED)
        if annotated is not _NOT_ANNOTATED:
            return annotated or 0
        # Only the number: the row's report holds up to 10,000 problems.
        number = self.versions.filter(is_current=True).values_list("number", flat=True).first()
        return number or 0


class VersionState(models.TextChoices):
    DRAFT = "draft", "Being loaded"
    PUBLISHED = "published", "Published"
    FAILED = "failed", "Failed (never published)"


class DatasetVersion(models.Model):
    """One load or rollback of a dataset. Exactly one published version per dataset is current."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    state = models.CharField(
        max_length=10, choices=VersionState.choices, default=VersionState.DRAFT
    )
    is_current = models.BooleanField(default=False)
    source = models.CharField(max_length=500, help_text="File name or address it came from.")
    source_checksum = models.CharField(max_length=64, blank=True)
    rolled_back_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For a rollback: the version whose content this one restores.",
    )
    organisation = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For a dataset with several publishers: the one whose part this load replaces "
        "(empty: the load replaces the whole dataset).",
    )
    feature_count = models.PositiveIntegerField(null=True, blank=True)
    extent = models.JSONField(
        null=True,
        blank=True,
        help_text="The bounding boxes of the version's features, measured when it was published: "
        '{"bng": [min x, min y, max x, max y], "wgs84": [...]}, each null when no feature has a '
        "geometry (empty: not measured).",
    )
    report = models.JSONField(
        default=dict, blank=True, help_text="What the load found: counts, flagged rows, errors."
    )
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Set by ``problem_retention.version_problems_expire`` alone, on a load never published.
    problems_removed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When its stored problems were deleted, LOAD_PROBLEMS_KEPT_DAYS after a load "
        "that was not published; its pages then list those its report keeps (empty: never).",
    )

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="version_number_unique"),
            models.UniqueConstraint(
                fields=["dataset"], condition=Q(is_current=True), name="one_current_version"
            ),
            models.CheckConstraint(
                condition=Q(is_current=False) | Q(state="published"),
                name="current_version_is_published",
            ),
            # A published version's problems are the evidence of what was published.
            models.CheckConstraint(
                condition=Q(problems_removed_at__isnull=True) | ~Q(state="published"),
                name="published_version_keeps_problems",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dataset} v{self.number}"


class VersionProblem(models.Model):
    """One problem a load found with a row of its source: every one it found, where the
    version's report keeps only the first ``ingest_rows.REPORT_PROBLEMS_KEPT`` (its pages and
    notifications read the report, which must stay small). Written by the load in bulk, with
    its row's reference, whether the load publishes, is rejected or fails; read in row and
    field order by the report's page and CSV (``selectors.version_problems``). Those of a load
    never published are deleted ``LOAD_PROBLEMS_KEPT_DAYS`` after it (``problem_retention``)."""

    # No index of its own: the order index begins with it.
    version = models.ForeignKey(
        DatasetVersion, on_delete=models.CASCADE, related_name="problems", db_index=False
    )
    row = models.PositiveIntegerField(help_text="1-based, in the source's order.")
    reference = models.TextField(blank=True, help_text="The row's reference, where it has one.")
    # Compared character by character ("C"), as the report sorts its problems, not as a
    # language's collation would.
    field = models.TextField(db_collation="C")
    value = models.TextField(blank=True)
    problem = models.TextField()

    class Meta:
        indexes = [
            models.Index(fields=["version", "row", "field", "id"], name="version_problem_order")
        ]

    def __str__(self) -> str:
        return f"{self.version} row {self.row}, {self.field}"


class Feature(models.Model):
    """One real-world thing in one dataset, valid over a range of the dataset's versions.

    Identity is (dataset, organisation, reference). Geometry is stored in EPSG:27700; the
    EPSG:3857 copy is generated by the database and feeds vector tiles (see docs/architecture.md).

    The table is partitioned by dataset (migration 0006, ``partitions``): its primary key in the
    database is (id, dataset), as PostgreSQL requires of a partitioned table, and ids stay
    unique across datasets, as they come from one sequence.
    """

    # No index of its own: the validity, reference and identity indexes all begin with it, and
    # every index costs each load's inserts.
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="features", db_index=False
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=200)
    properties = models.JSONField(default=dict)
    # Spatial indexes are the partial ones in Meta (live rows only), not GeoDjango's default.
    geom = gis_models.GeometryField(srid=27700, null=True, blank=True, spatial_index=False)
    geom_3857 = models.GeneratedField(
        expression=Transform("geom", 3857),
        output_field=gis_models.GeometryField(srid=3857, null=True),
        db_persist=True,
    )
    district = models.CharField(
        max_length=9,
        blank=True,
        help_text="GSS code of the district it lies in: the source's own code, else by geometry.",
    )
    ward = models.CharField(
        max_length=9, blank=True, help_text="GSS code of the ward it lies in, by geometry."
    )
    valid_from = models.PositiveIntegerField(help_text="Version number that introduced this row.")
    valid_to = models.PositiveIntegerField(
        null=True, blank=True, help_text="Version number that replaced or removed it; null if live."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "organisation", "reference", "valid_from"],
                name="feature_identity_per_version",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="feature_validity_ordered",
            ),
        ]
        indexes = [
            GistIndex(
                fields=["geom_3857"],
                condition=Q(valid_to__isnull=True),
                name="feature_live_geom_3857",
            ),
            GistIndex(
                fields=["geom"], condition=Q(valid_to__isnull=True), name="feature_live_geom"
            ),
            models.Index(fields=["dataset", "valid_from", "valid_to"], name="feature_validity"),
            models.Index(fields=["dataset", "reference"], name="feature_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.reference}"


class FeatureGeneralisation(models.Model):
    """A feature's geometry simplified for display at one zoom level.

    Polygon datasets that tile the ground (districts, wards) are simplified as a coverage, so
    neighbours keep sharing their edges and no slivers open between them at small scales.
    """

    # The feature table's key is (id, dataset): the foreign key is on both columns, made by
    # migration 0006 (Django's cannot span two).
    feature = models.ForeignKey(
        Feature, on_delete=models.CASCADE, related_name="generalisations", db_constraint=False
    )
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    zoom = models.PositiveSmallIntegerField()
    geom_3857 = gis_models.GeometryField(srid=3857, spatial_index=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feature", "zoom"], name="one_generalisation_per_zoom")
        ]

    def __str__(self) -> str:
        return f"{self.feature_id} at zoom {self.zoom}"
