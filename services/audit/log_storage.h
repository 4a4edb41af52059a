// Storage behind the audit log: entries (canonical leaf bytes and leaf
// hashes, plus the columns queries filter on), child pseudonyms, and signed
// tree heads. Implementations: SqliteLogStorage (embedded default),
// PostgresLogStorage, FakeLogStorage (in memory, tests), FailingLogStorage
// (always errors: proves the log fails closed), both in tests/testing/. One conformance suite
// (tests/audit/log_storage_conformance_test.cc) runs against all of them.
//
// The storage is deliberately dumb: the log core (audit_log.h) owns ordering,
// hashing and signing; storage persists what it is given, atomically. Of the
// interior Merkle nodes only the 2^lean_level-leaf block hashes are stored,
// with the log's start-up checkpoints (checkpoint.h), and they are trusted
// only through a checkpoint's signature and its signed head's root; the log
// re-hashes the entries after the checkpoint (or all of them) at start.
//
// Indexes: the leaf index (primary key) and the child pseudonym (the "query
// index": one row per (pseudonym, leaf)). The query index is checkable: each
// leaf carries, inside its hash, the link to the previous leaf of each of its
// pseudonyms (child_chain), and ReadChildIndex lets the log's start-up check
// and verifiers compare the rows with the leaves (log_verifier.h). Other
// filters (agency, actor, purpose, decision, break-glass) scan the index
// range the log derives from the query's time range: every secondary index
// costs random page writes on every group commit, and appends are the hot
// path; auditors' queries are by child and time.
//
// Example:
//   std::vector<NewEntry> batch = ...;  // leaf indices size..size+n-1
//   KINEX_RETURN_IF_ERROR(storage.Append(batch, &signed_head));
#ifndef KINEX_SERVICES_AUDIT_LOG_STORAGE_H_
#define KINEX_SERVICES_AUDIT_LOG_STORAGE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "kinex/audit/v1/audit.pb.h"
#include "services/audit/event_codec.h"
#include "services/audit/merkle.h"

namespace kinex::audit {

// One stored entry, as read back.
struct StoredEntry {
  // The row's leaf index as stored (a tampered store may disagree with the
  // index encoded in leaf_data; the log checks).
  uint64_t leaf_index = 0;
  // The stored leaf hash.
  Hash leaf_hash{};
  // The canonical event encoding (event_codec.h).
  std::string leaf_data;
};

// One notification as stored beside the log (docs/notifications.md): the
// immutable content (the NotifyIntent the event carried, serialized) and the
// delivery state, the only columns that ever change.
struct StoredNotification {
  NotificationKey key;
  int recipient_kind = 0;
  std::string recipient_code;
  int kind = 0;  // kinex.notifications.v1.NotificationKind
  // The causing leaf's time.
  int64_t created_us = 0;
  // 0: no deadline.
  int64_t deadline_us = 0;
  int state = 1;  // NotificationState: PENDING
  int64_t delivered_us = 0;
  int64_t acked_us = 0;
  std::string acked_by;
  int review_outcome = 0;
  std::string review_note;
  // The leaf of its NOTIFICATION_ESCALATED event; -1: not escalated.
  int64_t escalated_leaf = -1;
  // A serialized kinex.audit.v1.NotifyIntent.
  std::string payload;
};

// A change of delivery state, applied in the transaction of the leaf that
// records it. Each applies once: a change whose precondition no longer
// holds (already delivered, acknowledged, reviewed, escalated) is skipped.
struct NotificationChange {
  enum class Type {
    kDelivered,     // state PENDING -> DELIVERED, delivered_us
    kAcknowledged,  // acked_us, acked_by; state ACKNOWLEDGED
    kReviewed,      // as acknowledged, plus review_outcome and review_note
    kEscalated,     // escalated_leaf
  };
  NotificationKey key;
  Type type = Type::kDelivered;
  int64_t at_us = 0;
  std::string by;
  int review_outcome = 0;
  std::string note;
  // The leaf that records the change.
  uint64_t leaf_index = 0;
};

// One entry to append, with the columns queries filter on.
struct NewEntry {
  StoredEntry entry;
  int64_t time_micros = 0;
  int agency_kind = 0;
  std::string agency_code;
  std::string actor;
  int purpose = 0;
  int decision = 0;
  bool break_glass = false;
  std::vector<std::string> child_pseudonyms;
  // Empty when the event has none; else stored with its leaf index, in the
  // same transaction, for LookupIdempotencyKey.
  std::string idempotency_key;
  // The notifications the event creates (keys leaf_index.0, .1, ...) and
  // the state changes it records, in the same transaction.
  std::vector<StoredNotification> notifications;
  std::vector<NotificationChange> changes;
};

// Which notifications to read; filters combine with AND.
struct NotificationQuery {
  // Only this recipient's, when recipient_kind is set.
  int recipient_kind = 0;
  std::string recipient_code;
  // Only keys after this one.
  std::optional<NotificationKey> after;
  // Only these keys, when not empty.
  std::vector<NotificationKey> keys;
  bool unacknowledged_only = false;
  // Only these kinds, when not empty.
  std::vector<int> kinds;
  // When > 0: only ENCOMPASS notifications not acknowledged, not escalated,
  // with a deadline at or before this time (the sweeper's query).
  int64_t due_at_us = 0;
};

// Counts for metrics.
struct NotificationStats {
  int64_t unacknowledged = 0;
  // The oldest unacknowledged notification's created_us; 0 when none.
  int64_t oldest_unacknowledged_us = 0;
  // ENCOMPASS notifications escalated for a missed deadline.
  int64_t deadline_misses = 0;
  // BREAK_GLASS_REVIEW notifications not yet reviewed.
  int64_t open_reviews = 0;
};

// One row of the query index.
struct IndexRow {
  uint64_t leaf_index = 0;
  std::string pseudonym;
};

// One full block of 2^level leaves of the Merkle tree (checkpoint.h).
struct TreeBlock {
  // The block's subtree hash.
  Hash hash{};
  // Its first leaf's time, Unix microseconds.
  int64_t first_micros = 0;
  // The hashes of its kBlockEighths eighths (merkle.h), left to right, or
  // none. Not part of the checkpoint's digest: the tree checks them against
  // `hash` each time it reads them.
  std::vector<Hash> eighths;
};

// Builds a NewEntry from a validated, pseudonymised event and its leaf.
NewEntry MakeNewEntry(uint64_t leaf_index, const Hash& leaf_hash, std::string leaf_data,
                      const kinex::audit::v1::AuditEvent& event);

// Query filters; unset members match everything. Index bounds come from the
// log (which turns time ranges into index ranges: times never decrease).
struct QueryFilter {
  std::optional<std::string> child_pseudonym;
  int agency_kind = 0;      // 0: any
  std::string agency_code;  // empty: any
  std::string actor;        // empty: any
  int purpose = 0;          // 0: any
  int decision = 0;         // 0: any
  bool break_glass_only = false;
  // Event kinds (EventKind numbers); empty: any. Checked by the log on the
  // decoded event (MatchesFilter); backends may ignore it (no column).
  std::vector<int> kinds;
  uint64_t begin_index = 0;         // inclusive
  uint64_t end_index = UINT64_MAX;  // exclusive
};

// Whether an entry's columns satisfy `filter` (index bounds included). The
// log re-checks every row a backend returns against the decoded event with
// this, so a backend bug cannot leak events outside the filter.
bool MatchesFilter(const QueryFilter& filter, uint64_t leaf_index,
                   const kinex::audit::v1::AuditEvent& event);

// Persistent storage of the log. Implementations are thread-safe: one writer
// (the log's sequencer) and any number of concurrent readers.
class LogStorage {
 public:
  virtual ~LogStorage() = default;

  // Appends `entries` (leaf indices Size(), Size()+1, ... in order) and, when
  // `head` is not null, a signed tree head, in ONE transaction that is durable
  // when this returns OK. FAILED_PRECONDITION when the first index is not the
  // current size (another writer); UNAVAILABLE when the store fails (then
  // nothing was written, unless the failure hid a successful commit: callers
  // re-read Size() to find out).
  virtual absl::Status Append(absl::Span<const NewEntry> entries,
                              const kinex::audit::v1::SignedTreeHead* head) = 0;

  // Durably stores a signed tree head (idle heads re-sign the same size).
  virtual absl::Status AddHead(const kinex::audit::v1::SignedTreeHead& head) = 0;

  // One past the largest stored leaf index (0 when empty).
  virtual absl::StatusOr<uint64_t> Size() = 0;

  // The most recently stored head, if any.
  virtual absl::StatusOr<std::optional<kinex::audit::v1::SignedTreeHead>> LatestHead() = 0;

  // Every stored head, oldest first.
  virtual absl::StatusOr<std::vector<kinex::audit::v1::SignedTreeHead>> ListHeads() = 0;

  // The stored heads with min_size < tree_size <= max_size, oldest first
  // (verifiers fetch them page by page with GetEntries). The default filters
  // ListHeads(); SQL backends select only those rows.
  virtual absl::StatusOr<std::vector<kinex::audit::v1::SignedTreeHead>> ListHeadsBetween(
      uint64_t min_size, uint64_t max_size);

  // Calls `fn` for each stored row with begin <= leaf_index < end, in
  // leaf_index order, stopping at the first error `fn` returns.
  virtual absl::Status ReadEntries(uint64_t begin, uint64_t end,
                                   const std::function<absl::Status(const StoredEntry&)>& fn) = 0;

  // The stored leaf hashes of the rows with begin <= leaf_index < end, in
  // order (what the lean tree reads for an old block: no leaf data). The
  // default takes them from ReadEntries.
  virtual absl::StatusOr<std::vector<Hash>> ReadLeafHashes(uint64_t begin, uint64_t end);

  // Up to `limit` rows matching `filter`, in leaf_index order.
  virtual absl::StatusOr<std::vector<StoredEntry>> Query(const QueryFilter& filter,
                                                         size_t limit) = 0;

  // Calls `fn` for each query-index row with begin <= leaf_index < end, in
  // (leaf_index, pseudonym) order, stopping at the first error `fn` returns.
  // Rows are returned as stored (a tampered store may hold rows no leaf
  // justifies; the caller checks).
  virtual absl::Status ReadChildIndex(uint64_t begin, uint64_t end,
                                      const std::function<absl::Status(const IndexRow&)>& fn) = 0;

  // The leaf index stored with `key` by Append, if any.
  virtual absl::StatusOr<std::optional<uint64_t>> LookupIdempotencyKey(const std::string& key) = 0;

  // Up to `limit` notifications matching `query`, in key order, as stored
  // (the log checks each against its leaf). The default: UNIMPLEMENTED.
  virtual absl::StatusOr<std::vector<StoredNotification>> ReadNotifications(
      const NotificationQuery& query, size_t limit);

  // Counts over every stored notification. The default: UNIMPLEMENTED.
  virtual absl::StatusOr<NotificationStats> ReadNotificationStats();

  // Deletes the notifications acknowledged (or reviewed) before
  // `acked_before_us`, except escalated Operation Encompass ones (they are
  // the deadline-miss count); returns how many. Their leaves, and the leaves
  // of their delivery and acknowledgement, stay: the log still says who was
  // told what and when. The default: UNIMPLEMENTED.
  virtual absl::StatusOr<int64_t> PruneNotifications(int64_t acked_before_us);

  // Start-up checkpoints (checkpoint.h). Stored as given and never trusted:
  // the log verifies what it reads back.
  //
  // Stores `blocks` as block rows first_block, first_block + 1, ... with
  // their eighths where given (replacing rows and eighths stored there
  // before) and `sealed` as the checkpoint for
  // `tree_size`, in one transaction; keeps only the two newest checkpoints.
  // The default: UNIMPLEMENTED (the log then starts by re-hashing every
  // leaf).
  virtual absl::Status PutCheckpoint(uint64_t first_block, absl::Span<const TreeBlock> blocks,
                                     uint64_t tree_size, const std::string& sealed);
  // The newest stored checkpoint, if any. The default: none.
  virtual absl::StatusOr<std::optional<std::string>> LatestCheckpoint();
  // Calls `fn` for each stored block row with begin <= index < end, in
  // order, stopping at the first error `fn` returns (TreeBlock::eighths may
  // be left empty: start-up does not read them). The default: UNIMPLEMENTED.
  virtual absl::Status ReadTreeBlocks(
      uint64_t begin, uint64_t end,
      const std::function<absl::Status(uint64_t index, const TreeBlock&)>& fn);
  // The eighths stored with block row `block` by PutCheckpoint, as stored
  // (the tree checks them); nullopt when there are none. The default: none.
  virtual absl::StatusOr<std::optional<std::vector<Hash>>> ReadBlockEighths(uint64_t block);
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_LOG_STORAGE_H_
