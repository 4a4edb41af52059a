-- Audit store, schema version 5 (PostgreSQL): the append-only trigger of
-- the child pseudonyms' numbers (0005_child_index.sql), calling
-- 0001_append_only.postgres.sql's audit_append_only(). SQLite:
-- 0005_append_only.sqlite.sql.

CREATE OR REPLACE TRIGGER audit_children_append_only BEFORE UPDATE OR DELETE ON audit_children FOR EACH ROW EXECUTE FUNCTION audit_append_only();
