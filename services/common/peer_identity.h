// The Kinex identity of the peer of a gRPC call, read from its verified
// client certificate. The gRPC half of services/common/identity.h: adapters
// (library kinex::peer_identity) call it, cores take the parsed SpiffeId.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(SpiffeId who, AuthenticatePeer(*ctx, "kinex.dev"));
//   if (!who.is_service) return absl::PermissionDeniedError("...");
#ifndef KINEX_SERVICES_COMMON_PEER_IDENTITY_H_
#define KINEX_SERVICES_COMMON_PEER_IDENTITY_H_

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/common/identity.h"

namespace kinex {

// The identity of the caller of `ctx`, from its verified client certificate.
// UNAUTHENTICATED when the connection carries no certificate, when the
// certificate has no URI SAN or more than one, or when the URI is not a valid
// Kinex SPIFFE ID in `trust_domain`. The message says which rule failed,
// never certificate contents.
absl::StatusOr<SpiffeId> AuthenticatePeer(const grpc::ServerContextBase& ctx,
                                          absl::string_view trust_domain);

}  // namespace kinex

#endif  // KINEX_SERVICES_COMMON_PEER_IDENTITY_H_
