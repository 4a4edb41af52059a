-- Audit store, schema version 9 (SQLite): the append-only triggers of the
-- signing keys (0009_signing_keys.sql), as 0001_append_only.sqlite.sql
-- makes them for the log's other tables. PostgreSQL:
-- 0009_append_only.postgres.sql.

CREATE TRIGGER IF NOT EXISTS audit_signing_keys_no_update BEFORE UPDATE ON audit_signing_keys BEGIN SELECT RAISE(ABORT, 'signed tree heads are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_signing_keys_no_delete BEFORE DELETE ON audit_signing_keys BEGIN SELECT RAISE(ABORT, 'signed tree heads are append-only'); END;
