#include "services/common/record_labels.h"

#include <algorithm>

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

}  // namespace kinex
