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
// At Create the whole log is read back and recomputed (LogRecomputer): every
// leaf is re-hashed and decoded, and every stored signed head is checked,
// each with the key its key_id names (the current signing key or one of
// options.retired_keys, so the log survives a key rotation). Any
// mismatch fails Create with DATA_LOSS naming the first bad leaf index, so a
// corrupt log is never served.
//
// A head is also signed when the log is idle (every sign_interval), so anyone
// holding an older head sees a fresh timestamp and can detect truncation.
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
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "kinex/audit/v1/audit.pb.h"
#include "services/audit/audit_sink.h"
#include "services/audit/event_codec.h"
#include "services/audit/log_storage.h"
#include "services/audit/merkle.h"
#include "services/audit/tree_head.h"
#include "services/common/clock.h"

namespace kinex::audit {

// The audit log. Thread-safe.
class AuditLog final : public AuditSink {
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
    // then about 1 byte per leaf instead of 64 (MerkleTree::MakeLean).
    int lean_level = 6;
    uint64_t recent_leaves = 8192;
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
  absl::StatusOr<AppendResult> Append(
      const kinex::audit::v1::AuditEvent& event) override;

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

  // Filtered, paged query (see QueryEventsRequest). INVALID_ARGUMENT for a
  // bad page size, page token or child identifier.
  absl::StatusOr<kinex::audit::v1::QueryEventsResponse> QueryEvents(
      const kinex::audit::v1::QueryEventsRequest& request) const;

  // Raw entries [start, min(end, start + 1000, Size())), as stored.
  absl::StatusOr<kinex::audit::v1::GetEntriesResponse> GetEntries(
      const kinex::audit::v1::GetEntriesRequest& request) const;

  // Inclusion proof of a leaf in the tree of tree_size (0: latest head).
  absl::StatusOr<kinex::audit::v1::GetInclusionProofResponse> GetInclusionProof(
      const kinex::audit::v1::GetInclusionProofRequest& request) const;

  // Consistency proof between two tree sizes.
  absl::StatusOr<kinex::audit::v1::GetConsistencyProofResponse>
  GetConsistencyProof(
      const kinex::audit::v1::GetConsistencyProofRequest& request) const;

 private:
  // An Append waiting for its batch.
  struct Pending {
    kinex::audit::v1::AuditEvent event;
    absl::Notification done;
    absl::Status status;
    uint64_t leaf_index = 0;
    Hash leaf_hash{};
    kinex::audit::v1::SignedTreeHead head;
  };

  AuditLog(Options options, TreeHeadKeyring keyring);
  absl::Status Recover();
  void SequencerLoop();
  void SignerLoop();
  void CommitBatch(std::vector<Pending*>& batch);
  absl::Time NextHeadTime() const ABSL_SHARED_LOCKS_REQUIRED(tree_mu_);

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

  // Stops the signer thread.
  absl::Mutex signer_mu_;
  bool signer_stop_ ABSL_GUARDED_BY(signer_mu_) = false;

  std::thread sequencer_;
  std::thread signer_;
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_AUDIT_LOG_H_
