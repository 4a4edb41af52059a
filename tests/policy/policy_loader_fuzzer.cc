// Fuzzes the policy loader (TextFormat parse, validation, compilation) with
// the default roles file plus one arbitrary policy file; when a set loads,
// decisions on it must be consistent with their plans.
#include <cstddef>
#include <cstdint>
#include <string>

#include "google/protobuf/text_format.h"
#include "services/policy/compiled_policy.h"
#include "services/policy/evaluator.h"

namespace {

namespace pv1 = ::kinex::policy::v1;

constexpr char kRoles[] =
    "roles { agency_kind: LOCAL_AUTHORITY names: [\"social-worker\", "
    "\"independent-reviewing-officer\"] }\n"
    "roles { agency_kind: VIRTUAL_SCHOOL names: \"virtual-school-head\" }\n"
    "roles { agency_kind: SCHOOL names: \"designated-safeguarding-lead\" }\n"
    "roles { agency_kind: HEALTH names: \"health-practitioner\" }\n"
    "roles { agency_kind: POLICE names: \"public-protection-officer\" }\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  auto policy = kinex::policy::CompilePolicy(
      {{"roles.textproto", kRoles}, {"fuzz.textproto", std::move(text)}},
      kinex::policy::Schema::ChildRecordSchema());
  if (!policy.ok()) {
    // Every error names the file and a position.
    if (policy.status().message().empty()) __builtin_trap();
    return 0;
  }
  for (int kind = 1; kind <= 5; ++kind) {
    for (int purpose = 1; purpose <= 5; ++purpose) {
      pv1::DecisionRequest r;
      r.mutable_principal()->set_agency_kind(static_cast<kinex::common::v1::AgencyKind>(kind));
      r.mutable_principal()->set_agency_code("E09000033");
      r.mutable_principal()->set_role("social-worker");
      r.mutable_child()->mutable_scope()->set_responsible_la_code("E09000033");
      r.set_purpose(static_cast<kinex::common::v1::Purpose>(purpose));
      r.set_justification("fuzz");
      kinex::policy::Evaluation e = kinex::policy::Evaluate(**policy, r);
      if (e.plan == nullptr) __builtin_trap();
      // allowed <=> the plan keeps something.
      if (e.decision.allowed() != e.plan->visible().Any()) __builtin_trap();
    }
  }
  return 0;
}
