-- Records store, schema version 3: sharing decisions (decisions not to
-- share, to share in part or to defer, and shields), each with its decider
-- and time, kept when removed (removed = 1) so the history stays readable.
-- The indexes serve a child's decisions in force, the listing newest first,
-- and a decider's own decisions. Nothing to backfill.

CREATE TABLE IF NOT EXISTS sharing_decisions (
  decision_id {CTEXT} PRIMARY KEY,
  kinex_id {CTEXT} NOT NULL REFERENCES children (kinex_id),
  kind INTEGER NOT NULL,
  decider_kind INTEGER NOT NULL,
  decider_code {CTEXT} NOT NULL,
  decided_at_us BIGINT NOT NULL,
  removed INTEGER NOT NULL,
  payload {BLOB} NOT NULL);
CREATE INDEX IF NOT EXISTS sharing_decisions_by_child
  ON sharing_decisions (kinex_id, kind, removed);
CREATE INDEX IF NOT EXISTS sharing_decisions_by_time
  ON sharing_decisions (decided_at_us, decision_id);
CREATE INDEX IF NOT EXISTS sharing_decisions_by_decider
  ON sharing_decisions (decider_kind, decider_code, decided_at_us);
