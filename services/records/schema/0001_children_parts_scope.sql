-- Records store, schema version 1: children, their identifiers, each
-- agency's versioned parts (part_versions, with part_heads naming the latest
-- version of each part) and the scope index (scope_links: which agency's
-- scope each child is in). The schema as first released, before schema
-- versions: SqlRecordsStorage::Create runs it at every open (every statement
-- is IF NOT EXISTS), then sql::Migrate records version 1 with nothing else
-- to do.
--
-- Placeholders, replaced per dialect by sql::Db::ExecScript: {CTEXT} is text
-- compared byte by byte (TEXT / TEXT COLLATE "C", so pages of ids come in
-- the same order on SQLite and PostgreSQL); {BLOB} is BLOB / BYTEA.

CREATE TABLE IF NOT EXISTS children (
  kinex_id {CTEXT} PRIMARY KEY,
  create_time_us BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS child_identifiers (
  id_kind INTEGER NOT NULL,
  id_value {CTEXT} NOT NULL,
  kinex_id {CTEXT} NOT NULL REFERENCES children (kinex_id),
  PRIMARY KEY (id_kind, id_value));
CREATE INDEX IF NOT EXISTS child_identifiers_by_child
  ON child_identifiers (kinex_id);
CREATE TABLE IF NOT EXISTS part_versions (
  kinex_id {CTEXT} NOT NULL REFERENCES children (kinex_id),
  owner_kind INTEGER NOT NULL,
  owner_code {CTEXT} NOT NULL,
  version BIGINT NOT NULL,
  etag TEXT NOT NULL,
  publish_time_us BIGINT NOT NULL,
  principal TEXT NOT NULL,
  actor TEXT NOT NULL,
  payload {BLOB} NOT NULL,
  PRIMARY KEY (kinex_id, owner_kind, owner_code, version));
CREATE TABLE IF NOT EXISTS part_heads (
  kinex_id {CTEXT} NOT NULL REFERENCES children (kinex_id),
  owner_kind INTEGER NOT NULL,
  owner_code {CTEXT} NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (kinex_id, owner_kind, owner_code));
CREATE TABLE IF NOT EXISTS scope_links (
  agency_kind INTEGER NOT NULL,
  code {CTEXT} NOT NULL,
  kinex_id {CTEXT} NOT NULL REFERENCES children (kinex_id),
  PRIMARY KEY (agency_kind, code, kinex_id));
CREATE INDEX IF NOT EXISTS scope_links_by_child ON scope_links (kinex_id);
