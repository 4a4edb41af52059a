#include "services/common/textproto.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "services/common/file_util.h"
#include "services/common/status_macros.h"

namespace kinex {
namespace {

// Keeps the first error TextFormat reports, with its position.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(absl::string_view name) : name_(name) {}
  void AddError(int line, int column, const std::string& message) override {
    if (!error_.empty()) return;
    // TextFormat reports zero-based lines and columns.
    error_ = absl::StrCat(name_, ":", line + 1, ":", column + 1, ": ", message);
  }
  void AddWarning(int line, int column, const std::string& message) override {}
  const std::string& error() const { return error_; }

 private:
  std::string name_;
  std::string error_;
};

}  // namespace

absl::Status ParseTextProto(absl::string_view text, absl::string_view name,
                            google::protobuf::Message* message,
                            google::protobuf::TextFormat::ParseInfoTree* locations) {
  FirstErrorCollector errors(name);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.AllowUnknownField(false);
  parser.AllowUnknownExtension(false);
  if (locations != nullptr) parser.WriteLocationsTo(locations);
  message->Clear();
  if (!parser.ParseFromString(std::string(text), message)) {
    return absl::InvalidArgumentError(errors.error().empty() ? absl::StrCat(name, ": cannot parse")
                                                             : errors.error());
  }
  return absl::OkStatus();
}

absl::Status ParseTextProtoFile(const std::string& path, google::protobuf::Message* message,
                                google::protobuf::TextFormat::ParseInfoTree* locations) {
  KINEX_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseTextProto(text, path, message, locations);
}

}  // namespace kinex
