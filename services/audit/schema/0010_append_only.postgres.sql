-- Audit store, schema version 10 (PostgreSQL): the append-only triggers of
-- the query index by identifier set (0010_child_sets.sql), calling
-- 0001_append_only.postgres.sql's audit_append_only(). SQLite:
-- 0010_append_only.sqlite.sql.

CREATE OR REPLACE TRIGGER audit_child_sets_append_only BEFORE UPDATE OR DELETE ON audit_child_sets FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_child_set_members_append_only BEFORE UPDATE OR DELETE ON audit_child_set_members FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_entry_child_sets_append_only BEFORE UPDATE OR DELETE ON audit_entry_child_sets FOR EACH ROW EXECUTE FUNCTION audit_append_only();
