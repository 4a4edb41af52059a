// kinex.audit.v1.Audit for auditors at the gateway (microservices mode):
// the edge authenticates the caller, only auditor principals pass, and the
// query is forwarded to the audit service under the gateway's own service
// identity and the caller's deadline. Append is never accepted here: only
// Kinex services append, directly to the audit service.
#ifndef KINEX_SERVICES_GATEWAY_AUDIT_FRONT_H_
#define KINEX_SERVICES_GATEWAY_AUDIT_FRONT_H_

#include <memory>

#include <grpcpp/channel.h>

#include "kinex/audit/v1/audit.grpc.pb.h"
#include "services/gateway/edge.h"

namespace kinex::gateway {

// Thread-safe; the edge must outlive it.
class AuditFront final : public kinex::audit::v1::Audit::Service {
 public:
  AuditFront(std::shared_ptr<grpc::Channel> audit, const Edge& edge)
      : stub_(kinex::audit::v1::Audit::NewStub(std::move(audit))), edge_(edge) {}

  grpc::Status Append(grpc::ServerContext* ctx, const kinex::audit::v1::AppendRequest* request,
                      kinex::audit::v1::AppendResponse* response) override;
  grpc::Status QueryEvents(grpc::ServerContext* ctx,
                           const kinex::audit::v1::QueryEventsRequest* request,
                           kinex::audit::v1::QueryEventsResponse* response) override;
  grpc::Status GetSignedTreeHead(grpc::ServerContext* ctx,
                                 const kinex::audit::v1::GetSignedTreeHeadRequest* request,
                                 kinex::audit::v1::SignedTreeHead* response) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* ctx,
                                 const kinex::audit::v1::GetInclusionProofRequest* request,
                                 kinex::audit::v1::GetInclusionProofResponse* response) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* ctx,
                                   const kinex::audit::v1::GetConsistencyProofRequest* request,
                                   kinex::audit::v1::GetConsistencyProofResponse* response) override;
  grpc::Status GetSigningKey(grpc::ServerContext* ctx,
                             const kinex::audit::v1::GetSigningKeyRequest* request,
                             kinex::audit::v1::SigningKey* response) override;
  grpc::Status GetEntries(grpc::ServerContext* ctx,
                          const kinex::audit::v1::GetEntriesRequest* request,
                          kinex::audit::v1::GetEntriesResponse* response) override;

 private:
  // Runs one auditor query: edge, auditor check, forward.
  template <typename Req, typename Resp>
  grpc::Status Forward(grpc::ServerContext* ctx, const char* method,
                       grpc::Status (kinex::audit::v1::Audit::Stub::*rpc)(grpc::ClientContext*,
                                                                          const Req&, Resp*),
                       const Req& request, Resp* response);

  std::unique_ptr<kinex::audit::v1::Audit::Stub> stub_;
  const Edge& edge_;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_AUDIT_FRONT_H_
