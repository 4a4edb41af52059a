-- Audit store, schema version 1 (PostgreSQL): the append-only triggers. One
-- function refuses every UPDATE and DELETE (RAISE EXCEPTION), and one trigger
-- per audit table calls it, so the log is append-only through SQL short of
-- dropping the triggers; the log's start-up recomputation catches what
-- follows such tampering. SqlLogStorage::Init runs this after 0001_log.sql at
-- every open (CREATE OR REPLACE), so dropped triggers come back, in the same
-- statement batch as the tables. The function body is dollar-quoted ($$),
-- which the SQL layer passes through untouched. SQLite:
-- 0001_append_only.sqlite.sql.

CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END $$ LANGUAGE plpgsql;
CREATE OR REPLACE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_idempotency_keys_append_only BEFORE UPDATE OR DELETE ON audit_idempotency_keys FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_heads_append_only BEFORE UPDATE OR DELETE ON audit_heads FOR EACH ROW EXECUTE FUNCTION audit_append_only();
