// Who is calling and on whose behalf, established once per gateway call:
// the principal from the client certificate's SPIFFE ID (never from
// metadata), the practitioner from `x-kinex-actor` (required; recorded in the
// audit log; the agency is accountable for it), and a request id taken from
// `x-kinex-request-id` or generated, returned in the reply metadata.
#ifndef KINEX_SERVICES_GATEWAY_CALL_CONTEXT_H_
#define KINEX_SERVICES_GATEWAY_CALL_CONTEXT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/common/identity.h"
#include "services/policy/policy_decider.h"

namespace kinex::gateway {

inline constexpr char kActorHeader[] = "x-kinex-actor";
inline constexpr char kRequestIdHeader[] = "x-kinex-request-id";

// One call's identity.
struct CallContext {
  SpiffeId principal;
  std::string actor;
  std::string request_id;
};

// The policy view of a principal (services/policy/policy_decider.h).
using kinex::policy::ToPolicyPrincipal;

// A new random request id (32 hex characters).
std::string NewRequestId();

// Checks an actor value: 1-200 printable characters (UTF-8 allowed), no
// control characters. INVALID_ARGUMENT naming the header.
absl::Status ValidateActor(absl::string_view actor);

// Checks a caller-supplied request id: 1-64 of [A-Za-z0-9._-].
absl::Status ValidateRequestId(absl::string_view id);

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_CALL_CONTEXT_H_
