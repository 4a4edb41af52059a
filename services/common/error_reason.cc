#include "services/common/error_reason.h"

#include <optional>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/types/optional.h"

namespace kinex {
namespace {

std::optional<google::rpc::ErrorInfo> ExplicitInfo(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kErrorInfoTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  google::rpc::ErrorInfo info;
  if (!info.ParseFromString(std::string(*payload))) return std::nullopt;
  return info;
}

void Store(absl::Status& status, const google::rpc::ErrorInfo& info) {
  status.SetPayload(kErrorInfoTypeUrl, absl::Cord(info.SerializeAsString()));
}

}  // namespace

void SetErrorReason(absl::Status& status, absl::string_view reason, const ErrorMetadata& metadata) {
  if (status.ok()) return;
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(std::string(kErrorDomain));
  for (const auto& [key, value] : metadata) (*info.mutable_metadata())[key] = value;
  Store(status, info);
}

absl::Status WithErrorReason(absl::Status status, absl::string_view reason,
                             const ErrorMetadata& metadata) {
  SetErrorReason(status, reason, metadata);
  return status;
}

void AddErrorMetadata(absl::Status& status, absl::string_view key, absl::string_view value) {
  if (status.ok()) return;
  google::rpc::ErrorInfo info = ErrorInfoOf(status);
  (*info.mutable_metadata())[std::string(key)] = std::string(value);
  Store(status, info);
}

google::rpc::ErrorInfo ErrorInfoOf(const absl::Status& status) {
  if (status.ok()) return {};
  if (std::optional<google::rpc::ErrorInfo> info = ExplicitInfo(status)) return *std::move(info);
  google::rpc::ErrorInfo info;
  info.set_reason(absl::StatusCodeToString(status.code()));
  info.set_domain(std::string(kErrorDomain));
  return info;
}

std::string ErrorReasonOf(const absl::Status& status) { return ErrorInfoOf(status).reason(); }

bool HasExplicitErrorReason(const absl::Status& status) { return ExplicitInfo(status).has_value(); }

absl::Status CopyErrorReason(const absl::Status& from, absl::Status to) {
  if (std::optional<google::rpc::ErrorInfo> info = ExplicitInfo(from); info && !to.ok()) {
    Store(to, *info);
  }
  return to;
}

absl::Status InvalidFieldError(absl::string_view field, absl::string_view message) {
  return WithErrorReason(absl::InvalidArgumentError(absl::StrCat(field, ": ", message)),
                         reason::kInvalidField, {{"field", std::string(field)}});
}

absl::Status InElement(absl::string_view prefix, const absl::Status& status) {
  const google::rpc::ErrorInfo info = ErrorInfoOf(status);
  auto field = info.metadata().find("field");
  const bool names_field = field != info.metadata().end();
  const absl::string_view element = absl::StripSuffix(prefix, ".");
  // "requests[3].kinex_id: ..." when the message starts with its field;
  // "requests[3]: ..." otherwise.
  absl::Status out(status.code(), names_field ? absl::StrCat(prefix, status.message())
                                              : absl::StrCat(element, ": ", status.message()));
  if (HasExplicitErrorReason(status)) {
    out = CopyErrorReason(status, std::move(out));
  } else if (status.code() == absl::StatusCode::kInvalidArgument) {
    SetErrorReason(out, reason::kInvalidField);
  }
  AddErrorMetadata(out, "field",
                   names_field ? absl::StrCat(prefix, field->second) : std::string(element));
  return out;
}

}  // namespace kinex
