// The record schema: the one definition of what a leaf of a record message
// is, its path, its labels (kinex.record.v1 options.proto: category,
// sensitivity, owner), and which leaves a record carries. The policy
// schema and redactor (services/policy/schema.h), the publish ownership
// check (services/records/part_rules.h), the disclosed paths of a receipt
// and the audit log (the gateway), kinexctl and the tests all use it;
// tests/record/record_schema_agreement_test.cc proves they agree.
//
// Value types are leaves, labelled by the field that holds them; their own
// fields carry no labels: messages with the (value_type) option (Date) and
// every google.protobuf.* message (Timestamp, Duration, the wrappers).
//
// Example:
//   for (const LabelledField& f : LabelledFields(ChildRecord::descriptor())) {
//     std::cout << f.path << " " << Category_Name(f.category) << "\n";
//   }
#ifndef KINEX_SERVICES_COMMON_RECORD_LABELS_H_
#define KINEX_SERVICES_COMMON_RECORD_LABELS_H_

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "kinex/common/v1/common.pb.h"
#include "kinex/record/v1/options.pb.h"
#include "kinex/record/v1/record.pb.h"

namespace kinex {

// One field reachable from a root message, with its labels.
struct LabelledField {
  // Dotted path from the root, e.g. "education.attendance_sessions.code".
  std::string path;
  const google::protobuf::FieldDescriptor* field;
  kinex::record::v1::Category category;
  kinex::record::v1::Sensitivity sensitivity;
  kinex::common::v1::AgencyKind owner;
  // True for a leaf: a scalar, enum, or value-type message.
  bool leaf;
};

// Whether `message` is a value type (its fields carry no labels): the
// (value_type) option, or any message of package google.protobuf.
bool IsValueType(const google::protobuf::Descriptor* message);

// Whether `field` is a leaf: a scalar, an enum, or a value-type message.
bool IsLeafField(const google::protobuf::FieldDescriptor* field);

// Every field reachable from `root`, depth first, in field-number order.
// Recursion through a message type already on the current path stops there
// (schemas are not recursive today; this keeps the walk finite if one is).
std::vector<LabelledField> LabelledFields(const google::protobuf::Descriptor* root);

// Paths of fields reachable from `root` lacking a category, a sensitivity or
// an owner, each with what is missing, e.g. "health.notes: no category".
std::vector<std::string> UnlabelledFields(const google::protobuf::Descriptor* root);

// The agency kind that owns (publishes) the leaf at `path` of the child
// record ("education.pep.status" -> VIRTUAL_SCHOOL); AGENCY_KIND_UNSPECIFIED
// for a path that is not a leaf. Thread-safe.
kinex::common::v1::AgencyKind OwnerOfLeafPath(const std::string& path);

// The leaf paths that carry data in `record`, sorted and unique
// ("education.attendance_sessions.code"): what a disclosure actually sent,
// or what a publish wrote. One walk for every caller (redaction receipts,
// audit events of writes, tests). `record` is a ChildRecord, or any message
// whose schema is a tree (each message type at one place; a test schema).
// Thread-safe.
std::vector<std::string> PresentLeafPaths(const google::protobuf::Message& record);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_RECORD_LABELS_H_
