// Rules on record parts, read from the labels in record.proto: which leaf
// fields a part sets and who owns them, unknown enum values and unknown
// fields, the identifiers a ChildRef or part carries, and the scope links of
// an assembled record.
//
// A leaf is what the record schema says it is (kinex::IsLeafField in
// services/common/record_labels.h: a scalar, an enum, or a value-type
// message such as Date or Timestamp). Other message fields are sections: their own labels describe
// the section, but ownership is checked on the leaves inside them (Health is HEALTH's section, yet
// health.sdq is published by the LA).
//
// Example:
//   std::vector<std::string> bad = FieldsNotOwnedBy(part, SCHOOL);
//   // {"health.camhs", "safeguarding.cp_is_flag"}
#ifndef KINEX_SERVICES_RECORDS_PART_RULES_H_
#define KINEX_SERVICES_RECORDS_PART_RULES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "kinex/common/v1/common.pb.h"
#include "kinex/record/v1/record.pb.h"
#include "services/records/records_storage.h"

namespace kinex::records {

// Paths ("health.camhs", "education.enrolments.urn") of the leaf fields set
// in `part` whose (owner) is not `kind`, each once, in field-number order of
// a depth-first walk. `part` is a ChildRecord (or a test schema of its
// shape). Thread-safe.
std::vector<std::string> FieldsNotOwnedBy(const google::protobuf::Message& part,
                                          kinex::common::v1::AgencyKind kind);

// INVALID_ARGUMENT naming the path of the first enum field holding a number
// its enum does not define ("part.identity.sex: unknown enum value 99"), or
// of the first message carrying unknown fields. `prefix` starts the paths.
absl::Status CheckKnownValues(const google::protobuf::Message& msg, const std::string& prefix);

// One identifier a publish or lookup carries, normalised and validated.
struct Identifier {
  // Where it came from, for error messages: "child.nhs_number",
  // "part.identity.upn"... Never the value.
  std::string label;
  // true: `value` is a Kinex id; false: `kind` applies.
  bool is_kinex_id = false;
  IdentifierKind kind = IdentifierKind::kNhsNumber;
  std::string value;
};

// The identifier in `ref`, validated (NHS numbers normalised). INVALID_ARGUMENT
// naming the field ("child.nhs_number: NHS number fails its modulus-11 check
// digit") — messages never echo values.
absl::StatusOr<Identifier> IdentifierFromRef(const kinex::common::v1::ChildRef& ref);

// Validates the identifiers and scope codes a part sets, normalises its NHS
// number in place, and returns its identifiers (NHS number, UPN, LA child id
// qualified by `publisher_code`, the publishing LA's code).
absl::StatusOr<std::vector<Identifier>> PartIdentifiers(kinex::record::v1::ChildRecord& part,
                                                        const std::string& publisher_code);

}  // namespace kinex::records

#endif  // KINEX_SERVICES_RECORDS_PART_RULES_H_
