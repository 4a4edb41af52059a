// A bulk builder of large audit logs for tests and benchmarks: whole-record
// disclosure events of about 2.4 KB each (a few dozen disclosed paths and
// withheld categories, as a whole-record GetChildRecord logs), written
// straight through the storage in batches with one signed head each, with
// the chain links and query-index rows the log's sequencer would write, so
// AuditLog's start-up check accepts the result. Far faster than Append (no
// fsync per batch of a few events, no proofs).
//
// Example:
//   KINEX_RETURN_IF_ERROR(BuildLargeDisclosureLog(*storage, *signer, 100000));
#ifndef KINEX_TESTS_AUDIT_LARGE_LOG_H_
#define KINEX_TESTS_AUDIT_LARGE_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/audit/event_codec.h"
#include "services/audit/log_storage.h"
#include "services/audit/log_verifier.h"
#include "services/audit/merkle.h"
#include "services/audit/tree_head.h"

namespace kinex::audit::testing {

// Event times of the built log start here (an hour before FakeClock's
// default start, so later appends at the fake clock's time stay in order)
// and advance one second per 100 events.
inline constexpr int64_t kLargeLogStartSeconds = 1788249600 - 3600;

// The i-th event: a whole-record disclosure to a local authority social
// worker, 28 disclosed paths and 12 withheld categories, about 2.4 KB
// encoded. Children pseudonyms are fixed hex strings (5,000 children).
inline kinex::audit::v1::AuditEvent LargeDisclosureEvent(uint64_t i) {
  kinex::audit::v1::AuditEvent e;
  e.set_kind(kinex::audit::v1::DISCLOSURE);
  e.set_request_id(absl::StrCat("bulk-", i));
  e.set_principal("spiffe://kinex.dev/local-authority/E09000033/social-worker");
  e.set_agency_kind(kinex::common::v1::LOCAL_AUTHORITY);
  e.set_agency_code("E09000033");
  e.set_actor(absl::StrCat("practitioner-", i % 50));
  e.set_purpose(kinex::common::v1::SAFEGUARDING);
  e.set_legal_basis(kinex::common::v1::PUBLIC_TASK);
  e.set_decision(kinex::audit::v1::PARTIAL);
  static const char* const kSections[] = {"identity",  "placement", "education",
                                          "care_plan", "contacts",  "household"};
  for (int p = 0; p < 28; ++p) {
    e.add_disclosed_paths(
        absl::StrCat(kSections[p % 6], ".whole_record_field_", p, ".kinship_carer_detail"));
  }
  for (int w = 0; w < 12; ++w) {
    auto* withheld = e.add_withheld();
    withheld->set_category(w % 2 == 0 ? kinex::record::v1::HEALTH : kinex::record::v1::POLICE);
    withheld->set_reason(kinex::policy::v1::NOT_GRANTED);
    withheld->set_rule_id(absl::StrCat("la-social-worker-rule-", w));
  }
  e.set_policy_version("policy-sha256-0123456789abcdef0123456789abcdef");
  e.set_method("GetChildRecord");
  e.set_justification(
      "Section 47 enquiry: strategy discussion with the school and the health "
      "visitor about the child's placement with the kinship carers.");
  e.add_child_pseudonyms(HashToHex(Sha256(absl::StrCat("child-", i % 5000))));
  e.mutable_time()->set_seconds(kLargeLogStartSeconds + static_cast<int64_t>(i / 100));
  return e;
}

// Appends `n` LargeDisclosureEvents to an empty `storage`: a head at size 0,
// then batches of `batch` entries, each with one head signed by `signer`.
inline absl::Status BuildLargeDisclosureLog(LogStorage& storage, const TreeHeadSigner& signer,
                                            uint64_t n, uint64_t batch = 5000) {
  auto first = signer.Sign(0, EmptyRoot(), absl::FromUnixSeconds(kLargeLogStartSeconds));
  if (!first.ok()) return first.status();
  if (absl::Status s = storage.AddHead(*first); !s.ok()) return s;
  CompactRange range;
  ChainTracker chains;
  for (uint64_t base = 0; base < n; base += batch) {
    const uint64_t end = std::min(n, base + batch);
    std::vector<NewEntry> entries;
    entries.reserve(end - base);
    for (uint64_t i = base; i < end; ++i) {
      kinex::audit::v1::AuditEvent e = LargeDisclosureEvent(i);
      chains.Link(e);
      chains.Record(i, e);
      absl::StatusOr<std::string> leaf = EncodeEvent(i, e);
      if (!leaf.ok()) return leaf.status();
      const Hash h = HashLeaf(*leaf);
      range.Append(h);
      entries.push_back(MakeNewEntry(i, h, *std::move(leaf), e));
    }
    auto head =
        signer.Sign(end, range.Root(),
                    absl::FromUnixSeconds(kLargeLogStartSeconds + static_cast<int64_t>(end / 100)));
    if (!head.ok()) return head.status();
    if (absl::Status s = storage.Append(entries, &*head); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace kinex::audit::testing

#endif  // KINEX_TESTS_AUDIT_LARGE_LOG_H_
