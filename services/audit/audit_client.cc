#include "services/audit/audit_client.h"

#include "services/common/status_macros.h"
#include "services/common/unary_rpc.h"

namespace kinex::audit {

absl::StatusOr<AppendResult> AuditClient::Append(const kinex::audit::v1::AuditEvent& event) {
  kinex::audit::v1::AppendRequest req;
  *req.mutable_event() = event;
  KINEX_ASSIGN_OR_RETURN(kinex::audit::v1::AppendResponse resp,
                         CallUnary(*stub_, &kinex::audit::v1::Audit::Stub::Append, req,
                                   timeout_));  // capped by the served call's deadline
  AppendResult r;
  r.leaf_index = resp.leaf_index();
  r.leaf_hash = resp.leaf_hash();
  r.signed_tree_head = std::move(*resp.mutable_signed_tree_head());
  r.inclusion_proof.assign(resp.inclusion_proof().begin(), resp.inclusion_proof().end());
  return r;
}

absl::StatusOr<kinex::audit::v1::ReadNotificationsResponse> AuditClient::ReadNotifications(
    const kinex::audit::v1::ReadNotificationsRequest& request) {
  return CallUnary(*stub_, &kinex::audit::v1::Audit::Stub::ReadNotifications, request, timeout_);
}

}  // namespace kinex::audit
