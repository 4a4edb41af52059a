-- Consent store, schema version 1: consent entries (consents, refusals and
-- statutory bases, each a serialized ConsentEntry, by child), information
-- sharing agreements, and the audit outbox (consent_audit_outbox: events
-- written in the same transaction as the change they record, appended to the
-- audit log after commit). The tables as first released; version 2 adds the
-- in-force columns to consent_entries.
--
-- Placeholders, replaced per dialect by sql::Db::ExecScript: {CTEXT} is text
-- compared byte by byte (TEXT / TEXT COLLATE "C"); {BLOB} is BLOB / BYTEA.

CREATE TABLE IF NOT EXISTS consent_entries (
  consent_id {CTEXT} PRIMARY KEY,
  kinex_id {CTEXT} NOT NULL,
  payload {BLOB} NOT NULL);
CREATE INDEX IF NOT EXISTS consent_entries_by_child
  ON consent_entries (kinex_id, consent_id);
CREATE TABLE IF NOT EXISTS sharing_agreements (
  agreement_id {CTEXT} PRIMARY KEY,
  payload {BLOB} NOT NULL);
CREATE TABLE IF NOT EXISTS consent_audit_outbox (
  idempotency_key {CTEXT} PRIMARY KEY,
  enqueue_us BIGINT NOT NULL,
  payload {BLOB} NOT NULL);
CREATE INDEX IF NOT EXISTS consent_audit_outbox_by_age
  ON consent_audit_outbox (enqueue_us, idempotency_key);
