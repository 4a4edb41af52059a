// LogStorage on the common SQL layer (services/common/sql): one
// implementation for SQLite (SqliteLogStorage, the embedded default) and
// PostgreSQL (PostgresLogStorage, microservices mode), with the same tables
// (audit_entries, the child pseudonyms' numbers audit_children, the query
// index by identifier set audit_child_sets, audit_child_set_members and
// audit_entry_child_sets, audit_principals, audit_idempotency_keys,
// audit_heads with audit_signing_keys, and audit_notifications beside the
// log), the
// same statements and the same row-reading code. The dialects differ only in DDL (row ids,
// append-only triggers) and in how an Append excludes a second writer (SQLite: BEGIN IMMEDIATE;
// PostgreSQL: an EXCLUSIVE table lock, so two audit replicas on one database cannot interleave
// indices).
//
// One writer connection (the log's sequencer; an Append is one transaction,
// durable when it returns: synchronous=FULL on SQLite, PostgreSQL's default
// synchronous_commit) and a sql::Pool of reader connections (WAL readers do
// not block the writer). Triggers refuse UPDATE and DELETE on every log
// table, so the log is append-only through SQL short of dropping the
// triggers (which tamper tests do; the log's start-up recomputation catches
// what follows); the schema, triggers included, is re-applied at every open.
// audit_notifications is the exception: its delivery state changes, each
// change applied in the Append transaction of the leaf that records it, and
// only while its precondition holds (a second acknowledgement is skipped).
//
// Schema versions (sql::Migrate, component "audit"):
//   1  the audit_* tables. Adopts a store from before schema versions: on
//      SQLite the tables were named entries, entry_children, idempotency_keys
//      and heads; they are renamed (their triggers re-created).
//   2  audit_notifications (0002_notifications.sql), created by the schema
//      script every open applies; the step itself changes nothing.
//   3  audit_tree_blocks and audit_checkpoints (0003_checkpoints.sql), the
//      same way.
//   4  leaves may be stored compressed (stored_leaf.h); no table changes.
//   5  the query index by child keeps each pseudonym once
//      (0005_child_index.sql: audit_children numbers the pseudonyms, and
//      audit_child_entries held (child_id, leaf_index) until version 10).
//      The step copies version 1's audit_entry_children into them, in one
//      transaction, and drops it.
//   6  leaves may be stored with zstd and dictionary 2 (stored_leaf.h); no
//      table changes, but a binary from before would take them for
//      uncompressed leaves that fail their hash.
//   7  leaves may be stored with dictionary 3 (stored_leaf.h); no table
//      changes, but a binary from before would refuse each such leaf as
//      corrupt (an unknown dictionary) instead of refusing the store.
//   8  who made each event is stored once (0008_principals.sql:
//      audit_principals numbers each (agency_kind, agency_code, actor), and
//      audit_entries holds its principal_id instead of the three columns).
//      The step numbers the principals of the entries stored, in order of
//      first use, and rebuilds audit_entries in the new shape, in one
//      transaction (a full rewrite of the table: minutes at tens of
//      millions of entries).
//   9  the key each signed tree head names is stored once
//      (0009_signing_keys.sql: audit_signing_keys numbers each key id, and
//      audit_heads holds its key_number instead of key_id). The step
//      numbers the key ids of the heads stored and rebuilds audit_heads in
//      the new shape, each head keeping its id, in one transaction (a table
//      changed in place would keep its old size until a VACUUM).
//  10  the query index by identifier set (0010_child_sets.sql): one row per
//      event naming a child, (leaf_index, set_id), where audit_child_sets
//      numbers each distinct set of child numbers an event has named and
//      audit_child_set_members lists each set's numbers as rows. The step
//      groups version 5's audit_child_entries by leaf into sets, in one
//      transaction, and drops it.
//  11  a leaf that names children may be stored with its pseudonyms as
//      references to its entry's set ("KXAR", stored_leaf.h), expanded on
//      every read with the set's pseudonyms; no table changes, but a binary
//      from before would refuse each such leaf as corrupt instead of
//      refusing the store. Leaves stored before keep their form.
//
// Errors: every store failure is UNAVAILABLE ("audit store: ..."); a stored
// hash of the wrong size is DATA_LOSS; FAILED_PRECONDITION as LogStorage says;
// INVALID_ARGUMENT (STORAGE_CALL_INVALID) for a call the log should never
// make: a batch not contiguous, a notification not keyed <leaf>.<its
// position>, a change not recorded by its entry or without its time or
// outcome, more than kMaxNotificationKeys keys in one read.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto storage,
//                          SqliteLogStorage::Open({.path = "data/audit.db"}));
#ifndef KINEX_SERVICES_AUDIT_SQL_LOG_STORAGE_H_
#define KINEX_SERVICES_AUDIT_SQL_LOG_STORAGE_H_

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "services/audit/log_storage.h"
#include "services/common/sql/sql_db.h"

namespace kinex::audit {

// SQL-backed log storage. Thread-safe. Made by SqliteLogStorage::Open or
// PostgresLogStorage::Open.
class SqlLogStorage : public LogStorage {
 public:
  // A principal as audit_principals numbers it: (agency_kind, agency_code,
  // actor).
  using PrincipalKey = std::tuple<int, std::string, std::string>;

  // The schema version this binary writes.
  static constexpr int64_t kSchemaVersion = 11;

  ~SqlLogStorage() override = default;

  absl::Status Append(absl::Span<const NewEntry> entries,
                      const kinex::audit::v1::SignedTreeHead* head) override;
  absl::Status AddHead(const kinex::audit::v1::SignedTreeHead& head) override;
  absl::StatusOr<uint64_t> Size() override;
  absl::StatusOr<std::optional<kinex::audit::v1::SignedTreeHead>> LatestHead() override;
  absl::StatusOr<std::vector<kinex::audit::v1::SignedTreeHead>> ListHeadsBetween(
      uint64_t min_size, uint64_t max_size) override;
  absl::StatusOr<std::vector<kinex::audit::v1::SignedTreeHead>> ListHeads() override;
  absl::Status ReadEntries(uint64_t begin, uint64_t end,
                           const std::function<absl::Status(const StoredEntry&)>& fn) override;
  absl::StatusOr<std::vector<Hash>> ReadLeafHashes(uint64_t begin, uint64_t end) override;
  absl::StatusOr<std::vector<StoredEntry>> Query(const QueryFilter& filter, size_t limit) override;
  absl::Status ReadChildIndex(uint64_t begin, uint64_t end,
                              const std::function<absl::Status(const IndexRow&)>& fn) override;
  absl::StatusOr<std::optional<uint64_t>> LookupIdempotencyKey(const std::string& key) override;
  // INVALID_ARGUMENT when query.keys has more than kMaxNotificationKeys keys.
  absl::StatusOr<std::vector<StoredNotification>> ReadNotifications(const NotificationQuery& query,
                                                                    size_t limit) override;
  absl::StatusOr<NotificationStats> ReadNotificationStats() override;
  absl::StatusOr<int64_t> PruneNotifications(int64_t acked_before_us) override;
  absl::Status PutCheckpoint(uint64_t first_block, absl::Span<const TreeBlock> blocks,
                             uint64_t tree_size, const std::string& sealed) override;
  absl::StatusOr<std::optional<std::string>> LatestCheckpoint() override;
  absl::Status ReadTreeBlocks(
      uint64_t begin, uint64_t end,
      const std::function<absl::Status(uint64_t index, const TreeBlock&)>& fn) override;
  absl::StatusOr<std::optional<std::vector<Hash>>> ReadBlockEighths(uint64_t block) override;

  // The most keys one ReadNotifications may name (each is two parameters).
  static constexpr size_t kMaxNotificationKeys = 1000;

 protected:
  // `writer` is the connection every write uses; `open_reader` opens reader
  // connections to the same database.
  SqlLogStorage(std::unique_ptr<sql::Db> writer, sql::Pool::Opener open_reader)
      : dialect_(writer->dialect()), writer_(std::move(writer)), readers_(std::move(open_reader)) {}

  // Brings the schema to kSchemaVersion and (re)applies it. Call once, from
  // the factory, before the storage is shared.
  absl::Status Init();

 private:
  // Runs `fn` on a pooled reader connection.
  absl::Status WithReader(const std::function<absl::Status(sql::Db&)>& fn);
  absl::StatusOr<std::vector<kinex::audit::v1::SignedTreeHead>> SelectHeads(
      absl::string_view where_order_limit, const std::vector<sql::Value>& params);

  const sql::Dialect dialect_;
  absl::Mutex write_mu_;
  std::unique_ptr<sql::Db> writer_ ABSL_GUARDED_BY(write_mu_);
  // The query index's child numbers (audit_children) of pseudonyms this
  // process has committed entries for: a number never changes once given
  // (the table is append-only), so Append looks up only the pseudonyms not
  // here. Added to after a commit only; emptied when it would pass
  // kMaxCachedChildIds (about 8 MiB).
  static constexpr size_t kMaxCachedChildIds = 1 << 16;
  absl::flat_hash_map<std::string, int64_t> child_ids_ ABSL_GUARDED_BY(write_mu_);
  // Likewise the principal numbers (audit_principals) of the principals this
  // process has committed entries for, emptied when it would pass
  // kMaxCachedPrincipalIds.
  static constexpr size_t kMaxCachedPrincipalIds = 1 << 14;
  absl::flat_hash_map<PrincipalKey, int64_t> principal_ids_ ABSL_GUARDED_BY(write_mu_);
  // Likewise the key numbers (audit_signing_keys) of the keys this process
  // has committed heads of: a few (the current key and any retired ones).
  absl::flat_hash_map<std::string, int64_t> key_numbers_ ABSL_GUARDED_BY(write_mu_);
  // Likewise the set numbers (audit_child_sets) of the sets of child numbers
  // (their members text) this process has committed entries for, emptied
  // when it would pass kMaxCachedSetIds (a child is named by a few sets).
  static constexpr size_t kMaxCachedSetIds = 1 << 16;
  absl::flat_hash_map<std::string, int64_t> set_ids_ ABSL_GUARDED_BY(write_mu_);
  sql::Pool readers_;
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_SQL_LOG_STORAGE_H_
