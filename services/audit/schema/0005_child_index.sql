-- Audit store, schema version 5: the query index by child, with each child
-- pseudonym stored once. audit_children numbers each pseudonym the log has
-- indexed (in the order first indexed); audit_child_entries holds one row
-- (child_id, leaf_index) per pseudonym of each leaf, so the index row of an
-- event is two integers instead of its 64-character pseudonym (at 20M
-- entries the index took 477 of the 1,135 bytes an entry used). A child's
-- events are its primary key's range, in leaf order; the by-leaf index serves
-- the log's start-up check that every leaf's rows are exactly its
-- pseudonyms (SqlLogStorage::ReadChildIndex). Replaces version 1's
-- audit_entry_children of (pseudonym, leaf_index), which the migration to
-- version 5 copies here and drops.
--
-- SqlLogStorage::Init runs this at every open (IF NOT EXISTS), after
-- 0003_checkpoints.sql, then the append-only triggers of its dialect
-- (0005_append_only.<dialect>.sql). Placeholders as in 0001_log.sql.

CREATE TABLE IF NOT EXISTS audit_children (
  child_id  {SERIAL},
  pseudonym TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS audit_child_entries (
  child_id   {INT} NOT NULL,
  leaf_index {INT} NOT NULL,
  PRIMARY KEY (child_id, leaf_index)
){WITHOUT_ROWID};
-- Leaf indices only grow, so this index is appended at its right edge.
CREATE INDEX IF NOT EXISTS audit_child_entries_by_leaf
  ON audit_child_entries (leaf_index);
