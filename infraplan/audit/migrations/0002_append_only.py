from django.db import migrations

FORBID = """
CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_entry_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_auditentry
    FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only();
"""

ALLOW = """
DROP TRIGGER audit_entry_no_update_or_delete ON audit_auditentry;
DROP FUNCTION audit_entry_append_only();
"""


class Migration(migrations.Migration):
    """The audit table refuses UPDATE and DELETE of its rows, whatever the application does.

    TRUNCATE stays possible for the table's owner (test databases are flushed with it); in
    production the runtime role should not own the table (see docs/architecture.md, "Audit").
    """

    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunSQL(FORBID, ALLOW)]
