#include "services/common/peer_identity.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/error_reason.h"

namespace kinex {

absl::StatusOr<SpiffeId> AuthenticatePeer(const grpc::ServerContextBase& ctx,
                                          absl::string_view trust_domain) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return WithErrorReason(absl::UnauthenticatedError("no verified client certificate"),
                           reason::kIdentityInvalid);
  }
  std::vector<grpc::string_ref> uris = auth->FindPropertyValues("peer_uri");
  if (uris.size() != 1) {
    return WithErrorReason(absl::UnauthenticatedError(absl::StrCat(
                               "client certificate must carry exactly one URI SAN (a Kinex "
                               "SPIFFE ID); it has ",
                               uris.size())),
                           reason::kIdentityInvalid);
  }
  absl::string_view uri(uris[0].data(), uris[0].size());
  absl::StatusOr<SpiffeId> id = ParseSpiffeId(uri, trust_domain);
  if (!id.ok()) {
    return WithErrorReason(absl::UnauthenticatedError(absl::StrCat(
                               "client certificate identity rejected: ", id.status().message())),
                           reason::kIdentityInvalid);
  }
  return id;
}

}  // namespace kinex
