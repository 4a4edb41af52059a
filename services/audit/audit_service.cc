#include "services/audit/audit_service.h"

#include "services/common/grpc_status.h"
#include "services/common/identity.h"

namespace kinex::audit {

absl::Status AuditGrpcService::Authorize(const grpc::ServerContext& ctx,
                                         bool auditors) const {
  absl::StatusOr<SpiffeId> who = AuthenticatePeer(ctx, trust_domain_);
  if (!who.ok()) return who.status();
  if (who->is_service) return absl::OkStatus();
  if (auditors && who->agency_kind == kinex::common::v1::AUDITOR) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      auditors ? "the audit log is readable by auditors and Kinex services only"
               : "only Kinex services may append to the audit log");
}

grpc::Status AuditGrpcService::Append(grpc::ServerContext* ctx,
                                      const v1::AppendRequest* req,
                                      v1::AppendResponse* resp) {
  if (absl::Status s = Authorize(*ctx, /*auditors=*/false); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<AppendResult> r = log_->Append(req->event());
  if (!r.ok()) return ToGrpcStatus(r.status());
  resp->set_leaf_index(r->leaf_index);
  resp->set_leaf_hash(r->leaf_hash);
  *resp->mutable_signed_tree_head() = std::move(r->signed_tree_head);
  for (std::string& h : r->inclusion_proof) resp->add_inclusion_proof(std::move(h));
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::QueryEvents(grpc::ServerContext* ctx,
                                           const v1::QueryEventsRequest* req,
                                           v1::QueryEventsResponse* resp) {
  if (absl::Status s = Authorize(*ctx, true); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::QueryEventsResponse> r = log_->QueryEvents(*req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::GetSignedTreeHead(
    grpc::ServerContext* ctx, const v1::GetSignedTreeHeadRequest*,
    v1::SignedTreeHead* resp) {
  if (absl::Status s = Authorize(*ctx, true); !s.ok()) return ToGrpcStatus(s);
  *resp = log_->LatestHead();
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::GetInclusionProof(
    grpc::ServerContext* ctx, const v1::GetInclusionProofRequest* req,
    v1::GetInclusionProofResponse* resp) {
  if (absl::Status s = Authorize(*ctx, true); !s.ok()) return ToGrpcStatus(s);
  auto r = log_->GetInclusionProof(*req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::GetConsistencyProof(
    grpc::ServerContext* ctx, const v1::GetConsistencyProofRequest* req,
    v1::GetConsistencyProofResponse* resp) {
  if (absl::Status s = Authorize(*ctx, true); !s.ok()) return ToGrpcStatus(s);
  auto r = log_->GetConsistencyProof(*req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::GetEntries(grpc::ServerContext* ctx,
                                          const v1::GetEntriesRequest* req,
                                          v1::GetEntriesResponse* resp) {
  if (absl::Status s = Authorize(*ctx, true); !s.ok()) return ToGrpcStatus(s);
  auto r = log_->GetEntries(*req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::GetSigningKey(grpc::ServerContext* ctx,
                                             const v1::GetSigningKeyRequest*,
                                             v1::SigningKey* resp) {
  if (absl::Status s = Authorize(*ctx, true); !s.ok()) return ToGrpcStatus(s);
  auto r = log_->SigningKey();
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

}  // namespace kinex::audit
