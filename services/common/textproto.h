// Strict textproto loading with errors that name file:line:column.
// Used for the kinex configuration file and for policy files.
//
// Example:
//   kinex::config::v1::KinexConfig config;
//   KINEX_RETURN_IF_ERROR(ParseTextProtoFile("kinex.textproto", &config));
//   // On a typo: INVALID_ARGUMENT "kinex.textproto:3:1: Message type
//   // "kinex.config.v1.KinexConfig" has no field named "targt"."
#ifndef KINEX_SERVICES_COMMON_TEXTPROTO_H_
#define KINEX_SERVICES_COMMON_TEXTPROTO_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"

namespace kinex {

// Parses `text` into `message` (cleared first). Unknown fields and extensions
// are errors. On failure returns INVALID_ARGUMENT whose message starts with
// "<name>:<line>:<column>: " and leaves `message` unspecified. When
// `locations` is given it is filled with each parsed field's position, so
// later validation can report file:line too.
absl::Status ParseTextProto(absl::string_view text, absl::string_view name,
                            google::protobuf::Message* message,
                            google::protobuf::TextFormat::ParseInfoTree* locations = nullptr);

// Reads `path` and parses it as ParseTextProto does, naming errors by `path`.
// A missing or unreadable file is NOT_FOUND / PERMISSION_DENIED naming it.
absl::Status ParseTextProtoFile(const std::string& path, google::protobuf::Message* message,
                                google::protobuf::TextFormat::ParseInfoTree* locations = nullptr);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_TEXTPROTO_H_
