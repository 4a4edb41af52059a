#include "services/gateway/gateway_errors.h"

#include "absl/strings/str_cat.h"

namespace kinex::gateway {

absl::Status DependencyFailed(const Dependency& dep, const absl::Status& s) {
  absl::StatusCode code = s.code();
  const bool broken = code == absl::StatusCode::kDataLoss || code == absl::StatusCode::kInternal;
  if (!broken && code != absl::StatusCode::kDeadlineExceeded &&
      code != absl::StatusCode::kUnavailable && code != absl::StatusCode::kResourceExhausted) {
    code = absl::StatusCode::kUnavailable;
  }
  absl::Status out(
      code, absl::StrCat(dep.name, " could not answer (", s.message(), "); nothing was disclosed"));
  ErrorMetadata metadata = {{"service", std::string(dep.service)}};
  if (broken) metadata["cause"] = ErrorReasonOf(s);
  SetErrorReason(out, broken ? reason::kDependencyFailed : dep.unavailable_reason, metadata);
  return out;
}

absl::Status InvalidField(absl::string_view field, std::string message) {
  return WithErrorReason(absl::InvalidArgumentError(message), reason::kInvalidField,
                         {{"field", std::string(field)}});
}

kinex::audit::v1::AuditEvent EventFor(const CallContext& call, kinex::audit::v1::EventKind kind,
                                      absl::string_view method) {
  kinex::audit::v1::AuditEvent event;
  event.set_kind(kind);
  event.set_request_id(call.request_id);
  event.set_principal(call.principal.uri);
  event.set_agency_kind(call.principal.agency_kind);
  event.set_agency_code(call.principal.agency_code);
  event.set_actor(call.actor);
  event.set_method(std::string(method));
  return event;
}

}  // namespace kinex::gateway
