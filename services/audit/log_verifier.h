// Recomputing and verifying a whole audit log, and checking disclosure
// receipts. Shared by the log's start-up check (audit_log.h), `kinexctl audit
// verify`, `kinexctl audit receipt verify` and the tests, so there is one
// implementation of "is this log intact".
//
// Every problem is DATA_LOSS with a message that starts
// "leaf index N: ..." naming the first bad index, so operators and auditors
// know where to look. Problems of the query index (the child-pseudonym rows
// storage keeps beside the leaves) start "index: leaf N: ...". A consistent
// rewrite (data and stored leaf hash changed together: every leaf checks
// out on its own) is bracketed by the signed heads and starts "leaf range
// A-B: ..." (LocateRewrite).
//
// The chain: every version-2 leaf carries, inside its hash, for each of its
// child pseudonyms the leaf index of the previous event carrying that
// pseudonym (child_chain; -1 for the first), and the previous event by the
// same agency (previous_agency_leaf_index). ChainTracker computes them when
// the log sequences events and checks them when a log is recomputed, so the
// links are as trustworthy as the leaves; the index rows are then checked
// against the leaves (CheckIndexRows), and a per-child answer against the
// links (CheckChildChain).
//
// Example:
//   LogRecomputer log;
//   for (const StoredEntry& row : rows) KINEX_RETURN_IF_ERROR(log.Add(row));
//   KINEX_RETURN_IF_ERROR(log.CheckHeads(heads, &verifier));
#ifndef KINEX_SERVICES_AUDIT_LOG_VERIFIER_H_
#define KINEX_SERVICES_AUDIT_LOG_VERIFIER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kinex/audit/v1/audit.pb.h"
#include "kinex/audit/v1/checkpoint.pb.h"
#include "kinex/exchange/v1/exchange.pb.h"
#include "services/audit/log_storage.h"
#include "services/audit/merkle.h"
#include "services/audit/tree_head.h"

namespace kinex::audit {

// The leaf index of the latest event of each child pseudonym and of each
// agency (agency_kind, agency_code): the source of the chain links. Memory:
// one slot per distinct pseudonym in a flat hash map, keyed by the 32-byte
// HMAC (not the 64-character hex), 40 bytes a slot, about 46-90 bytes with
// the table's slack: roughly 200 bytes per child known by three
// identifiers, 200 MB per million children. Agencies are few. Not
// thread-safe.
class ChainTracker {
 public:
  // The latest leaf carrying `pseudonym`, or -1.
  int64_t LastOfChild(absl::string_view pseudonym) const;
  // The latest leaf by the agency, or -1.
  int64_t LastOfAgency(int agency_kind, absl::string_view agency_code) const;
  // Sets event.child_chain (one link per child_pseudonyms entry, same order)
  // and previous_agency_leaf_index from what is recorded here, or from
  // `newer` first when it knows the pseudonym or agency (a batch's own
  // events, not yet recorded here).
  void Link(kinex::audit::v1::AuditEvent& event, const ChainTracker* newer = nullptr) const;
  // Records `event` at `leaf_index` as the latest of its pseudonyms and of
  // its agency.
  void Record(uint64_t leaf_index, const kinex::audit::v1::AuditEvent& event);
  // Checks that a version-2 leaf's links are exactly what Link gives here.
  // DATA_LOSS "leaf index N: ..." naming the bad link.
  absl::Status Check(uint64_t leaf_index, const kinex::audit::v1::AuditEvent& event) const;
  // Number of distinct pseudonyms.
  size_t children() const { return children_.size(); }
  // Its state as a checkpoint's child_keys, child_last_leaf and
  // agency_last_leaf (checkpoint.h), and back (from a verified checkpoint).
  void ExportTo(kinex::audit::v1::LogCheckpoint& checkpoint) const;
  static ChainTracker ImportFrom(const kinex::audit::v1::LogCheckpoint& checkpoint);

 private:
  using Key = std::array<uint8_t, 32>;
  static Key KeyOf(absl::string_view pseudonym);
  absl::flat_hash_map<Key, int64_t> children_;
  absl::flat_hash_map<std::string, int64_t> agencies_;
};

// Compares the query-index rows stored for one leaf (`rows`, sorted) with
// the leaf's child_pseudonyms. DATA_LOSS "index: leaf N: child pseudonym row
// missing (pseudonym <hex prefix>...)" or "index: leaf N: child pseudonym
// row <hex prefix>... matches nothing in the leaf (altered or added)".
absl::Status CheckIndexRows(uint64_t leaf_index, const kinex::audit::v1::AuditEvent& event,
                            absl::Span<const std::string> rows);

// Checks a per-child answer end to end: `entries` (oldest first, every
// entry the log holds for `pseudonym` up to `head`, the newest) must each
// carry `pseudonym`, link to the entry before it (the oldest to -1), and the
// newest must be `head` (-1: no entries). Version-1 entries carry no links;
// a chain is checked from the first version-2 entry on, which must link to
// the entry before it. DATA_LOSS "index: leaf N: ..." naming the leaf where
// the chain breaks (a row missing from the query index, or one added).
absl::Status CheckChildChain(absl::string_view pseudonym,
                             absl::Span<const kinex::audit::v1::LogEntry> entries, int64_t head);

// A signed tree head and where a verifier got it.
struct SourcedHead {
  enum class Source {
    kStored,   // the log's own heads (its store, GetSignedTreeHead, GetEntries)
    kSaved,    // a head an auditor saved from an earlier run (--saved-head)
    kReceipt,  // the head inside a disclosure receipt an agency kept
  };
  kinex::audit::v1::SignedTreeHead head;
  Source source = Source::kStored;
  // The file it came from (saved heads and receipts), for messages.
  std::string file;
  // "the signed tree head at size 8192", "the saved head at size 900
  // (head.json)", "the receipt's head at size 12 (r1.json)".
  std::string Describe() const;
};

// Names the first bad leaf range of a log whose leaves each check out but
// whose recomputed tree (`tree`) does not match every head: the first head by
// size whose root differs from the recomputed root at its size, and the last
// head below it that still matches. A head held elsewhere (saved, receipt)
// is only bracketed by other heads held elsewhere, since the log's own heads
// can be re-signed by whoever holds the signing key beside the log.
// OK when every head (with tree_size <= tree.size()) matches; else DATA_LOSS
//   "leaf range 4096-8191: entries do not match the signed tree head at size
//   8192 (the head at size 4096 still matches)".
// When a head held elsewhere fails while one of the log's own heads at that
// size or later matches, the message adds "; the log's own heads match the
// rewritten entries: they were re-signed". Signatures are not checked here.
absl::Status LocateRewrite(const MerkleTree& tree, absl::Span<const SourcedHead> heads);

// Rebuilds the Merkle tree from entries read in order, checking each one:
// no index missing or repeated, the stored leaf hash equals the hash of the
// stored data, the data is a canonical event encoding the same leaf index,
// and event times never decrease. Not thread-safe.
class LogRecomputer {
 public:
  LogRecomputer() = default;
  // Continues a verified checkpoint (checkpoint.h) at `chains_at` leaves:
  // `tree` holds the leaves up to the checkpoint's last full block
  // (tree.size() <= chains_at), `chains` the links after `chains_at` leaves
  // and `last_micros` the time of leaf chains_at - 1. The leaves from
  // tree.size() to chains_at are re-hashed and decoded but not linked again
  // (`chains` already has them); times_micros() starts at chains_at.
  LogRecomputer(MerkleTree tree, ChainTracker chains, uint64_t chains_at, int64_t last_micros);

  // Checks and adds the next row (including its chain links, against the
  // rows before it). DATA_LOSS naming the first bad leaf index; after an
  // error the recomputer must not be used further. When `event` is not null
  // it receives the decoded event.
  absl::Status Add(const StoredEntry& row, kinex::audit::v1::AuditEvent* event = nullptr);

  // Number of entries added.
  uint64_t size() const { return tree_.size(); }
  // The recomputed tree.
  const MerkleTree& tree() const { return tree_; }
  MerkleTree TakeTree() { return std::move(tree_); }
  // Event times (Unix microseconds) by leaf index, from times_begin().
  const std::vector<int64_t>& times_micros() const { return times_; }
  uint64_t times_begin() const { return chains_at_; }
  std::vector<int64_t> TakeTimes() { return std::move(times_); }
  // The latest leaf of each pseudonym and agency.
  ChainTracker TakeChains() { return std::move(chains_); }

  // Checks one signed head: its signature (when `verifier` is not null),
  // that the log holds at least tree_size entries (else the log was
  // truncated: DATA_LOSS naming the first missing index) and that the root
  // over the first tree_size entries matches.
  absl::Status CheckHead(const kinex::audit::v1::SignedTreeHead& head,
                         const HeadVerifier* verifier) const;

  // Checks every head (in storage order). On a root mismatch, names the
  // range between the last head that matched and the first that did not
  // (LocateRewrite: "leaf range A-B: ...").
  absl::Status CheckHeads(absl::Span<const kinex::audit::v1::SignedTreeHead> heads,
                          const HeadVerifier* verifier) const;

 private:
  MerkleTree tree_;
  std::vector<int64_t> times_;
  ChainTracker chains_;
  uint64_t chains_at_ = 0;
  int64_t last_micros_ = std::numeric_limits<int64_t>::min();
};

// Fetches entries [start, end) (the response may hold fewer; an empty one
// ends the fetch early). For VerifyOptions::check_index the entries must
// carry indexed_pseudonyms (GetEntriesRequest.include_index).
using EntryFetcher = std::function<absl::StatusOr<kinex::audit::v1::GetEntriesResponse>(
    uint64_t start, uint64_t end)>;

// What a full verification established.
struct VerifiedLog {
  uint64_t tree_size = 0;
  Hash root{};
};

// Which heads a verification checked the log against (filled on success and
// on failure).
struct VerifyReport {
  // Distinct stored heads checked (GetEntriesResponse.heads and the current
  // head).
  size_t stored_heads = 0;
  // The saved heads and receipts' heads checked.
  std::vector<SourcedHead> held;
  // "checked against: 12 stored heads, saved head at size 900 (head.json),
  // 2 receipts".
  std::string Summary() const;
};

struct VerifyOptions {
  // Also compare each entry's query-index rows (LogEntry.indexed_pseudonyms)
  // with its leaf (CheckIndexRows).
  bool check_index = false;
  // Heads held outside the log (saved heads, receipts' heads), each checked
  // like saved_heads; receipts are also checked on their own (VerifyReceipt
  // needs the receipt: see receipts).
  std::vector<SourcedHead> held_heads;
  // Receipts an agency kept, with their file names: each is checked on its
  // own (signature, inclusion proof) and its head against the log.
  std::vector<std::pair<kinex::exchange::v1::DisclosureReceipt, std::string>> receipts;
  // When not null, receives which heads were used.
  VerifyReport* report = nullptr;
};

// The offline check behind `kinexctl audit verify`: fetches every entry of
// the tree `head` commits to, recomputes the tree (LogRecomputer), and checks
// the head's signature and root, and every stored head the pages carry
// (GetEntriesRequest.include_heads), so a consistent rewrite is named by the
// heads that bracket it (LocateRewrite). Each of `saved_heads` (heads kept by the
// auditor from earlier runs) must be signed by a key `verifier` accepts (a
// TreeHeadKeyring accepts heads from before a key rotation) and be a prefix
// of the log: the recomputed root at its size must equal its root (which is
// exactly what a consistency proof shows, without trusting the server's
// proof). DATA_LOSS naming the first bad leaf index; FAILED_PRECONDITION for
// signature problems.
absl::StatusOr<VerifiedLog> VerifyLog(
    const EntryFetcher& fetch, const kinex::audit::v1::SignedTreeHead& head,
    const HeadVerifier& verifier,
    absl::Span<const kinex::audit::v1::SignedTreeHead> saved_heads = {},
    VerifyOptions options = {});

// Verifies a server's consistency proof between a saved head and a newer one
// (both signatures, then RFC 9162 consistency). FAILED_PRECONDITION naming
// the problem; a saved head larger than the current one means truncation.
absl::Status VerifyHeadConsistency(const kinex::audit::v1::SignedTreeHead& saved,
                                   const kinex::audit::v1::SignedTreeHead& current,
                                   absl::Span<const std::string> proof,
                                   const HeadVerifier& verifier);

// A StoredEntry from a LogEntry fetched with GetEntries. DATA_LOSS when the
// stored leaf hash is not 32 bytes.
absl::StatusOr<StoredEntry> StoredEntryFromLogEntry(const kinex::audit::v1::LogEntry& entry);

// Checks a disclosure receipt on its own: the tree head's signature under
// `verifier`, and the inclusion proof of receipt.leaf_hash at leaf_index to
// the head's root. FAILED_PRECONDITION / INVALID_ARGUMENT naming the problem.
absl::Status VerifyReceipt(const kinex::exchange::v1::DisclosureReceipt& receipt,
                           const HeadVerifier& verifier);

// Checks that a receipt describes the logged entry: same leaf index, the
// entry's leaf hash, and the same disclosed paths, withheld categories and
// policy version. FAILED_PRECONDITION naming the first difference.
absl::Status VerifyReceiptMatchesEntry(const kinex::exchange::v1::DisclosureReceipt& receipt,
                                       const kinex::audit::v1::LogEntry& entry);

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_LOG_VERIFIER_H_
