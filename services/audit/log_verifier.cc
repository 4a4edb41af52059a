#include "services/audit/log_verifier.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/audit/event_codec.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::v1::SignedTreeHead;

// The stored entries are not what was logged, from leaf `index` on.
absl::Status Corrupt(uint64_t index, absl::string_view what) {
  return WithErrorReason(absl::DataLossError(absl::StrCat("leaf index ", index, ": ", what)),
                         reason::kAuditLogTampered, {{"leaf_index", absl::StrCat(index)}});
}

// The child query index disagrees with leaf `index`.
absl::Status BadIndex(uint64_t index, absl::string_view what) {
  return WithErrorReason(absl::DataLossError(absl::StrCat("index: leaf ", index, ": ", what)),
                         reason::kAuditIndexTampered, {{"leaf_index", absl::StrCat(index)}});
}

// A receipt that does not hold up; `field` names the part that fails.
absl::Status BadReceipt(absl::string_view field, absl::Status status) {
  return WithErrorReason(std::move(status), reason::kAuditReceiptInvalid,
                         {{"field", std::string(field)}});
}

// A short, printable form of a pseudonym for messages.
std::string Short(absl::string_view pseudonym) {
  if (pseudonym.empty()) return "\"\"";  // e.g. an index row of an unnumbered child
  std::string s = absl::CHexEscape(pseudonym.substr(0, 16));
  if (pseudonym.size() > 16) s += "...";
  return s;
}

std::string AgencyKey(int kind, absl::string_view code) { return absl::StrCat(kind, "/", code); }

}  // namespace

ChainTracker::Key ChainTracker::KeyOf(absl::string_view pseudonym) {
  Key key{};
  const bool hex =
      pseudonym.size() == 64 && std::all_of(pseudonym.begin(), pseudonym.end(), [](char c) {
        return absl::ascii_isxdigit(static_cast<unsigned char>(c)) &&
               !absl::ascii_isupper(static_cast<unsigned char>(c));
      });
  if (hex) {
    const std::string bytes = absl::HexStringToBytes(pseudonym);
    std::memcpy(key.data(), bytes.data(), key.size());
  } else {
    // Not a pseudonym the log makes (a test's, or a corrupt leaf's): key it
    // by its hash with a marker so it cannot collide with a real one.
    const Hash h = Sha256(absl::StrCat("non-hex pseudonym:", pseudonym));
    std::memcpy(key.data(), h.data(), key.size());
  }
  return key;
}

int64_t ChainTracker::LastOfChild(absl::string_view pseudonym) const {
  auto it = children_.find(KeyOf(pseudonym));
  return it == children_.end() ? -1 : it->second;
}

int64_t ChainTracker::LastOfAgency(int agency_kind, absl::string_view agency_code) const {
  auto it = agencies_.find(AgencyKey(agency_kind, agency_code));
  return it == agencies_.end() ? -1 : it->second;
}

void ChainTracker::Link(kinex::audit::v1::AuditEvent& event, const ChainTracker* newer) const {
  event.clear_child_chain();
  for (const std::string& p : event.child_pseudonyms()) {
    int64_t previous = newer != nullptr ? newer->LastOfChild(p) : -1;
    if (previous < 0) previous = LastOfChild(p);
    auto* link = event.add_child_chain();
    link->set_pseudonym(p);
    link->set_previous_leaf_index(previous);
  }
  const int kind = static_cast<int>(event.agency_kind());
  int64_t previous = newer != nullptr ? newer->LastOfAgency(kind, event.agency_code()) : -1;
  if (previous < 0) previous = LastOfAgency(kind, event.agency_code());
  event.set_previous_agency_leaf_index(previous);
}

void ChainTracker::Record(uint64_t leaf_index, const kinex::audit::v1::AuditEvent& event) {
  const int64_t at = static_cast<int64_t>(leaf_index);
  for (const std::string& p : event.child_pseudonyms()) children_[KeyOf(p)] = at;
  agencies_[AgencyKey(static_cast<int>(event.agency_kind()), event.agency_code())] = at;
}

void ChainTracker::ExportTo(kinex::audit::v1::LogCheckpoint& checkpoint) const {
  std::string* keys = checkpoint.mutable_child_keys();
  keys->reserve(children_.size() * kHashSize);
  checkpoint.mutable_child_last_leaf()->Reserve(static_cast<int>(children_.size()));
  for (const auto& [key, last] : children_) {
    keys->append(reinterpret_cast<const char*>(key.data()), key.size());
    checkpoint.add_child_last_leaf(last);
  }
  for (const auto& [agency, last] : agencies_) {
    (*checkpoint.mutable_agency_last_leaf())[agency] = last;
  }
}

ChainTracker ChainTracker::ImportFrom(const kinex::audit::v1::LogCheckpoint& checkpoint) {
  ChainTracker out;
  out.children_.reserve(checkpoint.child_last_leaf_size());
  for (int i = 0; i < checkpoint.child_last_leaf_size(); ++i) {
    Key key;
    std::memcpy(key.data(), checkpoint.child_keys().data() + size_t{kHashSize} * i, key.size());
    out.children_[key] = checkpoint.child_last_leaf(i);
  }
  for (const auto& [agency, last] : checkpoint.agency_last_leaf()) out.agencies_[agency] = last;
  return out;
}

absl::Status ChainTracker::Check(uint64_t leaf_index,
                                 const kinex::audit::v1::AuditEvent& event) const {
  if (event.child_chain_size() != event.child_pseudonyms_size()) {
    return Corrupt(leaf_index,
                   absl::StrCat("child_chain has ", event.child_chain_size(), " links for ",
                                event.child_pseudonyms_size(), " child pseudonyms"));
  }
  for (int i = 0; i < event.child_chain_size(); ++i) {
    const auto& link = event.child_chain(i);
    if (link.pseudonym() != event.child_pseudonyms(i)) {
      return Corrupt(leaf_index, absl::StrCat("child_chain link ", i,
                                              " names another pseudonym than "
                                              "child_pseudonyms"));
    }
    const int64_t expected = LastOfChild(link.pseudonym());
    if (link.previous_leaf_index() != expected) {
      return Corrupt(leaf_index,
                     absl::StrCat("child_chain link for pseudonym ", Short(link.pseudonym()),
                                  " points at ", link.previous_leaf_index(),
                                  " but the previous event carrying it is at ", expected));
    }
  }
  const int64_t expected = LastOfAgency(static_cast<int>(event.agency_kind()), event.agency_code());
  if (event.previous_agency_leaf_index() != expected) {
    return Corrupt(leaf_index, absl::StrCat("previous_agency_leaf_index is ",
                                            event.previous_agency_leaf_index(),
                                            " but the agency's previous event is at ", expected));
  }
  return absl::OkStatus();
}

absl::Status CheckIndexRows(uint64_t leaf_index, const kinex::audit::v1::AuditEvent& event,
                            absl::Span<const std::string> rows) {
  const auto& want = event.child_pseudonyms();
  int i = 0;
  size_t j = 0;
  while (i < want.size() || j < rows.size()) {
    if (j == rows.size() || (i < want.size() && want[i] < rows[j])) {
      return BadIndex(leaf_index,
                      absl::StrCat("child pseudonym row missing (pseudonym ", Short(want[i]), ")"));
    }
    if (i == want.size() || rows[j] < want[i]) {
      return BadIndex(leaf_index, absl::StrCat("child pseudonym row ", Short(rows[j]),
                                               " matches nothing in the leaf (altered or added)"));
    }
    ++i;
    ++j;
  }
  return absl::OkStatus();
}

absl::Status CheckChildChain(absl::string_view pseudonym,
                             absl::Span<const kinex::audit::v1::LogEntry> entries, int64_t head) {
  int64_t previous = -1;
  bool first = true;
  for (const kinex::audit::v1::LogEntry& entry : entries) {
    const auto& e = entry.event();
    const int64_t at = static_cast<int64_t>(entry.leaf_index());
    if (!first && at <= previous) {
      return BadIndex(entry.leaf_index(), "entries are not in leaf order");
    }
    if (std::find(e.child_pseudonyms().begin(), e.child_pseudonyms().end(), pseudonym) ==
        e.child_pseudonyms().end()) {
      return BadIndex(entry.leaf_index(),
                      "the entry does not carry the child's pseudonym (a child "
                      "pseudonym row was added or altered)");
    }
    const auto link = std::find_if(e.child_chain().begin(), e.child_chain().end(),
                                   [&](const auto& l) { return l.pseudonym() == pseudonym; });
    if (link != e.child_chain().end() && link->previous_leaf_index() != previous) {
      const int64_t linked = link->previous_leaf_index();
      if (linked > previous) {
        // The chain goes through a leaf the answer skipped.
        return BadIndex(static_cast<uint64_t>(linked),
                        absl::StrCat("child pseudonym row missing (leaf ", at,
                                     " links to it; the answer skips it)"));
      }
      return BadIndex(entry.leaf_index(),
                      absl::StrCat("chain broken: the entry links to leaf ", linked,
                                   " but the answer's previous entry is ",
                                   first ? std::string("none") : absl::StrCat("leaf ", previous)));
    }
    previous = at;
    first = false;
  }
  if (previous != head) {
    if (head > previous) {
      return BadIndex(
          static_cast<uint64_t>(head),
          absl::StrCat("child pseudonym row missing (the newest event "
                       "about the child; the answer ends at ",
                       first ? std::string("no entry") : absl::StrCat("leaf ", previous), ")"));
    }
    return BadIndex(static_cast<uint64_t>(previous),
                    absl::StrCat("chain broken: the answer ends after the newest "
                                 "event about the child (leaf ",
                                 head, ")"));
  }
  return absl::OkStatus();
}

namespace {

using Source = SourcedHead::Source;

int Rank(Source s) {
  switch (s) {
    case Source::kStored:
      return 0;
    case Source::kSaved:
      return 1;
    case Source::kReceipt:
      return 2;
  }
  return 3;
}

std::string FileName(const std::string& file) {
  return std::filesystem::path(file).filename().string();
}

// "the head at size 4096", "the saved head at size 900 (head.json)".
std::string DescribeShort(const SourcedHead& h) {
  switch (h.source) {
    case Source::kStored:
      return absl::StrCat("the head at size ", h.head.tree_size());
    case Source::kSaved:
      return absl::StrCat("the saved head at size ", h.head.tree_size(), " (", FileName(h.file),
                          ")");
    case Source::kReceipt:
      return absl::StrCat("the receipt's head at size ", h.head.tree_size(), " (", FileName(h.file),
                          ")");
  }
  return "";
}

bool RootMatches(const MerkleTree& tree, const SignedTreeHead& head) {
  absl::StatusOr<Hash> root = HashFromBytes(head.root_hash(), "root_hash");
  if (!root.ok()) return false;
  absl::StatusOr<Hash> computed = tree.RootAt(head.tree_size());
  return computed.ok() && *computed == *root;
}

}  // namespace

std::string SourcedHead::Describe() const {
  if (source == Source::kStored) {
    return absl::StrCat("the signed tree head at size ", head.tree_size());
  }
  return DescribeShort(*this);
}

absl::Status LocateRewrite(const MerkleTree& tree, absl::Span<const SourcedHead> heads) {
  std::vector<const SourcedHead*> order;
  order.reserve(heads.size());
  for (const SourcedHead& h : heads) {
    if (h.head.tree_size() <= tree.size()) order.push_back(&h);
  }
  std::stable_sort(order.begin(), order.end(), [](const SourcedHead* a, const SourcedHead* b) {
    if (a->head.tree_size() != b->head.tree_size()) {
      return a->head.tree_size() < b->head.tree_size();
    }
    return Rank(a->source) < Rank(b->source);
  });
  const SourcedHead* good_any = nullptr;   // last matching head of any kind
  const SourcedHead* good_held = nullptr;  // last matching head held elsewhere
  for (size_t i = 0; i < order.size(); ++i) {
    const SourcedHead& h = *order[i];
    if (RootMatches(tree, h.head)) {
      good_any = &h;
      if (h.source != Source::kStored) good_held = &h;
      continue;
    }
    const uint64_t size = h.head.tree_size();
    if (size == 0) {
      return Corrupt(0, absl::StrCat(h.Describe(), " does not commit to the empty log"));
    }
    const bool held = h.source != Source::kStored;
    const SourcedHead* good = held ? good_held : good_any;
    const uint64_t begin = good != nullptr ? good->head.tree_size() : 0;
    std::string msg =
        absl::StrCat("leaf range ", begin, "-", size - 1, ": entries do not match ", h.Describe(),
                     good != nullptr ? absl::StrCat(" (", DescribeShort(*good), " still matches)")
                                     : std::string(" (no earlier head to compare with)"));
    if (held) {
      for (size_t j = 0; j < order.size(); ++j) {
        const SourcedHead& o = *order[j];
        if (o.source == Source::kStored && o.head.tree_size() >= size &&
            RootMatches(tree, o.head)) {
          absl::StrAppend(&msg,
                          "; the log's own heads match the rewritten entries: "
                          "they were re-signed");
          break;
        }
      }
    }
    return WithErrorReason(
        absl::DataLossError(msg), reason::kAuditLogTampered,
        {{"leaf_index", absl::StrCat(begin)}, {"tree_size", absl::StrCat(size)}});
  }
  return absl::OkStatus();
}

std::string VerifyReport::Summary() const {
  std::vector<std::string> parts;
  parts.push_back(absl::StrCat(stored_heads, " stored head", stored_heads == 1 ? "" : "s"));
  size_t receipts = 0;
  for (const SourcedHead& h : held) {
    if (h.source == Source::kSaved) {
      parts.push_back(
          absl::StrCat("saved head at size ", h.head.tree_size(), " (", FileName(h.file), ")"));
    } else if (h.source == Source::kReceipt) {
      ++receipts;
    }
  }
  if (receipts > 0) {
    parts.push_back(absl::StrCat(receipts, " receipt", receipts == 1 ? "" : "s"));
  }
  return absl::StrCat("checked against: ", absl::StrJoin(parts, ", "));
}

LogRecomputer::LogRecomputer(MerkleTree tree, ChainTracker chains, uint64_t chains_at,
                             int64_t last_micros)
    : tree_(std::move(tree)),
      chains_(std::move(chains)),
      chains_at_(chains_at),
      last_micros_(last_micros) {}

absl::Status LogRecomputer::Add(const StoredEntry& row, kinex::audit::v1::AuditEvent* event) {
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
                   "stored leaf hash does not match the entry's data (the entry, or the query "
                   "index rows its stored form refers to, was altered)");
  }
  absl::StatusOr<DecodedLeaf> decoded = DecodeEvent(row.leaf_data);
  if (!decoded.ok()) {
    // The decoder's reason (AUDIT_ENTRY_MALFORMED), naming the leaf.
    absl::Status s =
        CopyErrorReason(decoded.status(), Corrupt(expected, decoded.status().message()));
    AddErrorMetadata(s, "leaf_index", absl::StrCat(expected));
    return s;
  }
  if (decoded->leaf_index != expected) {
    return Corrupt(expected, absl::StrCat("entry encodes leaf index ", decoded->leaf_index,
                                          " (entries were deleted or reordered)"));
  }
  const auto& t = decoded->event.time();
  const int64_t micros = t.seconds() * 1000000 + t.nanos() / 1000;
  if (expected < chains_at_) {
    // Below a checkpoint's size: its links and times are in the checkpoint.
    tree_.Append(computed);
    if (event != nullptr) *event = std::move(decoded->event);
    return absl::OkStatus();
  }
  if (micros < last_micros_) {
    return Corrupt(expected, "event time is earlier than the previous entry's");
  }
  if (decoded->version >= 2) {
    KINEX_RETURN_IF_ERROR(chains_.Check(expected, decoded->event));
  }
  chains_.Record(expected, decoded->event);
  tree_.Append(computed);
  times_.push_back(micros);
  last_micros_ = micros;
  if (event != nullptr) *event = std::move(decoded->event);
  return absl::OkStatus();
}

absl::Status LogRecomputer::CheckHead(const SignedTreeHead& head,
                                      const HeadVerifier* verifier) const {
  if (verifier != nullptr) KINEX_RETURN_IF_ERROR(verifier->Verify(head));
  if (head.tree_size() > tree_.size()) {
    return Corrupt(tree_.size(),
                   absl::StrCat("log is truncated: it holds ", tree_.size(),
                                " entries but a signed tree head commits to ", head.tree_size()));
  }
  KINEX_ASSIGN_OR_RETURN(Hash root, HashFromBytes(head.root_hash(), "root_hash"));
  KINEX_ASSIGN_OR_RETURN(Hash computed, tree_.RootAt(head.tree_size()));
  if (computed != root) {
    return WithErrorReason(
        absl::DataLossError(absl::StrCat("root of the first ", head.tree_size(),
                                         " entries does not match the signed tree head")),
        reason::kAuditLogTampered, {{"tree_size", absl::StrCat(head.tree_size())}});
  }
  return absl::OkStatus();
}

absl::Status LogRecomputer::CheckHeads(absl::Span<const SignedTreeHead> heads,
                                       const HeadVerifier* verifier) const {
  uint64_t max_size = 0;
  for (const SignedTreeHead& head : heads) {
    absl::Status s = CheckHead(head, verifier);
    if (s.code() == absl::StatusCode::kDataLoss && head.tree_size() <= tree_.size()) {
      // Every leaf checked out on its own, so the entries were rewritten
      // consistently; the heads bound where.
      std::vector<SourcedHead> all;
      all.reserve(heads.size());
      for (const SignedTreeHead& h : heads) all.push_back({.head = h});
      absl::Status located = LocateRewrite(tree_, all);
      if (!located.ok()) return located;
      return s;
    }
    KINEX_RETURN_IF_ERROR(s);
    if (head.tree_size() < max_size) {
      return WithErrorReason(
          absl::DataLossError(absl::StrCat("leaf index ", head.tree_size(),
                                           ": signed tree heads go backwards (", max_size, " then ",
                                           head.tree_size(), ")")),
          reason::kAuditHeadInconsistent, {{"tree_size", absl::StrCat(head.tree_size())}});
    }
    max_size = head.tree_size();
  }
  return absl::OkStatus();
}

absl::StatusOr<VerifiedLog> VerifyLog(const EntryFetcher& fetch, const SignedTreeHead& head,
                                      const HeadVerifier& verifier,
                                      absl::Span<const SignedTreeHead> saved_heads,
                                      VerifyOptions options) {
  VerifyReport local_report;
  VerifyReport& report = options.report != nullptr ? *options.report : local_report;
  report = VerifyReport();
  // Heads held outside the log: saved heads, then receipts' heads.
  std::vector<SourcedHead> held;
  for (const SignedTreeHead& saved : saved_heads) {
    held.push_back({.head = saved, .source = SourcedHead::Source::kSaved});
  }
  for (const SourcedHead& h : options.held_heads) held.push_back(h);
  for (const auto& [receipt, file] : options.receipts) {
    absl::Status s = VerifyReceipt(receipt, verifier);
    if (!s.ok()) {
      return CopyErrorReason(
          s, absl::Status(s.code(), absl::StrCat("receipt ", FileName(file), ": ", s.message())));
    }
    held.push_back({.head = receipt.signed_tree_head(),
                    .source = SourcedHead::Source::kReceipt,
                    .file = file});
  }
  report.held = held;
  KINEX_RETURN_IF_ERROR(verifier.Verify(head));
  for (const SourcedHead& h : held) {
    KINEX_RETURN_IF_ERROR(verifier.Verify(h.head));
    if (h.head.tree_size() > head.tree_size()) {
      return Corrupt(head.tree_size(), absl::StrCat("log is truncated: ", DescribeShort(h),
                                                    " commits to more entries than the current "
                                                    "head (size ",
                                                    head.tree_size(), ")"));
    }
  }
  LogRecomputer log;
  // The log's own heads, one per size (the pages' heads, then the current).
  std::vector<SourcedHead> stored;
  while (log.size() < head.tree_size()) {
    KINEX_ASSIGN_OR_RETURN(kinex::audit::v1::GetEntriesResponse page,
                           fetch(log.size(), head.tree_size()));
    if (page.entries().empty()) break;
    for (auto& h : *page.mutable_heads()) {
      if (h.tree_size() > head.tree_size()) continue;
      if (!stored.empty() && stored.back().head.tree_size() == h.tree_size()) continue;
      stored.push_back({.head = std::move(h)});
    }
    for (const auto& entry : page.entries()) {
      if (log.size() >= head.tree_size()) break;
      KINEX_ASSIGN_OR_RETURN(StoredEntry row, StoredEntryFromLogEntry(entry));
      kinex::audit::v1::AuditEvent event;
      KINEX_RETURN_IF_ERROR(log.Add(row, &event));
      if (options.check_index) {
        const std::vector<std::string> rows(entry.indexed_pseudonyms().begin(),
                                            entry.indexed_pseudonyms().end());
        KINEX_RETURN_IF_ERROR(CheckIndexRows(row.leaf_index, event, rows));
      }
    }
  }
  if (stored.empty() || stored.back().head.tree_size() != head.tree_size()) {
    stored.push_back({.head = head});
  }
  report.stored_heads = stored.size();
  if (log.size() < head.tree_size()) {
    return Corrupt(log.size(), absl::StrCat("log is truncated: only ", log.size(),
                                            " entries could be read but the signed head "
                                            "commits to ",
                                            head.tree_size()));
  }
  // Every stored head's signature (after the held heads', so a missing key
  // is named by the head the auditor gave).
  for (const SourcedHead& h : stored) KINEX_RETURN_IF_ERROR(verifier.Verify(h.head));
  std::vector<SourcedHead> all = std::move(stored);
  all.insert(all.end(), held.begin(), held.end());
  KINEX_RETURN_IF_ERROR(LocateRewrite(log.tree(), all));
  VerifiedLog out;
  out.tree_size = head.tree_size();
  out.root = *log.tree().RootAt(head.tree_size());
  return out;
}

absl::Status VerifyHeadConsistency(const SignedTreeHead& saved, const SignedTreeHead& current,
                                   absl::Span<const std::string> proof,
                                   const HeadVerifier& verifier) {
  KINEX_RETURN_IF_ERROR(verifier.Verify(saved));
  KINEX_RETURN_IF_ERROR(verifier.Verify(current));
  if (saved.tree_size() > current.tree_size()) {
    return WithErrorReason(absl::FailedPreconditionError(absl::StrCat(
                               "log is truncated: the saved head commits to ", saved.tree_size(),
                               " entries, the current head to only ", current.tree_size())),
                           reason::kAuditHeadInconsistent,
                           {{"tree_size", absl::StrCat(saved.tree_size())}});
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

absl::StatusOr<StoredEntry> StoredEntryFromLogEntry(const kinex::audit::v1::LogEntry& entry) {
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
    return WithErrorReason(absl::InvalidArgumentError("receipt has no signed_tree_head"),
                           reason::kInvalidField, {{"field", "signed_tree_head"}});
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
  absl::Status s = VerifyInclusion(receipt.leaf_index(), head.tree_size(), leaf, proof, root);
  if (!s.ok()) {
    return BadReceipt("inclusion_proof", absl::FailedPreconditionError(absl::StrCat(
                                             "receipt inclusion proof is invalid: ", s.message())));
  }
  return absl::OkStatus();
}

absl::Status VerifyReceiptMatchesEntry(const kinex::exchange::v1::DisclosureReceipt& receipt,
                                       const kinex::audit::v1::LogEntry& entry) {
  if (entry.leaf_index() != receipt.leaf_index()) {
    return BadReceipt("leaf_index", absl::FailedPreconditionError(absl::StrCat(
                                        "log entry has leaf index ", entry.leaf_index(),
                                        ", receipt has ", receipt.leaf_index())));
  }
  if (HashToBytes(HashLeaf(entry.leaf_data())) != receipt.leaf_hash()) {
    return BadReceipt("leaf_hash", absl::FailedPreconditionError(
                                       "receipt leaf_hash does not match the logged entry"));
  }
  KINEX_ASSIGN_OR_RETURN(DecodedLeaf decoded, DecodeEvent(entry.leaf_data()));
  const auto& e = decoded.event;
  if (e.disclosed_paths_size() != receipt.disclosed_paths_size() ||
      !std::equal(e.disclosed_paths().begin(), e.disclosed_paths().end(),
                  receipt.disclosed_paths().begin())) {
    return BadReceipt(
        "disclosed_paths",
        absl::FailedPreconditionError("receipt disclosed_paths differ from the logged event"));
  }
  if (e.withheld_size() != receipt.withheld_size()) {
    return BadReceipt("withheld", absl::FailedPreconditionError(
                                      "receipt withheld categories differ from the logged event"));
  }
  for (int i = 0; i < e.withheld_size(); ++i) {
    const auto& a = e.withheld(i);
    const auto& b = receipt.withheld(i);
    if (a.category() != b.category() || a.reason() != b.reason() || a.rule_id() != b.rule_id()) {
      return BadReceipt("withheld",
                        absl::FailedPreconditionError(
                            "receipt withheld categories differ from the logged event"));
    }
  }
  if (e.policy_version() != receipt.policy_version()) {
    return BadReceipt(
        "policy_version",
        absl::FailedPreconditionError("receipt policy_version differs from the logged event"));
  }
  return absl::OkStatus();
}

}  // namespace kinex::audit
