#include "services/policy/schema.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kinex/record/v1/record.pb.h"
#include "services/common/error_reason.h"
#include "services/common/record_labels.h"
#include "services/common/status_macros.h"

namespace kinex::policy {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

constexpr int kMaxDepth = 32;

// `path` names no field of the schema.
absl::Status UnknownPath(absl::string_view path, absl::string_view message) {
  return WithErrorReason(absl::InvalidArgumentError(message), reason::kPolicyUnknownPath,
                         {{"path", std::string(path)}});
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Schema>> Schema::Create(const Descriptor* root) {
  if (root == nullptr) {
    return WithErrorReason(absl::InvalidArgumentError("schema root is null"), reason::kInvalidField,
                           {{"field", "root"}});
  }
  std::shared_ptr<Schema> schema(new Schema());
  schema->root_ = root;
  KINEX_RETURN_IF_ERROR(schema->Index(root, "", 0));
  const int n = schema->leaf_count();
  schema->category_leaves_.assign(kinex::record::v1::Category_ARRAYSIZE, LeafSet(n));
  schema->sensitivity_leaves_.assign(kinex::record::v1::Sensitivity_ARRAYSIZE, LeafSet(n));
  schema->all_leaves_ = LeafSet(n);
  schema->locating_leaves_ = LeafSet(n);
  for (int i = 0; i < n; ++i) {
    const Leaf& leaf = schema->leaves_[i];
    schema->all_leaves_.Set(i);
    if (leaf.field->options().GetExtension(kinex::record::v1::locates)) {
      schema->locating_leaves_.Set(i);
    }
    if (leaf.category > 0 && leaf.category < kinex::record::v1::Category_ARRAYSIZE) {
      schema->category_leaves_[leaf.category].Set(i);
    }
    if (leaf.sensitivity > 0 && leaf.sensitivity < kinex::record::v1::Sensitivity_ARRAYSIZE) {
      schema->sensitivity_leaves_[leaf.sensitivity].Set(i);
    }
  }
  return std::shared_ptr<const Schema>(std::move(schema));
}

std::shared_ptr<const Schema> Schema::ChildRecordSchema() {
  static const auto* schema = new std::shared_ptr<const Schema>(
      *Schema::Create(kinex::record::v1::ChildRecord::descriptor()));
  return *schema;
}

absl::Status Schema::Index(const Descriptor* type, const std::string& prefix, int depth) {
  if (depth > kMaxDepth) {
    return WithErrorReason(absl::InvalidArgumentError(absl::StrCat("schema of ", root_->full_name(),
                                                                   " is recursive at ", prefix)),
                           reason::kSchemaRecursive, {{"path", prefix}});
  }
  const int node_index = static_cast<int>(nodes_.size());
  nodes_.push_back(SchemaNode{type, prefix, {}});
  std::vector<SchemaField> fields;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    SchemaField sf;
    sf.field = f;
    sf.path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    sf.leaf_begin = leaf_count();
    if (!IsLeafField(f)) {  // the record schema's one leaf rule
      sf.child_node = static_cast<int>(nodes_.size());
      KINEX_RETURN_IF_ERROR(Index(f->message_type(), sf.path, depth + 1));
    } else {
      Leaf leaf;
      leaf.path = sf.path;
      leaf.field = f;
      leaf.category = f->options().GetExtension(kinex::record::v1::category);
      leaf.sensitivity = f->options().GetExtension(kinex::record::v1::sensitivity);
      leaves_.push_back(std::move(leaf));
    }
    sf.leaf_end = leaf_count();
    fields.push_back(std::move(sf));
  }
  nodes_[node_index].fields = std::move(fields);
  return absl::OkStatus();
}

absl::StatusOr<PathInfo> Schema::Resolve(absl::string_view path, int from) const {
  if (path.empty()) return UnknownPath(path, "empty field path");
  PathInfo info;
  int node = from;
  std::vector<absl::string_view> segments = absl::StrSplit(path, '.');
  for (size_t s = 0; s < segments.size(); ++s) {
    const SchemaNode& n = nodes_[node];
    const FieldDescriptor* f = n.descriptor->FindFieldByName(std::string(segments[s]));
    if (f == nullptr) {
      return UnknownPath(
          path, absl::StrCat("no field \"", segments[s], "\" in ", n.descriptor->full_name()));
    }
    const SchemaField& sf = n.fields[f->index()];
    info.leaf_begin = sf.leaf_begin;
    info.leaf_end = sf.leaf_end;
    info.field = f;
    info.node = node;
    info.child_node = sf.child_node;
    if (s + 1 < segments.size()) {
      if (sf.child_node < 0) {
        return UnknownPath(
            path, absl::StrCat("cannot select inside \"", sf.path, "\": ",
                               f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE
                                   ? absl::StrCat("value type ", f->message_type()->full_name(),
                                                  " is granted whole")
                                   : "not a message"));
      }
      node = sf.child_node;
    }
  }
  return info;
}

}  // namespace kinex::policy
