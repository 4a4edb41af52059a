// Shared helpers for audit tests: sample events, keys and log options.
#ifndef KINEX_TESTS_AUDIT_TEST_EVENTS_H_
#define KINEX_TESTS_AUDIT_TEST_EVENTS_H_

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "kinex/audit/v1/audit.pb.h"
#include "services/audit/event_codec.h"
#include "services/audit/log_storage.h"
#include "services/audit/tree_head.h"

namespace kinex::audit::testing {

// A valid NHS number (check digit correct) and another one.
inline constexpr char kNhsA[] = "9434765919";
inline constexpr char kNhsB[] = "9434765870";

// A complete, valid event for Append: a virtual school head reading
// education data about the child with NHS number `nhs`.
inline kinex::audit::v1::AuditEvent SampleEvent(const std::string& request_id,
                                                const std::string& nhs = kNhsA) {
  kinex::audit::v1::AuditEvent e;
  e.set_kind(kinex::audit::v1::DISCLOSURE);
  e.set_request_id(request_id);
  e.set_principal("spiffe://kinex.dev/virtual-school/E09000033/virtual-school-head");
  e.set_agency_kind(kinex::common::v1::VIRTUAL_SCHOOL);
  e.set_agency_code("E09000033");
  e.set_actor("j.smith");
  e.set_purpose(kinex::common::v1::EDUCATION_SUPPORT);
  e.set_legal_basis(kinex::common::v1::PUBLIC_TASK);
  e.set_decision(kinex::audit::v1::PARTIAL);
  e.add_disclosed_paths("education.attendance_summary");
  e.add_disclosed_paths("identity.upn");
  auto* w = e.add_withheld();
  w->set_category(kinex::record::v1::HEALTH);
  w->set_reason(kinex::policy::v1::NOT_GRANTED);
  e.set_policy_version("policy-sha256-abc");
  e.set_method("GetChildRecord");
  if (!nhs.empty()) e.add_children()->set_nhs_number(nhs);
  return e;
}

// A fixed 32-byte pseudonym key.
inline std::shared_ptr<const ChildPseudonymizer> TestPseudonymizer() {
  return std::shared_ptr<const ChildPseudonymizer>(
      *ChildPseudonymizer::Create(std::string(32, 'k')));
}

// A fresh signing key.
inline std::shared_ptr<const TreeHeadSigner> TestSigner() {
  return std::shared_ptr<const TreeHeadSigner>(*TreeHeadSigner::Generate());
}

// A row for LogStorage::Append at `index`, for storage tests: hash bytes
// index + 1, leaf "leaf-<index>", child pseudonym "p<index>", idempotency
// key "key-<index>".
inline NewEntry SampleStoredEntry(uint64_t index) {
  NewEntry e;
  e.entry.leaf_index = index;
  e.entry.leaf_hash.fill(static_cast<uint8_t>(index + 1));
  e.entry.leaf_data = absl::StrCat("leaf-", index);
  e.actor = "j.smith";
  e.child_pseudonyms = {absl::StrCat("p", index)};
  e.idempotency_key = absl::StrCat("key-", index);
  return e;
}

}  // namespace kinex::audit::testing

#endif  // KINEX_TESTS_AUDIT_TEST_EVENTS_H_
