-- Audit store, schema version 5 (SQLite): the append-only triggers of the
-- child pseudonyms' numbers (0005_child_index.sql), as 0001_append_only.sqlite.sql
-- makes them for the log's other tables. PostgreSQL:
-- 0005_append_only.postgres.sql.

CREATE TRIGGER IF NOT EXISTS audit_children_no_update BEFORE UPDATE ON audit_children BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_children_no_delete BEFORE DELETE ON audit_children BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
