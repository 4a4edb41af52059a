// kinex.audit.v1.Audit for auditors at the gateway, in both modes: the edge
// authenticates the caller (a declared role only), only auditor principals
// pass (except GetSigningKey: the log's public keys are not secret, so every
// declared agency principal may read them, pin them and check the receipts
// it was given offline), and the query goes to the log: the audit service
// over mTLS under the gateway's own service identity and the caller's
// deadline, naming the auditor in x-kinex-principal (with x-kinex-actor and
// x-kinex-request-id) so its AUDIT_QUERIED event names them (microservices
// mode), or AuditLog::AuditedQueryEvents in this process (--target=all).
// Append is never accepted here: only Kinex services append, directly to the
// audit service.
//
// Only QueryEvents and GetEntries leave an AUDIT_QUERIED event; the other
// reads (tree heads, proofs, the signing keys) reveal nothing about a child
// and, like GetSignedTreeHead, are recorded only in the edge's log line.
//
// Example:
//   AuditFront front(RemoteAuditReads(audit_channel), edge);
//   builder.RegisterService(&front);
#ifndef KINEX_SERVICES_GATEWAY_AUDIT_FRONT_H_
#define KINEX_SERVICES_GATEWAY_AUDIT_FRONT_H_

#include <memory>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "services/audit/audit_log.h"
#include "services/gateway/edge.h"

namespace kinex::gateway {

// The log's read API, wherever the log is. Implementations are thread-safe.
class AuditReads {
 public:
  virtual ~AuditReads() = default;
  // Every query is itself audited: exactly one AUDIT_QUERIED event naming
  // `caller` is appended by the log before the page is returned.
  virtual absl::StatusOr<kinex::audit::v1::QueryEventsResponse> QueryEvents(
      const audit::AuditLog::QueryCaller& caller,
      const kinex::audit::v1::QueryEventsRequest& request) = 0;
  virtual absl::StatusOr<kinex::audit::v1::SignedTreeHead> GetSignedTreeHead(
      const kinex::audit::v1::GetSignedTreeHeadRequest& request) = 0;
  virtual absl::StatusOr<kinex::audit::v1::GetInclusionProofResponse> GetInclusionProof(
      const kinex::audit::v1::GetInclusionProofRequest& request) = 0;
  virtual absl::StatusOr<kinex::audit::v1::GetConsistencyProofResponse> GetConsistencyProof(
      const kinex::audit::v1::GetConsistencyProofRequest& request) = 0;
  virtual absl::StatusOr<kinex::audit::v1::SigningKey> GetSigningKey(
      const kinex::audit::v1::GetSigningKeyRequest& request) = 0;
  // Raw entries, audited like a query (one AUDIT_QUERIED event naming
  // `caller` per page).
  virtual absl::StatusOr<kinex::audit::v1::GetEntriesResponse> GetEntries(
      const audit::AuditLog::QueryCaller& caller,
      const kinex::audit::v1::GetEntriesRequest& request) = 0;
};

// Reads from the audit service over `channel` (the gateway's identity; 30 s
// timeout, capped by the served call's deadline).
std::unique_ptr<AuditReads> RemoteAuditReads(std::shared_ptr<grpc::Channel> channel);

// Reads from `log` in this process; `log` must outlive the result.
std::unique_ptr<AuditReads> LocalAuditReads(audit::AuditLog& log);

// Thread-safe; the edge must outlive it.
class AuditFront final : public kinex::audit::v1::Audit::Service {
 public:
  AuditFront(std::unique_ptr<AuditReads> reads, const Edge& edge)
      : reads_(std::move(reads)), edge_(edge) {}
  // Reads from the audit service over `audit` (microservices mode).
  AuditFront(std::shared_ptr<grpc::Channel> audit, const Edge& edge)
      : AuditFront(RemoteAuditReads(std::move(audit)), edge) {}

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
  grpc::Status GetConsistencyProof(
      grpc::ServerContext* ctx, const kinex::audit::v1::GetConsistencyProofRequest* request,
      kinex::audit::v1::GetConsistencyProofResponse* response) override;
  grpc::Status GetSigningKey(grpc::ServerContext* ctx,
                             const kinex::audit::v1::GetSigningKeyRequest* request,
                             kinex::audit::v1::SigningKey* response) override;
  grpc::Status GetEntries(grpc::ServerContext* ctx,
                          const kinex::audit::v1::GetEntriesRequest* request,
                          kinex::audit::v1::GetEntriesResponse* response) override;

 private:
  // Who may call a read.
  enum class Readers {
    kAuditors,     // auditor principals only
    kEveryAgency,  // every declared agency principal (the edge checks)
  };
  // Runs one read: edge, readers check, read.
  template <typename Resp, typename Read>
  grpc::Status Forward(grpc::ServerContext* ctx, const char* method, Read read, Resp* response,
                       Readers readers = Readers::kAuditors);

  std::unique_ptr<AuditReads> reads_;
  const Edge& edge_;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_AUDIT_FRONT_H_
