// Reading the field labels of kinex.record.v1 (see options.proto): which
// fields of a record message carry which category, sensitivity and owner,
// and which are missing labels. Value types (messages with the value_type
// option, and google.protobuf.Timestamp/Duration) are leaves: their own
// fields are not labelled.
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

// Whether `message` is a value type (its fields carry no labels).
bool IsValueType(const google::protobuf::Descriptor* message);

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
// audit events of writes). Thread-safe.
std::vector<std::string> PresentLeafPaths(const kinex::record::v1::ChildRecord& record);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_RECORD_LABELS_H_
