// Schema: the labelled field tree of a record message type (normally
// kinex.record.v1.ChildRecord), indexed for policy evaluation.
//
// A *leaf* is a field the policy grants or withholds whole: a scalar, enum,
// string or bytes field (repeated or not), or a field holding a value-type
// message (a message with option (kinex.record.v1.value_type), or a
// google.protobuf well-known type such as Timestamp). Every other message
// field is an interior node, entered by field paths such as
// "education.attendance_sessions.code". Leaves are numbered depth-first in
// field-declaration order, so each interior field covers a contiguous range
// of leaf indices.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto schema,
//       Schema::Create(kinex::record::v1::ChildRecord::descriptor()));
//   KINEX_ASSIGN_OR_RETURN(PathInfo path, schema->Resolve("health.sdq.band"));
//   // path.leaf_begin .. path.leaf_end are the leaves under it.
#ifndef KINEX_SERVICES_POLICY_SCHEMA_H_
#define KINEX_SERVICES_POLICY_SCHEMA_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "kinex/record/v1/options.pb.h"
#include "services/policy/leaf_set.h"

namespace kinex::policy {

// One leaf field of the schema.
struct Leaf {
  // Dotted path from the root, e.g. "identity.date_of_birth".
  std::string path;
  const google::protobuf::FieldDescriptor* field = nullptr;
  // The field's own labels; UNSPECIFIED when the field carries none (such a
  // leaf is never granted).
  kinex::record::v1::Category category = kinex::record::v1::CATEGORY_UNSPECIFIED;
  kinex::record::v1::Sensitivity sensitivity = kinex::record::v1::SENSITIVITY_UNSPECIFIED;
};

// One field of an interior node.
struct SchemaField {
  const google::protobuf::FieldDescriptor* field = nullptr;
  // Dotted path from the root.
  std::string path;
  // Leaves under this field: [leaf_begin, leaf_end).
  int leaf_begin = 0;
  int leaf_end = 0;
  // For interior (non-value message) fields: index of its node; else -1.
  int child_node = -1;
};

// An interior message of the tree.
struct SchemaNode {
  const google::protobuf::Descriptor* descriptor = nullptr;
  // Dotted path from the root; "" for the root.
  std::string path;
  // One entry per field, in declaration order (fields[i] is field(i)).
  std::vector<SchemaField> fields;
};

// Where a field path leads.
struct PathInfo {
  int leaf_begin = 0;
  int leaf_end = 0;
  // The field the path names, and the node containing it.
  const google::protobuf::FieldDescriptor* field = nullptr;
  int node = 0;
  // For an interior field: its node; else -1.
  int child_node = -1;
};

// The indexed field tree of a root message type. Immutable; thread-safe.
class Schema {
 public:
  // Indexes `root`. INVALID_ARGUMENT when the tree recurses (a message type
  // that contains itself cannot be indexed into a finite tree).
  static absl::StatusOr<std::shared_ptr<const Schema>> Create(
      const google::protobuf::Descriptor* root);

  // The schema of kinex.record.v1.ChildRecord, built once.
  static std::shared_ptr<const Schema> ChildRecordSchema();

  // (Which messages are granted whole, as leaves: kinex::IsValueType in
  // services/common/record_labels.h, the record schema's one rule.)

  const google::protobuf::Descriptor* root() const { return root_; }
  int leaf_count() const { return static_cast<int>(leaves_.size()); }
  const std::vector<Leaf>& leaves() const { return leaves_; }
  // nodes()[0] is the root.
  const std::vector<SchemaNode>& nodes() const { return nodes_; }

  // Resolves a dotted path relative to node `from` (0 = root).
  // INVALID_ARGUMENT naming the bad segment.
  absl::StatusOr<PathInfo> Resolve(absl::string_view path, int from = 0) const;

  // Leaves labelled with `category` / `sensitivity` (index by enum value).
  const LeafSet& CategoryLeaves(kinex::record::v1::Category c) const { return category_leaves_[c]; }
  const LeafSet& SensitivityLeaves(kinex::record::v1::Sensitivity s) const {
    return sensitivity_leaves_[s];
  }
  // Every leaf.
  const LeafSet& AllLeaves() const { return all_leaves_; }
  // Leaves labelled (locates): the child's whereabouts.
  const LeafSet& LocatingLeaves() const { return locating_leaves_; }

 private:
  Schema() = default;
  absl::Status Index(const google::protobuf::Descriptor* type, const std::string& prefix,
                     int depth);

  const google::protobuf::Descriptor* root_ = nullptr;
  std::vector<Leaf> leaves_;
  std::vector<SchemaNode> nodes_;
  std::vector<LeafSet> category_leaves_;
  std::vector<LeafSet> sensitivity_leaves_;
  LeafSet all_leaves_;
  LeafSet locating_leaves_;
};

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_SCHEMA_H_
