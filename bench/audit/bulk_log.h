// Bulk building of audit logs for benchmarks: grows a log through
// LogStorage::Append in big batches, far faster than AuditLog::Append (no
// group commit, one transaction and one signed head per batch), yet the log
// it writes is exactly what AuditLog would have written for the same events,
// so AuditLog::Create opens and verifies it: the real canonical encoding
// (event_codec.h), real leaf hashes, real keyed pseudonyms, the chain links
// of ChainTracker, non-decreasing event times, a signed tree head over
// every batch and, at the end of each GrowTo, a start-up checkpoint
// (checkpoint.h) as the log writes them, so the log's next start re-hashes
// none of the bulk-built leaves. What it does not write: notifications
// (events must not ask for any).
//
// Used by audit_bench (BigDb: the 1M-entry log of the proof and start-up
// benchmarks) and audit_scale_bench (growth between measurements; the
// measured appends go through AuditLog, and the builder catches up with
// them before it grows the log again).
//
// Batches are pipelined: while one batch commits (the storage's writer, on
// one thread kept for the whole GrowTo), the next is built, pseudonymised,
// encoded and hashed on the calling thread.
//
// Example:
//   auto builder = *BulkLogBuilder::Create({.signer = signer,
//                                           .pseudonymizer = pseudonymizer});
//   KINEX_RETURN_IF_ERROR(builder->CatchUp(*storage));  // an existing log
//   KINEX_RETURN_IF_ERROR(builder->GrowTo(*storage, 1000000, [](uint64_t i) {
//     return MyEvent(i);  // input form: children as ChildRefs
//   }));
#ifndef KINEX_BENCH_AUDIT_BULK_LOG_H_
#define KINEX_BENCH_AUDIT_BULK_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kinex/audit/v1/audit.pb.h"
#include "services/audit/checkpoint.h"
#include "services/audit/event_codec.h"
#include "services/audit/log_storage.h"
#include "services/audit/log_verifier.h"
#include "services/audit/merkle.h"
#include "services/audit/tree_head.h"

namespace kinex::audit::bench {

// The event of leaf `index`, as a caller gives it to AuditLog::Append:
// children as ChildRefs, time and the output-only fields unset, no notify.
using EventMaker = std::function<kinex::audit::v1::AuditEvent(uint64_t index)>;

// Grows one log. Not thread-safe. Keeps the log's derived state in memory
// (the compact range of the tree, the chain heads of ChainTracker, the last
// time) between calls, so the storage may be closed and reopened, and other
// writers (an AuditLog) may append in between: CatchUp reads what they
// wrote. After an error the builder's state may be ahead of the store: do
// not use it further.
class BulkLogBuilder {
 public:
  struct Options {
    // Required. Signs a head per batch (the log's own key, so the log
    // accepts them).
    std::shared_ptr<const TreeHeadSigner> signer;
    // Required. The log's pseudonymiser (same key as the log's).
    std::shared_ptr<const ChildPseudonymizer> pseudonymizer;
    // Default 10,000. Entries per transaction (and per signed head).
    size_t batch_size = 10000;
    // Event times: leaf i gets first_time + i * spacing, or the log's last
    // time if that is later (times never decrease along a log). Default
    // 2026-09-01T00:00:00Z and 10 ms (100 events a second).
    absl::Time first_time = absl::FromUnixSeconds(1788220800);
    absl::Duration spacing = absl::Milliseconds(10);
    // Default true: ValidateAppendEvent on every event (what AuditLog
    // refuses, the builder refuses, INVALID_ARGUMENT naming the leaf).
    bool validate = true;
    // Default true: each GrowTo that appended ends with a checkpoint at the
    // log's size, block rows at `lean_level` (which must be the log's
    // AuditLog::Options::lean_level, else the log ignores the checkpoint and
    // re-hashes everything). False: none, so the log's first open re-hashes
    // every leaf (what audit_bench's BM_Startup1M measures).
    bool checkpoints = true;
    int lean_level = 6;
  };

  // INVALID_ARGUMENT naming a missing option.
  static absl::StatusOr<std::unique_ptr<BulkLogBuilder>> Create(Options options);

  // Reads the entries `storage` holds beyond size() (all of them the first
  // time), re-hashing and decoding each, so later batches link to them and
  // the tree covers them; stores an initial empty-tree head when the store
  // has none. DATA_LOSS when a stored leaf does not decode or its hash is
  // wrong; storage errors as returned.
  absl::Status CatchUp(LogStorage& storage);

  // Catches up, then appends make(size()), make(size() + 1), ... until the
  // log holds `size` entries, in batches of batch_size, each committed with
  // a head signed over the whole log, then (Options::checkpoints) stores a
  // checkpoint at the new size. `progress`, when set, is called after each
  // batch with the log's new size.
  absl::Status GrowTo(LogStorage& storage, uint64_t size, const EventMaker& make,
                      const std::function<void(uint64_t)>& progress = nullptr);

  // Entries in the log as the builder knows it.
  uint64_t size() const { return range_.size(); }
  // The time of the log's newest event or head.
  absl::Time last_time() const { return absl::FromUnixMicros(last_micros_); }
  // Total bytes of the canonical leaves the builder encoded (not those it
  // read in CatchUp), and how many: for the average encoded leaf size.
  uint64_t encoded_bytes() const { return encoded_bytes_; }
  uint64_t encoded_leaves() const { return encoded_leaves_; }

 private:
  explicit BulkLogBuilder(Options options) : options_(std::move(options)) {}

  // Builds the NewEntry of leaf size() from `event` (input form) and
  // records it in the builder's state.
  absl::StatusOr<NewEntry> Build(kinex::audit::v1::AuditEvent event);
  // The pseudonym of `child`, computed once per distinct identifier.
  absl::StatusOr<std::string> Pseudonym(const kinex::common::v1::ChildRef& child);
  // Adds leaf size() with `hash` and event time `micros` to the tree and
  // to the checkpoint's block rows.
  void AddLeaf(const Hash& hash, int64_t micros);
  // Stores a checkpoint at size(), `head` being the head signed at it.
  absl::Status PutCheckpoint(LogStorage& storage, const kinex::audit::v1::SignedTreeHead& head);

  const Options options_;
  CompactRange range_;
  ChainTracker chains_;
  int64_t last_micros_ = 0;
  // The checkpoint's state (checkpoint.h): the leaves of the block begun
  // (its first leaf's time), the digest of every full block, the full
  // blocks the store does not hold yet (from blocks_stored_ on), the time
  // of the newest leaf.
  CompactRange block_;
  // The eighth of that block begun, and the hashes of its eighths completed.
  CompactRange eighth_;
  std::vector<Hash> block_eighths_;
  int64_t block_first_micros_ = 0;
  Hash blocks_digest_ = EmptyBlocksDigest();
  std::vector<TreeBlock> unstored_blocks_;
  uint64_t blocks_stored_ = 0;
  int64_t last_leaf_micros_ = 0;
  absl::flat_hash_map<std::string, std::string> pseudonyms_;
  uint64_t encoded_bytes_ = 0;
  uint64_t encoded_leaves_ = 0;
};

}  // namespace kinex::audit::bench

#endif  // KINEX_BENCH_AUDIT_BULK_LOG_H_
