// Error reasons (google.rpc.ErrorInfo, AIP-193) on absl::Status.
//
// For every Kinex engineer: attach a reason where an error is made, with
// `#include "services/common/error_reason.h"` (library kinex::status):
//   return WithErrorReason(absl::InvalidArgumentError("page_token: ..."),
//                          reason::kPageTokenInvalid, {{"field", "page_token"}});
// Add a constant below (and a row in the README's "Error reasons" table)
// for a new reason; never reuse one for another cause.
//
// A core attaches the reason to its absl::Status as a payload (the
// serialized google.rpc.ErrorInfo under its type URL, so it survives copies
// and KINEX_RETURN_IF_ERROR). The one status converter (grpc_status.h) sends
// it as the google.rpc.Status details of the reply (`grpc-status-details-bin`)
// and reads it back on the client side. A status without an explicit reason
// gets one derived from its code ("UNAVAILABLE", "INTERNAL", ...).
//
// `reason` is UPPER_SNAKE_CASE and stable: clients and tests match on it
// instead of message text. `domain` is always "kinex.dev". `metadata` holds
// stable fields (`field`, `request_id`, `service`, `limit`...), NEVER a child
// identifier or record content.
#ifndef KINEX_SERVICES_COMMON_ERROR_REASON_H_
#define KINEX_SERVICES_COMMON_ERROR_REASON_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/rpc/error_details.pb.h"

namespace kinex {

// ErrorInfo.domain of every Kinex error.
inline constexpr absl::string_view kErrorDomain = "kinex.dev";

// The type URL of the ErrorInfo payload on an absl::Status (the same as its
// google.protobuf.Any type URL in google.rpc.Status.details).
inline constexpr absl::string_view kErrorInfoTypeUrl = "type.googleapis.com/google.rpc.ErrorInfo";

// The explicit reasons (README, "Error reasons"). Reasons derived from a
// status code are the code's name (absl::StatusCodeToString).
namespace reason {
// A request field is missing or malformed; metadata `field`.
inline constexpr absl::string_view kInvalidField = "INVALID_FIELD";
// The request does not parse as its message type.
inline constexpr absl::string_view kRequestUnparseable = "REQUEST_UNPARSEABLE";
// No child the caller may see (or publish to, or record consent for)
// matches: an unknown child and an out-of-scope child alike.
inline constexpr absl::string_view kChildNotFoundOrOutOfScope = "CHILD_NOT_FOUND_OR_OUT_OF_SCOPE";
// No consent entry the caller may withdraw has this id: an unknown id and
// another agency's entry alike.
inline constexpr absl::string_view kConsentNotFoundOrOutOfScope =
    "CONSENT_NOT_FOUND_OR_OUT_OF_SCOPE";
// The policy set does not let the caller do this (consent recording, a
// link decision, a transfer, an auditor query).
inline constexpr absl::string_view kPolicyDenied = "POLICY_DENIED";
// The certificate's role is not declared for its agency kind.
inline constexpr absl::string_view kNotDeclaredRole = "NOT_DECLARED_ROLE";
// The peer certificate does not carry a usable Kinex identity.
inline constexpr absl::string_view kIdentityInvalid = "IDENTITY_INVALID";
// The calling service may not call this internal method (service ACL);
// metadata `method`.
inline constexpr absl::string_view kServiceNotAllowed = "SERVICE_NOT_ALLOWED";
// The agency's rate limit, calls in flight or open streams; metadata `limit`.
inline constexpr absl::string_view kRateLimited = "RATE_LIMITED";
inline constexpr absl::string_view kTooManyCallsInFlight = "TOO_MANY_CALLS_IN_FLIGHT";
inline constexpr absl::string_view kTooManyStreams = "TOO_MANY_STREAMS";
// A page token this listing did not return (or not for this caller/filter).
inline constexpr absl::string_view kPageTokenInvalid = "PAGE_TOKEN_INVALID";
// A publish carries fields the publisher's agency kind does not own.
inline constexpr absl::string_view kFieldNotOwned = "FIELD_NOT_OWNED";
// The etag does not match the current version of the caller's part.
inline constexpr absl::string_view kEtagMismatch = "ETAG_MISMATCH";
// The record changed while it was being decided (retry).
inline constexpr absl::string_view kRecordChanged = "RECORD_CHANGED";
// A dependency could not answer (retryable); metadata `service`.
inline constexpr absl::string_view kAuditUnavailable = "AUDIT_UNAVAILABLE";
inline constexpr absl::string_view kConsentUnavailable = "CONSENT_UNAVAILABLE";
inline constexpr absl::string_view kPolicyUnavailable = "POLICY_UNAVAILABLE";
inline constexpr absl::string_view kRecordsUnavailable = "RECORDS_UNAVAILABLE";
// A dependency failed in a way a retry does not fix (its DATA_LOSS or
// INTERNAL, kept); metadata `service` and `cause` (the dependency's reason).
inline constexpr absl::string_view kDependencyFailed = "DEPENDENCY_FAILED";
}  // namespace reason

// Stable fields only: never a child identifier or record content.
using ErrorMetadata = std::map<std::string, std::string>;

// Sets `status`'s reason (replacing any) and metadata. No-op on OK.
void SetErrorReason(absl::Status& status, absl::string_view reason,
                    const ErrorMetadata& metadata = {});

// `status` with its reason set: for return statements.
absl::Status WithErrorReason(absl::Status status, absl::string_view reason,
                             const ErrorMetadata& metadata = {});

// Adds (or replaces) one metadata field, keeping the reason (the derived one
// when there is none yet). No-op on OK.
void AddErrorMetadata(absl::Status& status, absl::string_view key, absl::string_view value);

// The ErrorInfo `status` carries: its explicit one, or one with the reason
// derived from the code. Empty for OK.
google::rpc::ErrorInfo ErrorInfoOf(const absl::Status& status);

// ErrorInfoOf(status).reason().
std::string ErrorReasonOf(const absl::Status& status);

// True when `status` carries an explicitly set reason.
bool HasExplicitErrorReason(const absl::Status& status);

// `to` with `from`'s ErrorInfo (explicit only), for code that remakes a
// status from another's message.
absl::Status CopyErrorReason(const absl::Status& from, absl::Status to);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_ERROR_REASON_H_
