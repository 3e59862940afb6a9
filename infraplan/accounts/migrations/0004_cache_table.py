"""The database cache's table (settings.CACHES), where lockouts and rate limits are counted."""

from django.core.management import call_command
from django.db import migrations

TABLE = "infraplan_cache"


def table_create(apps, schema_editor):
    call_command("createcachetable", TABLE, database=schema_editor.connection.alias, verbosity=0)


def table_drop(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_verified_email_addresses")]

    operations = [migrations.RunPython(table_create, table_drop)]
