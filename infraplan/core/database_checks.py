"""System checks of the database itself, tagged ``database``: Django runs them only for a command
that names a database, as ``infraplan migrate`` does (and ``infraplan check --database default``),
before the command touches it.

Their ids run from ``infraplan.E101``, apart from the configuration checks' (``checks.py``).
"""

from django.core import checks
from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper


class _TrialOver(Exception):
    """Ends the trial's transaction, so that nothing it created stays."""


def postgis_creatable(connection: BaseDatabaseWrapper) -> list[checks.CheckMessage]:
    """An error when PostGIS is not installed in the database and the connected role cannot
    create it; none when it is installed or can be.

    Without PostGIS, ``migrate`` has Django create it, and a role that may not ends the command
    in a long traceback. PostGIS is not a trusted extension: on a server of the authority's own
    only a superuser may create it. Managed services (Azure, Amazon RDS, Cloud SQL) let an
    administrative role that is not a superuser create it too, so whether the role is a
    superuser cannot tell: the check creates PostGIS in a transaction it rolls back, and
    reports what the server said.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'postgis')")
        if cursor.fetchone()[0]:
            return []
        cursor.execute("SELECT current_database(), current_user")
        database, role = cursor.fetchone()
    try:
        with transaction.atomic(using=connection.alias):
            with connection.cursor() as cursor:
                cursor.execute("CREATE EXTENSION postgis")
            raise _TrialOver
    except _TrialOver:
        return []
    except DatabaseError as error:
        refusal = str(error).splitlines()[0]
    return [
        checks.Error(
            f"PostGIS is not installed in the database {database}, and the role {role} cannot "
            f"create it ({refusal}). PostGIS is not a trusted extension: only a superuser (or a "
            "managed service's administrative role) may create it.",
            hint=f"Have a superuser run CREATE EXTENSION postgis; in the database {database} "
            f"(on the database server: sudo -u postgres psql -d {database} -c "
            "'CREATE EXTENSION postgis;'), then run this again. Where the server says the "
            "extension is not available, install PostGIS for it first (Debian and Ubuntu: "
            'postgresql-<version>-postgis-3). See docs/deployment.md, "The database".',
            id="infraplan.E101",
        )
    ]


@checks.register(checks.Tags.database)
def postgis_installed(app_configs, databases=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for alias in databases or []:
        errors.extend(postgis_creatable(connections[alias]))
    return errors
