-- Audit store, schema version 9 (PostgreSQL): the append-only trigger of the
-- signing keys (0009_signing_keys.sql), calling
-- 0001_append_only.postgres.sql's audit_append_only(). SQLite:
-- 0009_append_only.sqlite.sql.

CREATE OR REPLACE TRIGGER audit_signing_keys_append_only BEFORE UPDATE OR DELETE ON audit_signing_keys FOR EACH ROW EXECUTE FUNCTION audit_append_only();
