// Fuzzes the redactor on arbitrary record bytes: the first byte picks a
// principal (decided by the default policy set), the rest is parsed as a
// ChildRecord. After redaction only allowed paths may be present, no
// unknown fields anywhere, every row filter holds, and redacting again
// changes nothing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kinex/record/v1/record.pb.h"
#include "services/policy/compiled_policy.h"
#include "services/policy/evaluator.h"
#include "services/policy/redactor.h"
#include "tests/policy/record_paths.h"

namespace {

namespace pv1 = ::kinex::policy::v1;
namespace cv1 = ::kinex::common::v1;
namespace rv1 = ::kinex::record::v1;

std::vector<kinex::policy::Evaluation>* Evaluations() {
  static auto* evaluations = [] {
    auto* out = new std::vector<kinex::policy::Evaluation>();
    auto policy =
        kinex::policy::LoadPolicyDir(KINEX_POLICY_DIR, kinex::policy::Schema::ChildRecordSchema());
    if (!policy.ok()) __builtin_trap();
    struct P {
      cv1::AgencyKind kind;
      const char* code;
      const char* role;
      cv1::Purpose purpose;
    };
    for (const P& p : std::vector<P>{
             {cv1::LOCAL_AUTHORITY, "E09000033", "social-worker", cv1::SAFEGUARDING},
             {cv1::VIRTUAL_SCHOOL, "E09000033", "virtual-school-head", cv1::EDUCATION_SUPPORT},
             {cv1::SCHOOL, "100869", "designated-safeguarding-lead", cv1::SAFEGUARDING},
             {cv1::HEALTH, "E87634", "health-practitioner", cv1::HEALTH_CARE},
             {cv1::POLICE, "01", "public-protection-officer", cv1::SAFEGUARDING},
             {cv1::LOCAL_AUTHORITY, "E09000033", "independent-reviewing-officer",
              cv1::CARE_PLANNING},
             {cv1::AUDITOR, "ICO", "auditor", cv1::SAFEGUARDING},
         }) {
      pv1::DecisionRequest r;
      r.mutable_principal()->set_agency_kind(p.kind);
      r.mutable_principal()->set_agency_code(p.code);
      r.mutable_principal()->set_role(p.role);
      auto* scope = r.mutable_child()->mutable_scope();
      scope->set_responsible_la_code("E09000033");
      scope->set_current_school_urn("100869");
      scope->set_registered_gp_ods_code("E87634");
      scope->set_police_force_code("01");
      r.mutable_child()->set_looked_after(true);
      r.set_purpose(p.purpose);
      r.set_justification("fuzz");
      out->push_back(kinex::policy::Evaluate(**policy, r));
    }
    return out;
  }();
  return evaluations;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto& evaluations = *Evaluations();
  const kinex::policy::Evaluation& e = evaluations[data[0] % evaluations.size()];
  rv1::ChildRecord record;
  if (!record.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
  const kinex::policy::Redactor redactor;
  if (!redactor.Apply(*e.plan, &record).ok()) __builtin_trap();
  std::vector<std::string> allowed(e.decision.allowed_paths().begin(),
                                   e.decision.allowed_paths().end());
  if (!e.decision.allowed() && record.ByteSizeLong() != 0) __builtin_trap();
  for (const std::string& p : kinex::policy::testing::PresentPaths(record)) {
    if (!kinex::policy::testing::Covered(p, allowed)) __builtin_trap();
  }
  if (kinex::policy::testing::HasUnknownFields(record)) __builtin_trap();
  for (const auto& f : e.decision.row_filters()) {
    if (f.repeated_field() == "education.attendance_sessions") {
      for (const auto& s : record.education().attendance_sessions()) {
        if (s.school_urn() != f.equals()) __builtin_trap();
      }
    } else if (f.repeated_field() == "police.encompass_notifications") {
      for (const auto& n : record.police().encompass_notifications()) {
        if (n.school_urn() != f.equals()) __builtin_trap();
      }
    }
  }
  const std::string once = record.SerializeAsString();
  if (!redactor.Apply(*e.plan, &record).ok()) __builtin_trap();
  if (record.SerializeAsString() != once) __builtin_trap();
  return 0;
}
