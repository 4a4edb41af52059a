-- Audit store, schema version 8 (SQLite): the append-only triggers of the
-- principals (0008_principals.sql), as 0001_append_only.sqlite.sql makes them
-- for the log's other tables. PostgreSQL: 0008_append_only.postgres.sql.

CREATE TRIGGER IF NOT EXISTS audit_principals_no_update BEFORE UPDATE ON audit_principals BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_principals_no_delete BEFORE DELETE ON audit_principals BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
