#include "services/audit/log_verifier.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "services/audit/event_codec.h"
#include "services/common/status_macros.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::v1::SignedTreeHead;

absl::Status Corrupt(uint64_t index, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("leaf index ", index, ": ", what));
}

}  // namespace

absl::Status LogRecomputer::Add(const StoredEntry& row,
                                kinex::audit::v1::AuditEvent* event) {
  const uint64_t expected = tree_.size();
  if (row.leaf_index > expected) {
    return Corrupt(expected, absl::StrCat("entry is missing (the next stored "
                                          "entry has leaf index ",
                                          row.leaf_index, ")"));
  }
  if (row.leaf_index < expected) {
    return Corrupt(row.leaf_index, "entry is stored twice or out of order");
  }
  const Hash computed = HashLeaf(row.leaf_data);
  if (computed != row.leaf_hash) {
    return Corrupt(expected,
                   "stored leaf hash does not match the entry's data (the "
                   "entry was altered)");
  }
  absl::StatusOr<DecodedLeaf> decoded = DecodeEvent(row.leaf_data);
  if (!decoded.ok()) return Corrupt(expected, decoded.status().message());
  if (decoded->leaf_index != expected) {
    return Corrupt(expected,
                   absl::StrCat("entry encodes leaf index ",
                                decoded->leaf_index,
                                " (entries were deleted or reordered)"));
  }
  const auto& t = decoded->event.time();
  const int64_t micros = t.seconds() * 1000000 + t.nanos() / 1000;
  if (!times_.empty() && micros < times_.back()) {
    return Corrupt(expected, "event time is earlier than the previous entry's");
  }
  tree_.Append(computed);
  times_.push_back(micros);
  if (event != nullptr) *event = std::move(decoded->event);
  return absl::OkStatus();
}

absl::Status LogRecomputer::CheckHead(const SignedTreeHead& head,
                                      const HeadVerifier* verifier) const {
  if (verifier != nullptr) KINEX_RETURN_IF_ERROR(verifier->Verify(head));
  if (head.tree_size() > tree_.size()) {
    return Corrupt(tree_.size(),
                   absl::StrCat("log is truncated: it holds ", tree_.size(),
                                " entries but a signed tree head commits to ",
                                head.tree_size()));
  }
  KINEX_ASSIGN_OR_RETURN(Hash root, HashFromBytes(head.root_hash(), "root_hash"));
  KINEX_ASSIGN_OR_RETURN(Hash computed, tree_.RootAt(head.tree_size()));
  if (computed != root) {
    return absl::DataLossError(absl::StrCat(
        "root of the first ", head.tree_size(),
        " entries does not match the signed tree head"));
  }
  return absl::OkStatus();
}

absl::Status LogRecomputer::CheckHeads(absl::Span<const SignedTreeHead> heads,
                                       const HeadVerifier* verifier) const {
  uint64_t last_good = 0;
  uint64_t max_size = 0;
  for (const SignedTreeHead& head : heads) {
    absl::Status s = CheckHead(head, verifier);
    if (s.code() == absl::StatusCode::kDataLoss &&
        head.tree_size() <= tree_.size()) {
      // Every leaf checked out on its own, so the entries were rewritten
      // consistently; the heads bound where.
      const uint64_t begin = std::min(last_good, head.tree_size() - 1);
      return Corrupt(begin,
                     absl::StrCat("entries in [", begin, ", ",
                                  head.tree_size(),
                                  ") do not match the signed tree head of size ",
                                  head.tree_size(),
                                  " (rewritten after signing)"));
    }
    KINEX_RETURN_IF_ERROR(s);
    if (head.tree_size() < max_size) {
      return Corrupt(head.tree_size(),
                     absl::StrCat("signed tree heads go backwards (",
                                  max_size, " then ", head.tree_size(), ")"));
    }
    max_size = head.tree_size();
    last_good = head.tree_size();
  }
  return absl::OkStatus();
}

absl::StatusOr<VerifiedLog> VerifyLog(
    const EntryFetcher& fetch, const SignedTreeHead& head,
    const HeadVerifier& verifier,
    absl::Span<const SignedTreeHead> saved_heads) {
  KINEX_RETURN_IF_ERROR(verifier.Verify(head));
  for (const SignedTreeHead& saved : saved_heads) {
    KINEX_RETURN_IF_ERROR(verifier.Verify(saved));
    if (saved.tree_size() > head.tree_size()) {
      return Corrupt(head.tree_size(),
                     absl::StrCat("log is truncated: a saved signed head "
                                  "commits to ",
                                  saved.tree_size(),
                                  " entries, the current head to only ",
                                  head.tree_size()));
    }
  }
  LogRecomputer log;
  while (log.size() < head.tree_size()) {
    KINEX_ASSIGN_OR_RETURN(kinex::audit::v1::GetEntriesResponse page,
                           fetch(log.size(), head.tree_size()));
    if (page.entries().empty()) break;
    for (const auto& entry : page.entries()) {
      if (log.size() >= head.tree_size()) break;
      KINEX_ASSIGN_OR_RETURN(StoredEntry row, StoredEntryFromLogEntry(entry));
      KINEX_RETURN_IF_ERROR(log.Add(row));
    }
  }
  if (log.size() < head.tree_size()) {
    return Corrupt(log.size(),
                   absl::StrCat("log is truncated: only ", log.size(),
                                " entries could be read but the signed head "
                                "commits to ",
                                head.tree_size()));
  }
  for (const SignedTreeHead& saved : saved_heads) {
    absl::Status s = log.CheckHead(saved, nullptr);
    if (!s.ok()) {
      return absl::DataLossError(absl::StrCat(
          "saved signed head (size ", saved.tree_size(),
          ") is not consistent with the log: ", s.message()));
    }
  }
  absl::Status s = log.CheckHead(head, nullptr);
  if (!s.ok()) {
    return absl::DataLossError(
        absl::StrCat("the recomputed log does not match the signed head: ",
                     s.message()));
  }
  VerifiedLog out;
  out.tree_size = head.tree_size();
  out.root = *log.tree().RootAt(head.tree_size());
  return out;
}

absl::Status VerifyHeadConsistency(const SignedTreeHead& saved,
                                   const SignedTreeHead& current,
                                   absl::Span<const std::string> proof,
                                   const HeadVerifier& verifier) {
  KINEX_RETURN_IF_ERROR(verifier.Verify(saved));
  KINEX_RETURN_IF_ERROR(verifier.Verify(current));
  if (saved.tree_size() > current.tree_size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "log is truncated: the saved head commits to ", saved.tree_size(),
        " entries, the current head to only ", current.tree_size()));
  }
  KINEX_ASSIGN_OR_RETURN(Hash r1, HashFromBytes(saved.root_hash(), "root_hash"));
  KINEX_ASSIGN_OR_RETURN(Hash r2, HashFromBytes(current.root_hash(), "root_hash"));
  std::vector<Hash> hashes;
  for (const std::string& p : proof) {
    KINEX_ASSIGN_OR_RETURN(Hash h, HashFromBytes(p, "consistency proof hash"));
    hashes.push_back(h);
  }
  return VerifyConsistency(saved.tree_size(), current.tree_size(), hashes, r1, r2);
}

absl::StatusOr<StoredEntry> StoredEntryFromLogEntry(
    const kinex::audit::v1::LogEntry& entry) {
  StoredEntry row;
  row.leaf_index = entry.leaf_index();
  if (entry.leaf_hash().size() != kHashSize) {
    return Corrupt(entry.leaf_index(), "stored leaf hash is not 32 bytes");
  }
  std::memcpy(row.leaf_hash.data(), entry.leaf_hash().data(), kHashSize);
  row.leaf_data = entry.leaf_data();
  return row;
}

absl::Status VerifyReceipt(const kinex::exchange::v1::DisclosureReceipt& receipt,
                           const HeadVerifier& verifier) {
  if (!receipt.has_signed_tree_head()) {
    return absl::InvalidArgumentError("receipt has no signed_tree_head");
  }
  const SignedTreeHead& head = receipt.signed_tree_head();
  KINEX_RETURN_IF_ERROR(verifier.Verify(head));
  KINEX_ASSIGN_OR_RETURN(Hash leaf, HashFromBytes(receipt.leaf_hash(), "leaf_hash"));
  KINEX_ASSIGN_OR_RETURN(Hash root, HashFromBytes(head.root_hash(), "root_hash"));
  std::vector<Hash> proof;
  for (const std::string& p : receipt.inclusion_proof()) {
    KINEX_ASSIGN_OR_RETURN(Hash h, HashFromBytes(p, "inclusion_proof[]"));
    proof.push_back(h);
  }
  absl::Status s =
      VerifyInclusion(receipt.leaf_index(), head.tree_size(), leaf, proof, root);
  if (!s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("receipt inclusion proof is invalid: ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status VerifyReceiptMatchesEntry(
    const kinex::exchange::v1::DisclosureReceipt& receipt,
    const kinex::audit::v1::LogEntry& entry) {
  if (entry.leaf_index() != receipt.leaf_index()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "log entry has leaf index ", entry.leaf_index(), ", receipt has ",
        receipt.leaf_index()));
  }
  if (HashToBytes(HashLeaf(entry.leaf_data())) != receipt.leaf_hash()) {
    return absl::FailedPreconditionError(
        "receipt leaf_hash does not match the logged entry");
  }
  KINEX_ASSIGN_OR_RETURN(DecodedLeaf decoded, DecodeEvent(entry.leaf_data()));
  const auto& e = decoded.event;
  if (e.disclosed_paths_size() != receipt.disclosed_paths_size() ||
      !std::equal(e.disclosed_paths().begin(), e.disclosed_paths().end(),
                  receipt.disclosed_paths().begin())) {
    return absl::FailedPreconditionError(
        "receipt disclosed_paths differ from the logged event");
  }
  if (e.withheld_size() != receipt.withheld_size()) {
    return absl::FailedPreconditionError(
        "receipt withheld categories differ from the logged event");
  }
  for (int i = 0; i < e.withheld_size(); ++i) {
    const auto& a = e.withheld(i);
    const auto& b = receipt.withheld(i);
    if (a.category() != b.category() || a.reason() != b.reason() ||
        a.rule_id() != b.rule_id()) {
      return absl::FailedPreconditionError(
          "receipt withheld categories differ from the logged event");
    }
  }
  if (e.policy_version() != receipt.policy_version()) {
    return absl::FailedPreconditionError(
        "receipt policy_version differs from the logged event");
  }
  return absl::OkStatus();
}

}  // namespace kinex::audit
