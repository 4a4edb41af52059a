-- Records store, schema version 2: each child's responsible local authority
-- (child_responsibility), the agencies linked to each child with the state
-- of their link (agency_links: claimed, confirmed or rejected) and the audit
-- outbox (audit_outbox: events written in the same transaction as the
-- change they record, appended to the audit log after commit).
--
-- A version-1 store is backfilled by the two INSERT statements below: each
-- child's responsible LA is the LA its scope index named (the smallest code
-- if several), and every school, health or police agency that had published
-- a part keeps a CONFIRMED link (state 2): those relationships were live
-- before claims existed, so the migration is recorded as their confirmer.
-- Run by sql::Migrate in the one upgrade transaction: a failure leaves the
-- store at version 1.

CREATE TABLE IF NOT EXISTS child_responsibility (
  kinex_id {CTEXT} PRIMARY KEY REFERENCES children (kinex_id),
  la_code {CTEXT} NOT NULL,
  since_us BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS child_responsibility_by_la
  ON child_responsibility (la_code, kinex_id);
CREATE TABLE IF NOT EXISTS agency_links (
  kinex_id {CTEXT} NOT NULL REFERENCES children (kinex_id),
  agency_kind INTEGER NOT NULL,
  agency_code {CTEXT} NOT NULL,
  state INTEGER NOT NULL,
  update_time_us BIGINT NOT NULL,
  updated_by TEXT NOT NULL,
  PRIMARY KEY (kinex_id, agency_kind, agency_code));
CREATE TABLE IF NOT EXISTS audit_outbox (
  id {CTEXT} PRIMARY KEY,
  create_seq BIGINT NOT NULL,
  event {BLOB} NOT NULL);

-- Backfill: responsibility from the LA scope links (agency_kind 1).
INSERT INTO child_responsibility (kinex_id, la_code, since_us)
  SELECT s.kinex_id, MIN(s.code), c.create_time_us FROM scope_links s
  JOIN children c ON c.kinex_id = s.kinex_id
  WHERE s.agency_kind = 1 GROUP BY s.kinex_id, c.create_time_us;
-- Backfill: a CONFIRMED link (2) for each school (3), health (4) or police
-- (5) part already published.
INSERT INTO agency_links (kinex_id, agency_kind, agency_code, state,
  update_time_us, updated_by)
  SELECT h.kinex_id, h.owner_kind, h.owner_code, 2, c.create_time_us,
  'schema-migration-v2' FROM part_heads h
  JOIN children c ON c.kinex_id = h.kinex_id
  WHERE h.owner_kind IN (3, 4, 5);
