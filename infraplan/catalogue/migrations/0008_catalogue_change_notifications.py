"""Every change to datasets or their versions notifies ``infraplan_catalogue``.

Web processes keep which layers are public, with their current versions, to answer public tiles
ahead of Django (maps/public_tiles.py), and forget it all on this notification. One notification
per statement (and PostgreSQL sends one per transaction for equal payloads); it is sent when the
transaction commits, so a listener never hears of a change it cannot yet read.
"""

from django.db import migrations

TABLES = ("catalogue_dataset", "catalogue_datasetversion")

CREATE = """
CREATE FUNCTION infraplan_catalogue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('infraplan_catalogue', '');
    RETURN NULL;
END
$$;
""" + "".join(
    f"""
CREATE TRIGGER infraplan_catalogue_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON {table} FOR EACH STATEMENT EXECUTE FUNCTION infraplan_catalogue_changed();
"""
    for table in TABLES
)

DROP = "".join(f"DROP TRIGGER infraplan_catalogue_changed ON {table};" for table in TABLES) + (
    "DROP FUNCTION infraplan_catalogue_changed();"
)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0007_version_extent"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
