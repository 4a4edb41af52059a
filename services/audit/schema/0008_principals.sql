-- Audit store, schema version 8: who made each event, stored once.
-- audit_principals numbers each (agency_kind, agency_code, actor) the log
-- has stored (in the order first stored), and audit_entries.principal_id
-- names it, so an entry's row holds one small integer instead of its
-- agency's code and its actor's name (about 33 bytes an entry under the load
-- benchmark). A query by agency or actor selects the principals first
-- (SqlLogStorage::Query). Like every query column, these are a speed-up:
-- the log re-checks each row it returns against the committed event.
-- Replaces version 1's columns agency_kind, agency_code and actor of
-- audit_entries, which the migration to version 8 numbers here.
--
-- SqlLogStorage::Init runs this at every open (IF NOT EXISTS), after
-- 0005_child_index.sql, then the append-only triggers of its dialect
-- (0008_append_only.<dialect>.sql). Placeholders as in 0001_log.sql.

CREATE TABLE IF NOT EXISTS audit_principals (
  principal_id {SERIAL},
  agency_kind  {INT} NOT NULL,
  agency_code  TEXT NOT NULL,
  actor        TEXT NOT NULL,
  UNIQUE (agency_kind, agency_code, actor)
);
