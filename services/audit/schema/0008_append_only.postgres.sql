-- Audit store, schema version 8 (PostgreSQL): the append-only trigger of the
-- principals (0008_principals.sql), calling 0001_append_only.postgres.sql's
-- audit_append_only(). SQLite: 0008_append_only.sqlite.sql.

CREATE OR REPLACE TRIGGER audit_principals_append_only BEFORE UPDATE OR DELETE ON audit_principals FOR EACH ROW EXECUTE FUNCTION audit_append_only();
