-- Audit store, schema version 10 (SQLite): the append-only triggers of the
-- query index by identifier set (0010_child_sets.sql), as
-- 0001_append_only.sqlite.sql makes them for the log's other tables.
-- PostgreSQL: 0010_append_only.postgres.sql.

CREATE TRIGGER IF NOT EXISTS audit_child_sets_no_update BEFORE UPDATE ON audit_child_sets BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_child_sets_no_delete BEFORE DELETE ON audit_child_sets BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_child_set_members_no_update BEFORE UPDATE ON audit_child_set_members BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_child_set_members_no_delete BEFORE DELETE ON audit_child_set_members BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_entry_child_sets_no_update BEFORE UPDATE ON audit_entry_child_sets BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_entry_child_sets_no_delete BEFORE DELETE ON audit_entry_child_sets BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
