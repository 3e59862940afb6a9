"""Accounts made by admins before sign-in moved to django-allauth: their addresses were vouched
for by the admin, so they are recorded as verified (allauth requires a verified address)."""

from django.db import migrations


def addresses_create(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    for user in User.objects.exclude(email="").filter(emailaddress__isnull=True):
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_organisation_requires_approval_registration"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(addresses_create, migrations.RunPython.noop)]
