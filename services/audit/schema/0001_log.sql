-- Audit store, schema version 1: the log. audit_entries holds each leaf of
-- the RFC 6962 Merkle log (its index, hash and encoded event, plus the
-- columns queries filter on); audit_idempotency_keys maps each append's
-- idempotency key to its leaf; audit_heads holds the signed tree heads in the
-- order they were made. (Version 1's query index by child, the table
-- audit_entry_children of (pseudonym, leaf_index), became schema version 5's
-- audit_children and audit_child_entries (0005_child_index.sql), and those
-- rows schema version 10's query index by identifier set
-- (0010_child_sets.sql). Version 1's
-- columns agency_kind, agency_code and actor became schema version 8's
-- principal_id, which numbers them in audit_principals:
-- 0008_principals.sql. Version 1's column key_id of audit_heads became
-- schema version 9's key_number, which numbers it in audit_signing_keys:
-- 0009_signing_keys.sql.)
-- SqlLogStorage::Init runs this at every open (IF NOT EXISTS), after
-- sql::Migrate (which adopts a store from before schema versions, whose
-- SQLite tables had no audit_ prefix), then the append-only triggers of its
-- dialect (0001_append_only.<dialect>.sql).
--
-- Placeholders, replaced per dialect by sql::Db::ExecScript: {BLOB} is BLOB /
-- BYTEA; {INT} is INTEGER / BIGINT (SQLite's leaf_index must be spelled
-- INTEGER PRIMARY KEY, the rowid); {SERIAL} is INTEGER PRIMARY KEY
-- AUTOINCREMENT / BIGSERIAL PRIMARY KEY; {WITHOUT_ROWID} is " WITHOUT ROWID"
-- on SQLite and nothing on PostgreSQL.

CREATE TABLE IF NOT EXISTS audit_entries (
  leaf_index   {INT} PRIMARY KEY,
  leaf_hash    {BLOB} NOT NULL,
  leaf_data    {BLOB} NOT NULL,
  time_micros  {INT} NOT NULL,
  principal_id {INT} NOT NULL,
  purpose      {INT} NOT NULL,
  decision     {INT} NOT NULL,
  break_glass  {INT} NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_idempotency_keys (
  key        TEXT PRIMARY KEY,
  leaf_index {INT} NOT NULL
){WITHOUT_ROWID};
CREATE TABLE IF NOT EXISTS audit_heads (
  id         {SERIAL},
  tree_size  {INT} NOT NULL,
  root_hash  {BLOB} NOT NULL,
  ts_seconds {INT} NOT NULL,
  ts_nanos   {INT} NOT NULL,
  key_number {INT} NOT NULL,
  signature  {BLOB} NOT NULL
);
