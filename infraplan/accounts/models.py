"""Users, organisations and their memberships.

A user belongs to organisations with a role each; platform admins (``is_superuser``) stand
above every organisation. What a role may do with a dataset is decided in one place:
``infraplan.catalogue.access``.
"""

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models


class Role(models.TextChoices):
    """Roles in ascending order of power; each includes what the ones before it may do."""

    VIEWER = "viewer", "Viewer"
    CONTRIBUTOR = "contributor", "Contributor"
    DATA_MANAGER = "data_manager", "Data manager"
    ORG_ADMIN = "org_admin", "Organisation admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def includes(self, other: "Role") -> bool:
        return self.rank >= Role(other).rank


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields["is_staff"] = True
        fields["is_superuser"] = True
        return self._create(email, password, **fields)


class User(AbstractUser):
    """A person who signs in with their work email address."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_guide_editor = models.BooleanField(
        "guide editor",
        default=False,
        help_text="May write and change the help guides, whatever their organisation role.",
    )

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @property
    def is_platform_admin(self) -> bool:
        return self.is_active and self.is_superuser

    @property
    def can_edit_guides(self) -> bool:
        """The editor permission: may write and change the help guides (platform admins may)."""
        return self.is_active and (self.is_guide_editor or self.is_superuser)


class OrganisationKind(models.TextChoices):
    COUNTY = "county", "County council"
    DISTRICT = "district", "District or borough council"
    UNITARY = "unitary", "Unitary authority"
    HEALTH = "health", "Health body"
    OTHER = "other", "Other organisation"


class Organisation(models.Model):
    """A body whose officers use the platform; kept in step with the authority profile."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=OrganisationKind.choices)
    area_code = models.CharField(
        "area (GSS code)", max_length=9, blank=True, help_text="The ONS code of its area, if any."
    )
    email_domains = models.JSONField(default=list, blank=True)
    requires_approval = models.BooleanField(
        default=True,
        help_text="New accounts wait for an admin's approval; if not, a verified email is enough.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="one_membership_per_org")
        ]
        ordering = ["organisation__name"]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} of {self.organisation}"


class RegistrationStatus(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Registration(models.Model):
    """A person's request to join an organisation, and the admin's decision on it.

    ``via`` says how they arrived: ``local`` (registered with a password) or ``sso:<provider>``.
    While a registration is pending or rejected its user is inactive, so every way of signing
    in refuses them.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="registrations")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="registrations"
    )
    via = models.CharField(max_length=100)
    status = models.CharField(
        max_length=20, choices=RegistrationStatus.choices, default=RegistrationStatus.PENDING
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status="pending"),
                name="one_pending_registration_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user.email} to {self.organisation} ({self.get_status_display()})"

    @property
    def via_label(self) -> str:
        if self.via == "local":
            return "Registered with a password"
        return f"Single sign-on ({self.via.removeprefix('sso:')})"
