// Start-up checkpoints of the audit log: what lets a restart re-hash only
// the leaves written since the last checkpoint instead of the whole log.
//
// The Merkle tree the log keeps in memory holds every hash at and above
// level L (AuditLog::Options::lean_level); below it, hashes come from the
// stored leaves. A checkpoint at tree size N is:
//   - the block rows: the hash of each full block of 2^L leaves below N and
//     its first leaf's time, stored as rows (LogStorage::PutCheckpoint
//     writes only the rows new since the last checkpoint);
//   - a sealed LogCheckpoint (proto/kinex/audit/v1/checkpoint.proto): N, L,
//     a digest of the block rows (a hash chain, BlocksDigest), the log's
//     other derived state after N leaves (the latest leaf of each child
//     pseudonym and agency, which new leaves link to; the times), and the
//     signed tree head at N; signed by the log's key.
//
// A checkpoint is accepted only when (OpenCheckpoint, AuditLog::Recover)
// its signature verifies with the log's current key, the block rows hash to
// its digest, and the block hashes together with the leaves after the last
// full block (re-hashed from the store) give the root of the signed tree
// head it names. So a store edited after the fact cannot shorten start-up
// into accepting anything the signed heads do not commit to; what start-up
// no longer does is re-hash the entries below the checkpoint. Those are
// checked when read (every proof checks its block against the verified
// block hash), by `kinexctl audit verify` (the whole log, offline), and at
// start-up with the audit option `verify_on_start: full`.
//
// The signature input is "kinex-audit-checkpoint-v1" 0x00 || SHA-256(body),
// a domain of its own, so a checkpoint signature never verifies as a tree
// head's.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(std::string sealed, SealCheckpoint(checkpoint, signer));
//   KINEX_ASSIGN_OR_RETURN(v1::LogCheckpoint opened, OpenCheckpoint(sealed, verifier));
#ifndef KINEX_SERVICES_AUDIT_CHECKPOINT_H_
#define KINEX_SERVICES_AUDIT_CHECKPOINT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kinex/audit/v1/checkpoint.pb.h"
#include "services/audit/log_storage.h"
#include "services/audit/merkle.h"
#include "services/audit/tree_head.h"

namespace kinex::audit {

// The format version this binary writes and reads.
inline constexpr uint32_t kCheckpointVersion = 1;

// The digest of no block rows.
Hash EmptyBlocksDigest();

// The digest of block rows 0..index after `digest` covers rows 0..index-1:
// SHA-256("kinex-audit-blocks-v1" 0x00 || digest || index (u64 BE) || hash
// || first_micros (i64 BE)).
Hash ExtendBlocksDigest(const Hash& digest, uint64_t index, const TreeBlock& block);

// Signs `checkpoint` with `signer`; the SealedLogCheckpoint's bytes.
absl::StatusOr<std::string> SealCheckpoint(const kinex::audit::v1::LogCheckpoint& checkpoint,
                                           const TreeHeadSigner& signer);

// What a checkpoint at tree_size records besides the chain heads (which
// ChainTracker::ExportTo writes) and the block rows (stored apart, through
// LogStorage::PutCheckpoint).
struct CheckpointState {
  uint64_t tree_size = 0;
  int level = 0;
  // ExtendBlocksDigest over the rows of every full block below tree_size.
  Hash blocks_digest{};
  // The first leaf's time of the block after the last full one, if that
  // block has leaves.
  std::optional<int64_t> partial_first_micros;
  // The latest leaf's time.
  int64_t last_micros = 0;
  // The signed tree head at tree_size.
  kinex::audit::v1::SignedTreeHead head;
};

// Completes `cp` (a LogCheckpoint holding only the chain heads ChainTracker::
// ExportTo wrote) with `state` and the format version, and seals it with
// `signer` (SealCheckpoint). AuditLog::WriteCheckpoint and the benchmarks'
// bulk builder (bench/audit/bulk_log.h) make their checkpoints with it.
absl::StatusOr<std::string> SealCheckpointOf(const CheckpointState& state,
                                             kinex::audit::v1::LogCheckpoint cp,
                                             const TreeHeadSigner& signer);

// Checks `sealed`'s signature with `verifier` and parses it. FAILED_
// PRECONDITION naming what is wrong: not a sealed checkpoint, another key,
// a bad signature, another format version, a malformed body (block hashes
// not whole, keys and leaves of different lengths, a level outside 1..30).
absl::StatusOr<kinex::audit::v1::LogCheckpoint> OpenCheckpoint(absl::string_view sealed,
                                                               const TreeHeadVerifier& verifier);

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_CHECKPOINT_H_
