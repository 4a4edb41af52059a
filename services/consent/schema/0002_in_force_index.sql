-- Consent store, schema version 2 (second part): the index ListEntriesInForce
-- reads, a child's entries by the end of their window, so the cost of a
-- disclosure's consent lookup does not grow with the child's history. Run by
-- AddInForceColumns after 0002_in_force_columns.sql and the backfill (or
-- alone, when the columns were already there).

CREATE INDEX IF NOT EXISTS consent_entries_in_force ON consent_entries (kinex_id, in_force_until_us);
