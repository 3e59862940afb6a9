from allauth.account.models import EmailAddress
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group

from infraplan.audit.admin import AuditedModelAdmin
from infraplan.audit.security import security_event
from infraplan.tokens.services import user_deactivate

from .models import Membership, Organisation, User

# Access is by organisation roles (Membership), never by Django's groups and permissions: a
# group made here would do nothing.
admin.site.unregister(Group)


class MembershipInline(admin.StackedInline):
    """A person's memberships, stacked so that each field has its own label: a tabular inline's
    fields are named only by its column headings, which assistive technology does not tie to
    them (WCAG 1.3.1, 4.1.2), and its autocomplete's box is named by nothing until a choice is
    made."""

    model = Membership
    extra = 1


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email", "full_name"]


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(AuditedModelAdmin, DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    inlines = [MembershipInline]
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_superuser", "last_login"]
    list_filter = ["is_active", "is_superuser", "is_guide_editor", "memberships__organisation"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["full_name"]}),
        (
            "Platform access",
            {
                "fields": ["is_active", "is_staff", "is_superuser", "is_guide_editor"],
                "description": "Platform admins have both 'staff' and 'superuser' ticked "
                "(and may edit the guides without 'guide editor').",
            },
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "full_name", "password1", "password2"]})
    ]
    readonly_fields = ["last_login", "date_joined"]
    filter_horizontal: list[str] = []

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if not change:  # the admin vouches for the address, as user_create does
            EmailAddress.objects.create(user=obj, email=obj.email, primary=True, verified=True)
        elif "is_active" in form.changed_data and not obj.is_active:
            # Deactivation also revokes the person's API tokens and ends their sessions.
            user_deactivate(user=obj, actor=request.user, request=request)

    def save_formset(self, request, form, formset, change) -> None:
        """Memberships given, changed or ended here are security events, as through the
        services (``membership_set``, ``membership_leave``)."""
        if formset.model is not Membership:
            super().save_formset(request, form, formset, change)
            return
        user = form.instance
        roles_before = _roles_by_organisation(user)
        super().save_formset(request, form, formset, change)
        roles_after = _roles_by_organisation(user)
        for organisation in sorted(roles_before.keys() | roles_after.keys()):
            before, after = roles_before.get(organisation), roles_after.get(organisation)
            if before != after:
                security_event(
                    "role.changed", request=request, subject_id=user.pk, subject=user.email,
                    organisation=organisation, before=before, after=after, via="admin",
                )  # fmt: skip


def _roles_by_organisation(user: User) -> dict[str, str]:
    return dict(user.memberships.values_list("organisation__slug", "role"))


@admin.register(Organisation)
class OrganisationAdmin(AuditedModelAdmin):
    list_display = ["name", "kind", "area_code", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "slug", "area_code"]
    readonly_fields = ["slug"]
