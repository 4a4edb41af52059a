-- Audit store, schema version 5: each child pseudonym stored once.
-- audit_children numbers each pseudonym the log has indexed (in the order
-- first indexed), so the query index names a pseudonym by a small integer
-- instead of its 64 characters (at 20M entries the index took 477 of the
-- 1,135 bytes an entry used). Version 5's index rows, audit_child_entries
-- of (child_id, leaf_index), one per pseudonym of each leaf with a by-leaf
-- index, became schema version 10's query index by identifier set
-- (0010_child_sets.sql); the migration to version 10 copies them there and
-- drops the table. Replaces version 1's audit_entry_children of
-- (pseudonym, leaf_index), which the migration to version 5 numbers here.
--
-- SqlLogStorage::Init runs this at every open (IF NOT EXISTS), after
-- 0003_checkpoints.sql, then the append-only triggers of its dialect
-- (0005_append_only.<dialect>.sql). Placeholders as in 0001_log.sql.

CREATE TABLE IF NOT EXISTS audit_children (
  child_id  {SERIAL},
  pseudonym TEXT NOT NULL UNIQUE
);
