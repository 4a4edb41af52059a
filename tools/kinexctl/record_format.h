// Turning a (redacted) child record into rows people can read: one value per
// leaf path, repeated values joined with "; ", dates as YYYY-MM-DD,
// timestamps as RFC 3339, enums by name. Used for `record get` tables and the
// `children list --output=csv` spreadsheet.
#ifndef KINEX_TOOLS_KINEXCTL_RECORD_FORMAT_H_
#define KINEX_TOOLS_KINEXCTL_RECORD_FORMAT_H_

#include <map>
#include <string>

#include "google/protobuf/message.h"

namespace kinex::ctl {

// Leaf path -> value for every leaf set in `message` (sorted by path).
std::map<std::string, std::string> FlattenRecord(const google::protobuf::Message& message);

// `message` in the protobuf JSON mapping, pretty-printed.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace kinex::ctl

#endif  // KINEX_TOOLS_KINEXCTL_RECORD_FORMAT_H_
