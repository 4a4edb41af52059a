-- Audit store, schema version 1 (SQLite): the append-only triggers. Every
-- UPDATE and DELETE on each audit table is refused (RAISE(ABORT), which the
-- SQL layer reports as ABORTED), so the log is append-only through SQL short
-- of dropping the triggers; the log's start-up recomputation catches what
-- follows such tampering. SqlLogStorage::Init runs this after 0001_log.sql at
-- every open (IF NOT EXISTS), so dropped triggers come back. One trigger per
-- table and statement kind; PostgreSQL: 0001_append_only.postgres.sql.

CREATE TRIGGER IF NOT EXISTS audit_entries_no_update BEFORE UPDATE ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_idempotency_keys_no_update BEFORE UPDATE ON audit_idempotency_keys BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_idempotency_keys_no_delete BEFORE DELETE ON audit_idempotency_keys BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_heads_no_update BEFORE UPDATE ON audit_heads BEGIN SELECT RAISE(ABORT, 'signed tree heads are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_heads_no_delete BEFORE DELETE ON audit_heads BEGIN SELECT RAISE(ABORT, 'signed tree heads are append-only'); END;
