#include "services/common/record_labels.h"

#include <algorithm>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"

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
    lf.leaf = IsLeafField(f);
    out.push_back(lf);
    const Descriptor* sub = f->message_type();
    if (!lf.leaf && std::find(stack.begin(), stack.end(), sub) == stack.end()) {
      Walk(sub, lf.path, stack, out);
    }
  }
  stack.pop_back();
}

}  // namespace

bool IsValueType(const Descriptor* message) {
  if (message->options().GetExtension(kinex::record::v1::value_type)) return true;
  // Well-known types (Timestamp, Duration, the wrappers...) are values.
  return message->file()->package() == "google.protobuf";
}

bool IsLeafField(const FieldDescriptor* field) {
  const Descriptor* sub = field->message_type();
  return sub == nullptr || IsValueType(sub);
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
    if (f.sensitivity == kinex::record::v1::SENSITIVITY_UNSPECIFIED)
      missing.push_back("sensitivity");
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

// Every leaf field reachable below each message type of a record schema.
using LeafIndex = absl::flat_hash_map<const Descriptor*, std::vector<const FieldDescriptor*>>;

void IndexLeaves(const Descriptor* type, LeafIndex& index) {
  if (index.contains(type)) return;
  std::vector<const FieldDescriptor*> leaves;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (IsLeafField(f)) {
      leaves.push_back(f);
      continue;
    }
    IndexLeaves(f->message_type(), index);
    const std::vector<const FieldDescriptor*>& below = index.at(f->message_type());
    leaves.insert(leaves.end(), below.begin(), below.end());
  }
  index.emplace(type, std::move(leaves));
}

// One record schema, indexed once: each leaf field's one path (the schema
// is a tree: each message type at one place), and the leaves below each
// message type, so collecting the leaves present in a record allocates no
// strings per element.
struct RootIndex {
  explicit RootIndex(const Descriptor* root) {
    for (const LabelledField& f : LabelledFields(root)) {
      if (f.leaf) path_of.emplace(f.field, f.path);
    }
    IndexLeaves(root, below);
  }
  absl::flat_hash_map<const FieldDescriptor*, std::string> path_of;
  LeafIndex below;
};

// The index of `root`: ChildRecord's without a lock; any other root (a test
// schema) indexed at first use and kept.
const RootIndex& IndexOf(const Descriptor* root) {
  static const RootIndex* const child_record =
      new RootIndex(kinex::record::v1::ChildRecord::descriptor());
  if (root == kinex::record::v1::ChildRecord::descriptor()) return *child_record;
  static absl::Mutex mu;
  static auto* const others =
      new absl::flat_hash_map<const Descriptor*, std::unique_ptr<const RootIndex>>();
  absl::MutexLock lock(&mu);
  std::unique_ptr<const RootIndex>& slot = (*others)[root];
  if (slot == nullptr) slot = std::make_unique<const RootIndex>(root);
  return *slot;
}

bool AllFound(const RootIndex& index, const Descriptor* type,
              const absl::flat_hash_set<const FieldDescriptor*>& out) {
  for (const FieldDescriptor* f : index.below.at(type)) {
    if (!out.contains(f)) return false;
  }
  return true;
}

// Adds the leaf fields present in `msg`. A subtree whose every possible leaf
// is already collected is skipped, so a long repeated list (316 attendance
// sessions) costs a few elements, not all of them.
void CollectLeaves(const RootIndex& index, const Message& msg,
                   absl::flat_hash_set<const FieldDescriptor*>& out) {
  const Reflection* refl = msg.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  refl->ListFields(msg, &fields);
  for (const FieldDescriptor* f : fields) {
    const Descriptor* sub = f->message_type();
    if (IsLeafField(f)) {
      out.insert(f);
    } else if (f->is_repeated()) {
      const int n = refl->FieldSize(msg, f);
      for (int i = 0; i < n && !AllFound(index, sub, out); ++i) {
        CollectLeaves(index, refl->GetRepeatedMessage(msg, f, i), out);
      }
    } else if (!AllFound(index, sub, out)) {
      CollectLeaves(index, refl->GetMessage(msg, f), out);
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

std::vector<std::string> PresentLeafPaths(const Message& record) {
  const RootIndex& index = IndexOf(record.GetDescriptor());
  absl::flat_hash_set<const FieldDescriptor*> leaves;
  CollectLeaves(index, record, leaves);
  const auto& path_of = index.path_of;
  std::vector<std::string> paths;
  paths.reserve(leaves.size());
  for (const FieldDescriptor* f : leaves) paths.push_back(path_of.at(f));
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace kinex
