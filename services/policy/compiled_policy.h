// Loading, validating and compiling PolicySet files into a CompiledPolicy:
// the immutable, indexed form the evaluator (evaluator.h) works on.
//
// Validation is strict and names file:line:column of the bad token:
// unknown field paths, categories, roles, agency kinds, purposes and
// enum values fail the load, and so does a rule that can never match or
// never grant anything. Several errors are reported together, one a line.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const CompiledPolicy> policy,
//       LoadPolicyDir("policy", Schema::ChildRecordSchema()));
//   // policy->version is the hex SHA-256 of the canonical set.
#ifndef KINEX_SERVICES_POLICY_COMPILED_POLICY_H_
#define KINEX_SERVICES_POLICY_COMPILED_POLICY_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "kinex/common/v1/common.pb.h"
#include "kinex/policy/v1/policy.pb.h"
#include "services/policy/leaf_set.h"
#include "services/policy/schema.h"

namespace kinex::policy {

// A compiled PrincipalMatcher.
struct CompiledMatcher {
  kinex::common::v1::AgencyKind kind = kinex::common::v1::AGENCY_KIND_UNSPECIFIED;
  std::vector<std::string> roles;  // empty: any role
  std::string code;                // empty: any agency
};

// A compiled Condition: bit masks, 0 meaning "no condition".
struct CompiledCondition {
  uint32_t jurisdictions = 0;  // bit per kinex::policy::v1::Jurisdiction
  uint32_t statuses = 0;       // bit per kinex::policy::v1::ChildStatus
  uint32_t arrangements = 0;   // bit per kinex::record::v1::ArrangementType
};

// A compiled RowFilter.
struct CompiledRowFilter {
  std::string repeated_field;  // path from the root
  std::string key_field;       // path inside a row
  const google::protobuf::FieldDescriptor* field = nullptr;
  int leaf_begin = 0;
  int leaf_end = 0;
  // Singular fields from the row to the string key.
  std::vector<const google::protobuf::FieldDescriptor*> key_chain;
  kinex::policy::v1::RowFilterValue equals = kinex::policy::v1::ROW_FILTER_VALUE_UNSPECIFIED;
};

// A compiled Rule.
struct CompiledRule {
  std::string id;
  std::string location;  // "file:line:col" of the rule, for traces
  kinex::policy::v1::Effect effect = kinex::policy::v1::EFFECT_UNSPECIFIED;
  std::vector<CompiledMatcher> principals;
  uint32_t purposes = 0;  // bit per kinex::common::v1::Purpose
  kinex::policy::v1::Scope scope = kinex::policy::v1::SCOPE_UNSPECIFIED;
  CompiledCondition condition;
  LeafSet targets;
  // Indexed by kinex::record::v1::Sensitivity.
  std::array<bool, 4> has_requirement{};
  std::array<std::vector<kinex::policy::v1::BasisAlternative>, 4> alternatives;
  bool requires_justification = false;
  std::vector<kinex::policy::v1::Obligation> obligations;
  std::vector<CompiledRowFilter> row_filters;
  // GRANT: the declared lawful basis (gateways sorted, without duplicates).
  kinex::policy::v1::DeclaredBasis lawful_basis;
};

// A compiled ConsentRecorderRule.
struct CompiledRecorder {
  std::string id;
  std::vector<CompiledMatcher> principals;
  kinex::policy::v1::Scope scope = kinex::policy::v1::SCOPE_UNSPECIFIED;
  CompiledCondition condition;
  uint32_t bases = 0;  // bit per kinex::common::v1::LegalBasis
};

// A loaded, validated policy set. Immutable; thread-safe.
struct CompiledPolicy {
  std::shared_ptr<const Schema> schema;
  std::vector<CompiledRule> rules;  // in file-name order, then file order
  // Indices into `rules` per kinex::common::v1::AgencyKind.
  std::vector<std::vector<int>> rules_by_kind;
  std::vector<CompiledRecorder> recorders;
  // Declared roles per agency kind, sorted.
  std::map<kinex::common::v1::AgencyKind, std::vector<std::string>> roles;
  // Hex SHA-256 over the canonical (deterministically serialised, merged)
  // policy set: formatting and comments do not change it.
  std::string version;
  // The files loaded, sorted.
  std::vector<std::string> files;
};

// One policy file's name (used in error messages) and text.
struct PolicySource {
  std::string name;
  std::string text;
};

// Parses, validates and compiles `sources` against `schema`.
// INVALID_ARGUMENT listing every problem as "name:line:col: message", one a
// line. An empty source list is INVALID_ARGUMENT (no policy is a
// misconfiguration, not an open door).
absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompilePolicy(
    const std::vector<PolicySource>& sources, std::shared_ptr<const Schema> schema);

// Reads every "*.textproto" file directly in `dir` (not subdirectories),
// sorted by name, and compiles them as CompilePolicy does. NOT_FOUND when
// `dir` does not exist.
absl::StatusOr<std::shared_ptr<const CompiledPolicy>> LoadPolicyDir(
    const std::string& dir, std::shared_ptr<const Schema> schema);

// TextFormat reports an unknown enum value or field name at the token after
// it; returns `status` (an error from kinex::ParseTextProto of `text` named
// `name`) moved to the bad token itself. Other errors are returned as given.
absl::Status RefineParseError(const absl::Status& status, const std::string& text,
                              const std::string& name);

// The agency kind's SPIFFE spelling ("local-authority"...), for messages.
std::string AgencyKindSlug(kinex::common::v1::AgencyKind kind);

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_COMPILED_POLICY_H_
