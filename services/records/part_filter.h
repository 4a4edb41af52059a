// Reading only some paths of a stored part: a filter over the protobuf wire
// format that keeps the bytes of the chosen fields and skips the rest
// without parsing them, so records can return the allowed sections of a
// record (GetRecord.paths) and derive a child's facts (GetChildFacts) without
// parsing its health or safeguarding data.
//
// Concatenated protobuf encodings merge, so merging the filtered parts gives
// exactly the filtered merge of the whole parts.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(PathFilter f, PathFilter::Create(
//       *ChildRecord::descriptor(), {"identity", "education.enrolments"}));
//   std::string kept;
//   if (!f.Apply(part.payload, &kept)) return absl::DataLossError(...);
//   record.MergeFromString(kept);
#ifndef KINEX_SERVICES_RECORDS_PART_FILTER_H_
#define KINEX_SERVICES_RECORDS_PART_FILTER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace kinex::records {

// A set of field paths of one message type, as a tree of field numbers.
// Immutable once built; thread-safe.
class PathFilter {
 public:
  // INVALID_ARGUMENT naming the first path that is not a field path of
  // `type` (every segment but the last must be a message field).
  static absl::StatusOr<PathFilter> Create(const google::protobuf::Descriptor& type,
                                           const std::vector<std::string>& paths);

  // Appends to `out` the encoding of the fields of `wire` (an encoding of
  // the type) under the filter's paths. False if `wire` is malformed.
  bool Apply(absl::string_view wire, std::string* out) const;

  // Whether `path` (dotted) is kept in whole or in part.
  bool Keeps(absl::string_view path) const;

 private:
  struct Node {
    // Empty: keep the whole field.
    std::map<int, Node> children;
  };
  static bool Filter(absl::string_view wire, const Node& node, std::string* out);

  const google::protobuf::Descriptor* type_ = nullptr;
  Node root_;
};

}  // namespace kinex::records

#endif  // KINEX_SERVICES_RECORDS_PART_FILTER_H_
