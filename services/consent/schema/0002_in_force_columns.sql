-- Consent store, schema version 2 (first part): the in-force columns.
-- in_force_from_us and in_force_until_us hold each entry's InForceFrom and
-- InForceUntil in microseconds since the epoch, so the store, not its
-- caller, skips the withdrawn and expired entries piling up in a child's
-- history. No end is the largest BIGINT rather than NULL: SQLite cannot use
-- an index range for "IS NULL OR > now". Both default to the widest window
-- (the smallest and the largest BIGINT), so a row inserted by a release
-- without the columns (a rolling upgrade) is always read.
--
-- Run by AddInForceColumns (sql_consent_storage.cc) only when the columns
-- are absent (a store from before schema versions may already have them);
-- it then fills both columns from each entry's parsed payload (C++: the
-- window is inside the serialized ConsentEntry), and runs
-- 0002_in_force_index.sql. All in the one upgrade transaction.

ALTER TABLE consent_entries ADD COLUMN in_force_from_us BIGINT NOT NULL DEFAULT -9223372036854775808;
ALTER TABLE consent_entries ADD COLUMN in_force_until_us BIGINT NOT NULL DEFAULT 9223372036854775807;
