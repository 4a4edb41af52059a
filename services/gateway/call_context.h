// Who is calling and on whose behalf, established once per gateway call:
// the principal from the client certificate's SPIFFE ID (never from
// metadata), the practitioner from `x-kinex-actor` (required; recorded in the
// audit log; the agency is accountable for it), and a request id taken from
// `x-kinex-request-id` or generated, returned in the reply metadata.
#ifndef KINEX_SERVICES_GATEWAY_CALL_CONTEXT_H_
#define KINEX_SERVICES_GATEWAY_CALL_CONTEXT_H_

#include <functional>
#include <string>

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "kinex/policy/v1/policy.pb.h"
#include "services/common/declared_roles.h"
#include "services/common/identity.h"
#include "services/policy/policy_engine.h"

namespace kinex::gateway {

inline constexpr char kActorHeader[] = "x-kinex-actor";
inline constexpr char kRequestIdHeader[] = "x-kinex-request-id";

// One call's identity.
struct CallContext {
  SpiffeId principal;
  std::string actor;
  std::string request_id;
};

// The policy view of a principal.
kinex::policy::v1::Principal ToPolicyPrincipal(const SpiffeId& id);

// A new random request id (32 hex characters).
std::string NewRequestId();

// Checks an actor value: 1-200 printable characters (UTF-8 allowed), no
// control characters. INVALID_ARGUMENT naming the header.
absl::Status ValidateActor(absl::string_view actor);

// Checks a caller-supplied request id: 1-64 of [A-Za-z0-9._-].
absl::Status ValidateRequestId(absl::string_view id);

// Builds the context of a gateway call. UNAUTHENTICATED without a valid
// agency certificate (service identities are refused at the public front
// door: PERMISSION_DENIED); INVALID_ARGUMENT for a missing or malformed
// actor or request id.
absl::StatusOr<CallContext> ExtractCallContext(const grpc::ServerContext& ctx,
                                               absl::string_view trust_domain);

// The roles each agency kind may assert, from the policy set `engine` has
// in force at each call (so a reload that removes a role refuses the next
// call by it). For Edge::Options::declared_roles.
RoleSource PolicyDeclaredRoles(std::shared_ptr<const kinex::policy::PolicyEngine> engine);

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_CALL_CONTEXT_H_
