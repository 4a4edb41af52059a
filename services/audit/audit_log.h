// The audit log core: a durable, append-only RFC 6962 Merkle log of audit
// events with Ed25519 signed tree heads, proofs and filtered queries. Plain
// C++ over a LogStorage; the gRPC adapter (audit_service.h) is a thin edge.
//
// Appends are group-committed: each caller validates and pseudonymises its
// event in its own thread and queues it; one sequencer thread takes
// everything queued, assigns leaf indices and times, hashes, signs one tree
// head for the batch and commits entries and head in ONE storage transaction.
// Each Append returns only after its batch is durable, with a signed head
// that includes it and the inclusion proof to that head.
//
// At Create the log is read back and recomputed (LogRecomputer) from its
// newest checkpoint that verifies (checkpoint.h: signed by the log's key,
// its block rows matching its digest, and its blocks plus the leaves after
// them giving the root of the signed head it names), or, without one or
// with options.full_verify_on_start, from the first leaf: every leaf after
// that point is re-hashed and decoded, and every stored signed head after it
// is checked, each with the key its key_id names (the current signing key
// or one of options.retired_keys, so the log survives a key rotation). Any
// mismatch fails Create with DATA_LOSS naming the first bad leaf index, so a
// corrupt log is never served (a checkpoint that does not match sends
// Create to the whole log, which names the problem).
//
// A head is also signed when the log is idle (every sign_interval), so anyone
// holding an older head sees a fresh timestamp and can detect truncation.
//
// Chains: when the sequencer assigns leaf indices it sets on each event, for
// each child pseudonym, the leaf index of the previous event carrying it
// (child_chain) and the previous event by the same agency
// (previous_agency_leaf_index), within the batch too. The latest leaf per
// pseudonym and agency is kept in memory (ChainTracker, log_verifier.h;
// about 200 bytes per child), rebuilt at Create from the verified leaves.
// Create also compares the query index (storage's child-pseudonym rows)
// with the leaves and refuses to start (DATA_LOSS "index: leaf N: ...") when
// a row is missing or altered: the index is rebuilt by an operator, never
// silently.
//
// Idempotency: an event with an idempotency_key already in the log (or
// earlier in the same batch) is not appended again; its Append returns the
// original leaf with a current head and proof. Keys are stored with their
// leaf in the same transaction, so this holds across restarts.
//
// Example:
//   AuditLog::Options options;
//   options.storage = storage.get();
//   options.signer = signer;            // std::shared_ptr<TreeHeadSigner>
//   options.pseudonymizer = pseudonymizer;
//   options.clock = &kinex::RealClock::Get();
//   KINEX_ASSIGN_OR_RETURN(std::unique_ptr<AuditLog> log,
//                          AuditLog::Create(std::move(options)));
//   KINEX_ASSIGN_OR_RETURN(AppendResult r, log->Append(event));
#ifndef KINEX_SERVICES_AUDIT_AUDIT_LOG_H_
#define KINEX_SERVICES_AUDIT_AUDIT_LOG_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "kinex/audit/v1/audit.pb.h"
#include "services/audit/audit_sink.h"
#include "services/audit/checkpoint.h"
#include "services/audit/event_codec.h"
#include "services/audit/log_storage.h"
#include "services/audit/log_verifier.h"
#include "services/audit/merkle.h"
#include "services/audit/tree_head.h"
#include "services/common/clock.h"

namespace kinex::audit {

// Serialized entries per GetEntries / QueryEvents response: under gRPC's
// default 4 MiB message limit with room for the rest.
inline constexpr size_t kMaxResponseBytes = 3 << 20;

// The audit log. Thread-safe.
class AuditLog final : public AuditSink, public NotificationReader {
 public:
  struct Options {
    // Required. The store; must outlive the log.
    LogStorage* storage = nullptr;
    // Required. Signs tree heads (every new head, including after a key
    // rotation).
    std::shared_ptr<const TreeHeadSigner> signer;
    // Optional. Public keys of signing keys retired by rotation. Stored
    // heads they signed still verify at start-up (each head by the key its
    // key_id names), and GetSigningKey lists them; they never sign.
    std::vector<std::shared_ptr<const TreeHeadVerifier>> retired_keys;
    // Required. Pseudonymises child identifiers.
    std::shared_ptr<const ChildPseudonymizer> pseudonymizer;
    // Required. Time source for event times and head timestamps; must
    // outlive the log.
    const kinex::Clock* clock = nullptr;
    // Default 60 s. A new head is signed when the latest is this old.
    absl::Duration sign_interval = absl::Seconds(60);
    // Default true. Runs a thread that calls SignIfIdle() every
    // min(sign_interval, 1 s) of real time. Tests turn it off and call
    // SignIfIdle() themselves after advancing a FakeClock.
    bool start_signer_thread = true;
    // Default 4096. Most events committed in one transaction.
    size_t max_batch = 4096;
    // The in-memory tree keeps hashes below this level only for the newest
    // max(recent_leaves, 2 * max_batch) leaves; older ones are read back from
    // storage and checked against the block hash kept in memory. Memory is
    // then about 1 byte per leaf instead of 64 (MerkleTree::MakeLean), plus
    // 4 bytes a leaf appended since the last checkpoint: the hashes of the
    // blocks' eighths, which the checkpoint stores so that a proof of an old
    // leaf reads an eighth of its block (lean_level above 3).
    int lean_level = 6;
    uint64_t recent_leaves = 8192;
    // Default "spiffe://kinex.dev/service/audit". The principal of the
    // events the log appends itself (NOTIFICATION_ESCALATED).
    std::string service_principal = "spiffe://kinex.dev/service/audit";
    // Default zero: keep every notification. Otherwise notifications
    // acknowledged (or reviewed) longer ago than this are deleted by
    // PruneNotifications, which the signer thread runs hourly.
    absl::Duration notification_retention = absl::ZeroDuration();
    // Default false: start from the newest checkpoint that verifies
    // (checkpoint.h), re-hashing only the leaves after its last full block.
    // True: re-hash and check every leaf, head and index row, as before
    // checkpoints (and as `kinexctl audit verify` does offline).
    bool full_verify_on_start = false;
    // Default 2^20. The signer thread writes a checkpoint once this many
    // leaves were appended since the last one; Create writes one after a
    // start that re-hashed the whole log, and the destructor one at a clean
    // stop. 0: only those two.
    uint64_t checkpoint_interval = uint64_t{1} << 20;
  };

  // How the last Create started.
  struct StartInfo {
    // The checkpoint it started from (0: none; every leaf was re-hashed).
    uint64_t checkpoint_size = 0;
    // Leaves re-hashed and checked.
    uint64_t rehashed = 0;
    // Why no checkpoint was used, when none was ("no checkpoint is
    // stored", a refused one's reason, ...).
    std::string fallback;
  };

  // Opens the log: recomputes and checks the stored log (DATA_LOSS naming
  // the first bad leaf index), signs an initial head for an empty log, and
  // starts the sequencer (and signer) threads. INVALID_ARGUMENT for missing
  // options; UNAVAILABLE when storage fails.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Create(Options options);

  // Stops the threads; queued appends fail with UNAVAILABLE.
  ~AuditLog() override;

  // Appends one event durably (see AuditSink). Thread-safe; concurrent
  // callers share a transaction.
  absl::StatusOr<AppendResult> Append(const kinex::audit::v1::AuditEvent& event) override;
  // Queues every event at once, so they share a commit (see AuditSink).
  std::vector<absl::StatusOr<AppendResult>> AppendAll(
      absl::Span<const kinex::audit::v1::AuditEvent> events) override;

  // Signs and stores a new head if the latest is at least sign_interval old
  // (by the injected clock). Returns whether it signed.
  absl::StatusOr<bool> SignIfIdle();

  // The latest signed tree head.
  kinex::audit::v1::SignedTreeHead LatestHead() const;

  // The public half of the signing key, and every key the log accepts heads
  // from (current and retired, in `keys`).
  absl::StatusOr<kinex::audit::v1::SigningKey> SigningKey() const;

  // Number of committed entries.
  uint64_t Size() const;

  // Writes a checkpoint at the current size (checkpoint.h) unless the last
  // one is there already. The signer thread calls it every
  // checkpoint_interval leaves; tests and benchmarks call it directly.
  absl::Status WriteCheckpoint();
  StartInfo start_info() const;

  // Notifications (see NotificationReader and ReadNotificationsRequest),
  // each checked against the verified leaf that created it: its recipient
  // and kind are the leaf's notified[ordinal], its child one of the leaf's
  // pseudonyms and its time the leaf's.
  absl::StatusOr<kinex::audit::v1::ReadNotificationsResponse> ReadNotifications(
      const kinex::audit::v1::ReadNotificationsRequest& request) override;

  // The deadline sweeper: every ENCOMPASS notification unacknowledged at
  // its deadline (by the injected clock) is escalated, one
  // NOTIFICATION_ESCALATED event each (idempotency key "escalate/<id>", so
  // two sweepers escalate once), which creates an ENCOMPASS_ESCALATION
  // notification for each of its escalate_to agencies. Returns how many it
  // escalated. The signer thread calls it every poll.
  absl::StatusOr<int> EscalateDue();

  // Counts over the stored notifications (metrics).
  absl::StatusOr<NotificationStats> ReadNotificationStats() const;

  // Retention: deletes the notifications acknowledged (or reviewed) more
  // than notification_retention ago by the injected clock, except escalated
  // Operation Encompass ones (the deadline-miss count); returns how many.
  // The leaves that created, delivered and acknowledged them stay, so the
  // log still says who was told what, when; what goes is the child's Kinex
  // id beside them. Zero retention: deletes nothing. A pruned notification
  // is NOT_FOUND to its recipient (acknowledging it again included).
  absl::StatusOr<int64_t> PruneNotifications();

  // Filtered, paged query (see QueryEventsRequest). A page holds at most
  // page_size entries and about kMaxResponseBytes of them (at least one).
  // For a child query the response names the child's pseudonym and, without
  // a time range, the newest leaf carrying it (child_chain_head, from the
  // verified leaves). INVALID_ARGUMENT for a bad page size, page token,
  // kind or child identifier. Page tokens are bound to the filters (and, from
  // AuditedQueryEvents, to the auditor: services/common/paging.h). Not
  // recorded: see AuditedQueryEvents.
  absl::StatusOr<kinex::audit::v1::QueryEventsResponse> QueryEvents(
      const kinex::audit::v1::QueryEventsRequest& request) const {
    return QueryEventsAs("", request);
  }

  // Who asked a query, for its AUDIT_QUERIED event.
  struct QueryCaller {
    // SPIFFE ID of the auditor (or of the Kinex service that asked).
    std::string principal;
    // The auditor's agency; unset for a Kinex service.
    kinex::common::v1::AgencyKind agency_kind = kinex::common::v1::AGENCY_KIND_UNSPECIFIED;
    std::string agency_code;
    // x-kinex-actor, as asserted.
    std::string actor;
    // The request id (1-128 printable ASCII); generated when empty.
    std::string request_id;
  };

  // QueryEvents, itself audited: appends one AUDIT_QUERIED event (the
  // caller, CanonicalQueryText in `query`, result_count = the entries
  // returned) and only then returns the page. UNAVAILABLE when that event
  // cannot be appended (nothing is returned); query errors as QueryEvents
  // (not recorded: they return nothing).
  absl::StatusOr<kinex::audit::v1::QueryEventsResponse> AuditedQueryEvents(
      const QueryCaller& caller, const kinex::audit::v1::QueryEventsRequest& request);

  // GetEntries, itself audited like a query: the raw entries are every
  // event in a range, so an auditor reading them is recorded (one
  // AUDIT_QUERIED event per page, `query` "entries start_index=A
  // end_index=B", result_count = entries returned) before the page is
  // returned. UNAVAILABLE when that event cannot be appended.
  absl::StatusOr<kinex::audit::v1::GetEntriesResponse> AuditedGetEntries(
      const QueryCaller& caller, const kinex::audit::v1::GetEntriesRequest& request);

  // The canonical text of a query's filters, for AUDIT_QUERIED events: the
  // set filters in a fixed order, "name=value" separated by spaces, e.g.
  // "child=<pseudonym> agency_kind=SCHOOL kinds=PART_PUBLISHED,WRITE_REFUSED
  // page_token=...". Values with spaces or quotes are C-escaped in quotes.
  static std::string CanonicalQueryText(const kinex::audit::v1::QueryEventsRequest& request,
                                        absl::string_view child_pseudonym);

  // Raw entries [start, min(end, start + 1000, Size())), as stored, and at
  // most about kMaxResponseBytes of them (always at least one). With
  // include_index, each entry's query-index rows as stored.
  absl::StatusOr<kinex::audit::v1::GetEntriesResponse> GetEntries(
      const kinex::audit::v1::GetEntriesRequest& request) const;

  // Inclusion proof of a leaf in the tree of tree_size (0: latest head).
  absl::StatusOr<kinex::audit::v1::GetInclusionProofResponse> GetInclusionProof(
      const kinex::audit::v1::GetInclusionProofRequest& request) const;

  // Consistency proof between two tree sizes.
  absl::StatusOr<kinex::audit::v1::GetConsistencyProofResponse> GetConsistencyProof(
      const kinex::audit::v1::GetConsistencyProofRequest& request) const;

 private:
  // QueryEvents with its page tokens bound to `caller` (a principal).
  absl::StatusOr<kinex::audit::v1::QueryEventsResponse> QueryEventsAs(
      absl::string_view caller, const kinex::audit::v1::QueryEventsRequest& request) const;
  // Appends the AUDIT_QUERIED event of one read by `caller`; UNAVAILABLE
  // (saying nothing is returned) when it cannot.
  absl::Status RecordQuery(const QueryCaller& caller, absl::string_view method, std::string query,
                           int64_t result_count);

  // An Append waiting for its batch.
  struct Pending {
    kinex::audit::v1::AuditEvent event;
    absl::Notification done;
    absl::Status status;
    uint64_t leaf_index = 0;
    Hash leaf_hash{};
    kinex::audit::v1::SignedTreeHead head;
    // Idempotent repeats: the earlier Pending of the same batch with the same
    // key, or (existing) a leaf already in the log.
    Pending* same_as = nullptr;
    bool existing = false;
    bool failed = false;
    // The notifications the event creates (keys and times set at commit)
    // and the state changes it records (leaf and time set at commit).
    std::vector<StoredNotification> notifications;
    std::vector<NotificationChange> changes;
    // Set on a batch's first Pending only: the rest of its batch, which its
    // caller wakes (ResultOf) before it reads its own result.
    std::vector<Pending*> wake;
  };

  // Moves `pending`'s notify intents into rows and `notified`, and checks
  // a notification event against the rows it names: each exists and is
  // addressed to the event's agency (ESCALATED: an ENCOMPASS one), and a
  // review names a BREAK_GLASS_REVIEW. INVALID_ARGUMENT /
  // FAILED_PRECONDITION (NOTIFICATION_NOT_FOUND) naming the id.
  absl::Status PrepareNotifications(Pending& pending);
  // Whether `event` (pseudonymised) carries the pseudonym of the child
  // `kinex_id`: the check that a notification names a child its leaf binds.
  bool RecordsChild(const kinex::audit::v1::AuditEvent& event, const std::string& kinex_id) const;
  // A stored row as its recipient sees it, after checking it against its
  // verified leaf (DATA_LOSS, AUDIT_INDEX_TAMPERED, when they disagree).
  absl::StatusOr<kinex::notifications::v1::Notification> VerifiedNotification(
      const StoredNotification& row) const;
  // The decoded leaf `leaf_index`, read and checked against the verified
  // tree once, then kept in a small cache (leaves never change once
  // verified): a notification read by many watchers is verified once.
  absl::StatusOr<std::shared_ptr<const kinex::audit::v1::AuditEvent>> VerifiedLeaf(
      uint64_t leaf_index) const;
  static constexpr size_t kLeafCacheSize = 4096;
  mutable absl::Mutex leaf_cache_mu_;
  mutable absl::flat_hash_map<uint64_t, std::shared_ptr<const kinex::audit::v1::AuditEvent>>
      leaf_cache_ ABSL_GUARDED_BY(leaf_cache_mu_);
  mutable std::deque<uint64_t> leaf_cache_order_ ABSL_GUARDED_BY(leaf_cache_mu_);

  AuditLog(Options options, TreeHeadKeyring keyring);
  // Validates and pseudonymises `event` into `pending`.
  absl::Status Prepare(const kinex::audit::v1::AuditEvent& event, Pending& pending);
  // The receipt parts of a committed `pending`.
  absl::StatusOr<AppendResult> ResultOf(Pending& pending) const;
  // Start-up: from the newest checkpoint that verifies, else the whole log.
  absl::Status Recover();
  // Re-hashes and checks the stored leaves from recomputer.size() on with
  // their index rows, then `heads` (a checkpoint's head and those after it,
  // or all); sets latest_head_. DATA_LOSS naming the first problem (prefixed
  // "audit log is corrupt; refusing to start" when `full`).
  absl::Status Replay(LogRecomputer& recomputer,
                      std::vector<kinex::audit::v1::SignedTreeHead> heads, bool full);
  // Appends the stored heads with tree_size > size to `heads`.
  absl::Status ListHeadsAfter(uint64_t size, std::vector<kinex::audit::v1::SignedTreeHead>& heads);
  // Takes the recomputed tree (made lean) and chains.
  absl::Status Finish(LogRecomputer& recomputer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu_);
  uint64_t RecentLeaves() const;
  // Whether checkpoint_interval leaves were appended since the last.
  bool CheckpointDue() const;
  static LeafHashReader StoreLeafHashReader(LogStorage* storage);
  // Reads the blocks' stored eighths from `storage` (checked by the tree).
  static BlockEighthsReader StoreEighthsReader(LogStorage* storage);
  void SequencerLoop();
  void SignerLoop();
  void CommitBatch(std::vector<Pending*>& batch);
  absl::Time NextHeadTime() const ABSL_SHARED_LOCKS_REQUIRED(tree_mu_);
  // Checks the stored query index against the leaves [begin, begin +
  // events.size()) just recomputed.
  absl::Status CheckIndexChunk(uint64_t begin,
                               const std::vector<kinex::audit::v1::AuditEvent>& events);
  // The verified leaf already holding `key`, if any (DATA_LOSS when the
  // stored key names a leaf that does not carry it).
  absl::StatusOr<std::optional<std::pair<uint64_t, Hash>>> FindKey(const std::string& key);

  const Options options_;
  // The signer's public key (current) and the retired keys.
  const TreeHeadKeyring keyring_;

  // The queue of appends waiting for the sequencer.
  mutable absl::Mutex queue_mu_;
  std::deque<Pending*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;

  // Held while committing (sequencer batch or idle head), so heads are signed
  // over exactly what is stored, in order.
  absl::Mutex commit_mu_ ABSL_ACQUIRED_BEFORE(tree_mu_);
  // Set when a commit failed in a way that left storage and memory possibly
  // out of step: every later append fails closed until restart.
  bool broken_ ABSL_GUARDED_BY(commit_mu_) = false;

  // The committed tree and heads. Writers: the sequencer and SignIfIdle
  // (under commit_mu_). Readers: proofs and queries.
  mutable absl::Mutex tree_mu_;
  MerkleTree tree_ ABSL_GUARDED_BY(tree_mu_);
  CompactRange range_ ABSL_GUARDED_BY(tree_mu_);
  // Event times never decrease along the log. Memory keeps the time of the
  // first leaf of each block of 2^lean_level leaves (verified at start-up);
  // a time boundary inside a block is found by reading that block's
  // entries, each checked against the tree.
  std::vector<int64_t> block_first_micros_ ABSL_GUARDED_BY(tree_mu_);
  int64_t last_micros_ ABSL_GUARDED_BY(tree_mu_) = 0;
  uint64_t block_size() const { return uint64_t{1} << options_.lean_level; }
  void NoteTime(uint64_t leaf_index, int64_t micros) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu_);
  // Index of the first leaf with a time >= micros (the log size if none).
  absl::StatusOr<uint64_t> FirstLeafAtOrAfter(int64_t micros) const
      ABSL_SHARED_LOCKS_REQUIRED(tree_mu_);
  kinex::audit::v1::SignedTreeHead latest_head_ ABSL_GUARDED_BY(tree_mu_);
  // The latest leaf of each child pseudonym and agency (committed leaves).
  ChainTracker chains_ ABSL_GUARDED_BY(tree_mu_);

  // Checkpoints: the block rows stored (0..blocks_stored_-1) and their
  // digest, and the size of the newest checkpoint. Taken before commit_mu_
  // and tree_mu_.
  mutable absl::Mutex checkpoint_mu_ ABSL_ACQUIRED_BEFORE(commit_mu_);
  uint64_t blocks_stored_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;
  Hash blocks_digest_ ABSL_GUARDED_BY(checkpoint_mu_) = EmptyBlocksDigest();
  uint64_t checkpoint_size_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;
  bool checkpoints_unsupported_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  StartInfo start_info_ ABSL_GUARDED_BY(checkpoint_mu_);

  // Stops the signer thread.
  absl::Mutex signer_mu_;
  bool signer_stop_ ABSL_GUARDED_BY(signer_mu_) = false;
  // When the signer thread next prunes notifications (by the real clock).
  absl::Time next_prune_ ABSL_GUARDED_BY(signer_mu_) = absl::InfinitePast();

  std::thread sequencer_;
  std::thread signer_;
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_AUDIT_LOG_H_
