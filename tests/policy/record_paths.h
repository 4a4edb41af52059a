// Test helpers: the leaf paths actually present in a message (set scalars,
// non-empty repeated fields, present value-type messages: the record
// schema's PresentLeafPaths), and whether the message carries unknown
// fields anywhere.
#ifndef KINEX_TESTS_POLICY_RECORD_PATHS_H_
#define KINEX_TESTS_POLICY_RECORD_PATHS_H_

#include <set>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/unknown_field_set.h"
#include "services/common/record_labels.h"

namespace kinex::policy::testing {

// Leaf paths present in `m`: the record schema's own collection
// (kinex::PresentLeafPaths), as a set.
inline std::set<std::string> PresentPaths(const google::protobuf::Message& m) {
  const std::vector<std::string> paths = kinex::PresentLeafPaths(m);
  return {paths.begin(), paths.end()};
}

// Whether `m` or any message inside it has unknown fields.
inline bool HasUnknownFields(const google::protobuf::Message& m) {
  using google::protobuf::FieldDescriptor;
  if (!m.GetReflection()->GetUnknownFields(m).empty()) return true;
  std::vector<const FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < m.GetReflection()->FieldSize(m, f); ++i) {
        if (HasUnknownFields(m.GetReflection()->GetRepeatedMessage(m, f, i))) {
          return true;
        }
      }
    } else if (HasUnknownFields(m.GetReflection()->GetMessage(m, f))) {
      return true;
    }
  }
  return false;
}

// Whether `path` is `allowed` or lies under it.
inline bool Covered(const std::string& path, const std::vector<std::string>& allowed) {
  for (const std::string& a : allowed) {
    if (path == a ||
        (path.size() > a.size() && path.compare(0, a.size(), a) == 0 && path[a.size()] == '.')) {
      return true;
    }
  }
  return false;
}

}  // namespace kinex::policy::testing

#endif  // KINEX_TESTS_POLICY_RECORD_PATHS_H_
