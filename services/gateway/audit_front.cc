#include "services/gateway/audit_front.h"

#include "services/common/deadline.h"
#include "services/common/grpc_status.h"

namespace kinex::gateway {

namespace av1 = kinex::audit::v1;

template <typename Req, typename Resp>
grpc::Status AuditFront::Forward(grpc::ServerContext* ctx, const char* method,
                                 grpc::Status (av1::Audit::Stub::*rpc)(grpc::ClientContext*,
                                                                       const Req&, Resp*),
                                 const Req& request, Resp* response) {
  return edge_.Run(ctx, method, 0, [&](const CallContext& call, std::string&) {
    if (call.principal.agency_kind != kinex::common::v1::AUDITOR) {
      return absl::PermissionDeniedError("the audit log is readable by auditors only");
    }
    grpc::ClientContext out;
    SetOutgoingDeadline(out, absl::Seconds(30));
    return FromGrpcStatus(((*stub_).*rpc)(&out, request, response));
  });
}

grpc::Status AuditFront::Append(grpc::ServerContext* ctx, const av1::AppendRequest*,
                                av1::AppendResponse*) {
  return edge_.Run(ctx, "Append", 0, [](const CallContext&, std::string&) {
    return absl::PermissionDeniedError("only Kinex services may append to the audit log");
  });
}

grpc::Status AuditFront::QueryEvents(grpc::ServerContext* ctx, const av1::QueryEventsRequest* req,
                                     av1::QueryEventsResponse* resp) {
  return Forward(ctx, "QueryEvents", &av1::Audit::Stub::QueryEvents, *req, resp);
}

grpc::Status AuditFront::GetSignedTreeHead(grpc::ServerContext* ctx,
                                           const av1::GetSignedTreeHeadRequest* req,
                                           av1::SignedTreeHead* resp) {
  return Forward(ctx, "GetSignedTreeHead", &av1::Audit::Stub::GetSignedTreeHead, *req, resp);
}

grpc::Status AuditFront::GetInclusionProof(grpc::ServerContext* ctx,
                                           const av1::GetInclusionProofRequest* req,
                                           av1::GetInclusionProofResponse* resp) {
  return Forward(ctx, "GetInclusionProof", &av1::Audit::Stub::GetInclusionProof, *req, resp);
}

grpc::Status AuditFront::GetConsistencyProof(grpc::ServerContext* ctx,
                                             const av1::GetConsistencyProofRequest* req,
                                             av1::GetConsistencyProofResponse* resp) {
  return Forward(ctx, "GetConsistencyProof", &av1::Audit::Stub::GetConsistencyProof, *req, resp);
}

grpc::Status AuditFront::GetSigningKey(grpc::ServerContext* ctx,
                                       const av1::GetSigningKeyRequest* req,
                                       av1::SigningKey* resp) {
  return Forward(ctx, "GetSigningKey", &av1::Audit::Stub::GetSigningKey, *req, resp);
}

grpc::Status AuditFront::GetEntries(grpc::ServerContext* ctx, const av1::GetEntriesRequest* req,
                                    av1::GetEntriesResponse* resp) {
  return Forward(ctx, "GetEntries", &av1::Audit::Stub::GetEntries, *req, resp);
}

}  // namespace kinex::gateway
