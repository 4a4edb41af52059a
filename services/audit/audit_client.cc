#include "services/audit/audit_client.h"

#include "absl/time/clock.h"
#include "services/common/deadline.h"
#include "services/common/grpc_status.h"

namespace kinex::audit {

absl::StatusOr<AppendResult> AuditClient::Append(
    const kinex::audit::v1::AuditEvent& event) {
  grpc::ClientContext ctx;
  SetOutgoingDeadline(ctx, timeout_);  // capped by the served call's deadline
  kinex::audit::v1::AppendRequest req;
  *req.mutable_event() = event;
  kinex::audit::v1::AppendResponse resp;
  grpc::Status s = stub_->Append(&ctx, req, &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  AppendResult r;
  r.leaf_index = resp.leaf_index();
  r.leaf_hash = resp.leaf_hash();
  r.signed_tree_head = std::move(*resp.mutable_signed_tree_head());
  r.inclusion_proof.assign(resp.inclusion_proof().begin(),
                           resp.inclusion_proof().end());
  return r;
}

}  // namespace kinex::audit
