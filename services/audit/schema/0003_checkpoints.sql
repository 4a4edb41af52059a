-- Audit store, schema version 3: start-up checkpoints (services/audit/
-- checkpoint.h). audit_tree_blocks holds the hash of each full block of
-- 2^lean_level leaves (the level of the Merkle tree the log keeps in memory)
-- and its first leaf's time; audit_checkpoints holds sealed checkpoints (a
-- serialized kinex.audit.v1.SealedLogCheckpoint), each signed by the log's
-- key and naming a signed tree head. SqlLogStorage::PutCheckpoint writes
-- both in one transaction and keeps the two newest checkpoints.
-- SqlLogStorage::Init runs this at every open (IF NOT EXISTS).
--
-- Derived data, so NOT append-only and NOT trusted: at start-up the log
-- checks the checkpoint's signature, the block rows against the digest it
-- signs, and the blocks plus the leaves after them against the signed tree
-- head it names. Anything that fails sends the log back to re-hashing every
-- leaf; deleting these tables costs only start-up time.
--
-- Placeholders as in 0001_log.sql: {BLOB} is BLOB / BYTEA; {INT} is INTEGER
-- / BIGINT.

CREATE TABLE IF NOT EXISTS audit_tree_blocks (
  block_index  {INT} PRIMARY KEY,
  subtree_hash {BLOB} NOT NULL,
  first_micros {INT} NOT NULL
);
-- audit_tree_block_eighths holds, for a block row, the hashes of the block's
-- eight eighths (merkle.h, kBlockEighths), 256 bytes: what lets an
-- inclusion proof of an old leaf read one eighth of its block's leaf hashes
-- instead of all of them. Added after version 6 without a new version: it
-- is derived and checked against the block's hash at every read, so a
-- binary that does not know it ignores it and loses nothing, and rows it
-- leaves stale are passed over.
CREATE TABLE IF NOT EXISTS audit_tree_block_eighths (
  block_index {INT} PRIMARY KEY,
  hashes      {BLOB} NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  tree_size {INT} PRIMARY KEY,
  sealed    {BLOB} NOT NULL
);
