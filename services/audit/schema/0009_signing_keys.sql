-- Audit store, schema version 9: the key each signed tree head names,
-- stored once. audit_signing_keys numbers each key id the log has stored a
-- head of (in the order first stored), and audit_heads.key_number names it,
-- so a head's row holds one small integer instead of its key id (64
-- characters for the log's own keys): a third of the 195 bytes a head
-- took, and the log stores a head with every commit. A head is read back
-- with its key id through the numbering; a number that names no key reads
-- as the key id "", which no key has, so the head fails its verification
-- (the key id is part of what the signature covers). Replaces version 1's
-- column key_id of audit_heads, which the migration to version 9 numbers
-- here.
--
-- SqlLogStorage::Init runs this at every open (IF NOT EXISTS), after
-- 0008_principals.sql, then the append-only triggers of its dialect
-- (0009_append_only.<dialect>.sql). Placeholders as in 0001_log.sql.

CREATE TABLE IF NOT EXISTS audit_signing_keys (
  key_number {SERIAL},
  key_id     TEXT NOT NULL UNIQUE
);
