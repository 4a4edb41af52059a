// What every gateway API shares when it fails or audits: a dependency's
// failure as its caller sees it (DependencyFailed), a field error
// (InvalidField), and the audit event of a gateway call (EventFor).
//
// Example:
//   if (!appended.ok()) return DependencyFailed(kAuditDep, appended.status());
#ifndef KINEX_SERVICES_GATEWAY_GATEWAY_ERRORS_H_
#define KINEX_SERVICES_GATEWAY_GATEWAY_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kinex/audit/v1/audit.pb.h"
#include "services/common/error_reason.h"
#include "services/gateway/call_context.h"

namespace kinex::gateway {

// A dependency of the gateway: its name in messages and ErrorInfo, and the
// reason of its retryable failures.
struct Dependency {
  absl::string_view name;     // "records service"
  absl::string_view service;  // ErrorInfo metadata `service`
  absl::string_view unavailable_reason;
};
inline constexpr Dependency kConsentDep{"consent service", "consent",
                                        reason::kConsentUnavailable};
inline constexpr Dependency kPolicyDep{"policy service", "policy", reason::kPolicyUnavailable};
inline constexpr Dependency kAuditDep{"audit log", "audit", reason::kAuditUnavailable};
inline constexpr Dependency kRecordsDep{"records service", "records",
                                        reason::kRecordsUnavailable};

// Wraps a dependency failure: the caller learns which service failed and
// that nothing was disclosed; the code stays meaningful. A retryable failure
// (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) keeps its code, reason
// <SERVICE>_UNAVAILABLE. DATA_LOSS and INTERNAL are kept too, never turned
// into a retryable UNAVAILABLE (a retry does not fix a corrupt log or a
// bug): reason DEPENDENCY_FAILED, the dependency's own reason as `cause`.
// Any other code (a dependency refusing the gateway itself) is UNAVAILABLE.
absl::Status DependencyFailed(const Dependency& dep, const absl::Status& s);

// INVALID_ARGUMENT, reason INVALID_FIELD with metadata `field`.
absl::Status InvalidField(absl::string_view field, std::string message);

// The audit event of one gateway call: its kind, who called (principal,
// agency, practitioner), the request id and the API method. Every event the
// gateway appends starts here.
kinex::audit::v1::AuditEvent EventFor(const CallContext& call, kinex::audit::v1::EventKind kind,
                                      absl::string_view method);

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_GATEWAY_ERRORS_H_
