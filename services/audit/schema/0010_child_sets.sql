-- Audit store, schema version 10: the query index by identifier set. An
-- event names one child by the identifiers it was asked with (a kinex id,
-- NHS number, UPN, LA child id: one to four pseudonyms, numbered once in
-- audit_children, 0005_child_index.sql), and the same child is named by the
-- same few sets of them again and again. audit_child_sets numbers each
-- distinct set of child numbers an event has named (in the order first
-- stored; `members` is its child numbers ascending, in decimal, separated by
-- commas, e.g. "3,17,42"); audit_entry_child_sets holds one row per event
-- that names a child, (leaf_index, set_id), instead of version 5's one row
-- per identifier and its by-leaf index (80 of the about 98 bytes an event
-- the index took under load: bench/load/README.md, "The query index by
-- identifier set"). audit_child_set_members lists each set's child numbers
-- as rows, so a query by child finds its sets by its index by child, then
-- each set's events in leaf order by audit_entry_child_sets_by_set. The
-- log's start-up checks the rows against the sets' members, and the query
-- index against the leaves (SqlLogStorage::Init, ReadChildIndex). Replaces
-- version 5's audit_child_entries, which the migration to version 10
-- copies here and drops.
--
-- SqlLogStorage::Init runs this at every open (IF NOT EXISTS), after
-- 0009_signing_keys.sql, then the append-only triggers of its dialect
-- (0010_append_only.<dialect>.sql). Placeholders as in 0001_log.sql.

CREATE TABLE IF NOT EXISTS audit_child_sets (
  set_id  {SERIAL},
  members TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS audit_child_set_members (
  set_id   {INT} NOT NULL,
  child_id {INT} NOT NULL,
  PRIMARY KEY (set_id, child_id)
){WITHOUT_ROWID};
CREATE INDEX IF NOT EXISTS audit_child_set_members_by_child
  ON audit_child_set_members (child_id, set_id);
CREATE TABLE IF NOT EXISTS audit_entry_child_sets (
  leaf_index {INT} PRIMARY KEY,
  set_id     {INT} NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_entry_child_sets_by_set
  ON audit_entry_child_sets (set_id, leaf_index);
