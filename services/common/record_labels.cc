#include "services/common/record_labels.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kinex {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

void Walk(const Descriptor* message, const std::string& prefix,
          std::vector<const Descriptor*>& stack, std::vector<LabelledField>& out) {
  stack.push_back(message);
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* f = message->field(i);
    const auto& opts = f->options();
    LabelledField lf;
    lf.path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    lf.field = f;
    lf.category = opts.GetExtension(kinex::record::v1::category);
    lf.sensitivity = opts.GetExtension(kinex::record::v1::sensitivity);
    lf.owner = opts.GetExtension(kinex::record::v1::owner);
    const Descriptor* sub = f->message_type();
    lf.leaf = sub == nullptr || IsValueType(sub);
    out.push_back(lf);
    if (!lf.leaf && std::find(stack.begin(), stack.end(), sub) == stack.end()) {
      Walk(sub, lf.path, stack, out);
    }
  }
  stack.pop_back();
}

}  // namespace

bool IsValueType(const Descriptor* message) {
  if (message->options().GetExtension(kinex::record::v1::value_type)) return true;
  const std::string& name = message->full_name();
  return name == "google.protobuf.Timestamp" || name == "google.protobuf.Duration";
}

std::vector<LabelledField> LabelledFields(const Descriptor* root) {
  std::vector<LabelledField> out;
  std::vector<const Descriptor*> stack;
  Walk(root, "", stack, out);
  return out;
}

std::vector<std::string> UnlabelledFields(const Descriptor* root) {
  std::vector<std::string> problems;
  for (const LabelledField& f : LabelledFields(root)) {
    std::vector<std::string> missing;
    if (f.category == kinex::record::v1::CATEGORY_UNSPECIFIED) missing.push_back("category");
    if (f.sensitivity == kinex::record::v1::SENSITIVITY_UNSPECIFIED) missing.push_back("sensitivity");
    if (f.owner == kinex::common::v1::AGENCY_KIND_UNSPECIFIED) missing.push_back("owner");
    if (!missing.empty()) {
      problems.push_back(absl::StrCat(f.path, ": no ", absl::StrJoin(missing, ", no ")));
    }
  }
  return problems;
}

namespace {

using google::protobuf::Message;
using google::protobuf::Reflection;

// Each field of the record schema has exactly one path (the record is a
// tree; Date and Timestamp are leaves). Computed once, so collecting the
// leaves present in a record allocates no strings per element.
const absl::flat_hash_map<const FieldDescriptor*, std::string>& LeafPathOf() {
  static const auto* paths = [] {
    auto* m = new absl::flat_hash_map<const FieldDescriptor*, std::string>();
    for (const LabelledField& f : LabelledFields(kinex::record::v1::ChildRecord::descriptor())) {
      if (f.leaf) m->emplace(f.field, f.path);
    }
    return m;
  }();
  return *paths;
}

// Every leaf field reachable below each message type of the record schema.
// The schema is a tree (Date and Timestamp are leaves); computed once.
using LeafIndex =
    absl::flat_hash_map<const Descriptor*, std::vector<const FieldDescriptor*>>;

void IndexLeaves(const Descriptor* type, LeafIndex& index) {
  if (index.contains(type)) return;
  std::vector<const FieldDescriptor*> leaves;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    const Descriptor* sub = f->message_type();
    if (sub == nullptr || IsValueType(sub)) {
      leaves.push_back(f);
      continue;
    }
    IndexLeaves(sub, index);
    const std::vector<const FieldDescriptor*>& below = index.at(sub);
    leaves.insert(leaves.end(), below.begin(), below.end());
  }
  index.emplace(type, std::move(leaves));
}

const std::vector<const FieldDescriptor*>& LeavesBelow(const Descriptor* type) {
  static const LeafIndex* const index = [] {
    auto* built = new LeafIndex();
    IndexLeaves(kinex::record::v1::ChildRecord::descriptor(), *built);
    return built;
  }();
  return index->at(type);
}

bool AllFound(const Descriptor* type, const absl::flat_hash_set<const FieldDescriptor*>& out) {
  for (const FieldDescriptor* f : LeavesBelow(type)) {
    if (!out.contains(f)) return false;
  }
  return true;
}

// Adds the leaf fields present in `msg`. A subtree whose every possible leaf
// is already collected is skipped, so a long repeated list (316 attendance
// sessions) costs a few elements, not all of them.
void CollectLeaves(const Message& msg, absl::flat_hash_set<const FieldDescriptor*>& out) {
  const Reflection* refl = msg.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  refl->ListFields(msg, &fields);
  for (const FieldDescriptor* f : fields) {
    const Descriptor* sub = f->message_type();
    if (sub == nullptr || IsValueType(sub)) {
      out.insert(f);
    } else if (f->is_repeated()) {
      const int n = refl->FieldSize(msg, f);
      for (int i = 0; i < n && !AllFound(sub, out); ++i) {
        CollectLeaves(refl->GetRepeatedMessage(msg, f, i), out);
      }
    } else if (!AllFound(sub, out)) {
      CollectLeaves(refl->GetMessage(msg, f), out);
    }
  }
}

}  // namespace

kinex::common::v1::AgencyKind OwnerOfLeafPath(const std::string& path) {
  static const auto* owners = [] {
    auto* m = new absl::flat_hash_map<std::string, kinex::common::v1::AgencyKind>();
    for (const LabelledField& f : LabelledFields(kinex::record::v1::ChildRecord::descriptor())) {
      if (f.leaf) m->emplace(f.path, f.owner);
    }
    return m;
  }();
  auto it = owners->find(path);
  return it == owners->end() ? kinex::common::v1::AGENCY_KIND_UNSPECIFIED : it->second;
}

std::vector<std::string> PresentLeafPaths(const kinex::record::v1::ChildRecord& record) {
  absl::flat_hash_set<const FieldDescriptor*> leaves;
  CollectLeaves(record, leaves);
  const auto& path_of = LeafPathOf();
  std::vector<std::string> paths;
  paths.reserve(leaves.size());
  for (const FieldDescriptor* f : leaves) paths.push_back(path_of.at(f));
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace kinex
