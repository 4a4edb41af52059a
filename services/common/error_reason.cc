#include "services/common/error_reason.h"

#include <optional>

#include "absl/strings/cord.h"
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

}  // namespace kinex
