"""Make ``feature_live_geom`` the partial index (live rows only) that 0001 declares.

Django's PostGIS schema editor drops an index's condition when the index is on one geometry
field (Django ticket #36694, PostGISSchemaEditor._create_spatial_index_sql), so 0001 made it
over every row, history included. The migration state already says partial; only the database
changes here.
"""

from django.db import migrations

PARTIAL = (
    "DROP INDEX IF EXISTS feature_live_geom;"
    "CREATE INDEX feature_live_geom ON catalogue_feature USING gist (geom) "
    "WHERE valid_to IS NULL;"
)
WHOLE = (
    "DROP INDEX IF EXISTS feature_live_geom;"
    "CREATE INDEX feature_live_geom ON catalogue_feature USING gist (geom);"
)


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0004_feature_fewer_indexes")]

    operations = [migrations.RunSQL(PARTIAL, reverse_sql=WHOLE)]
