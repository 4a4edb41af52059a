// The gRPC edge of the audit log: kinex.audit.v1.Audit over an AuditLog.
// Each handler authenticates the caller from its client certificate, checks
// the caller's kind, calls the core and converts the status once.
//
//   Append                      Kinex service identities only
//                               (spiffe://<td>/service/<name>).
//   AppendBatch                 the gateway only; 1 to kMaxAppendBatch
//                               events, each with its own outcome.
//   QueryEvents, GetEntries,    auditor principals (agency kind "auditor")
//   GetSignedTreeHead, proofs,  and Kinex services.
//   GetSigningKey
//
// Every QueryEvents call is itself audited (AuditLog::AuditedQueryEvents):
// one AUDIT_QUERIED event, appended before the page is returned. The
// gateway's audit front (services/gateway/audit_front.h) serves auditors in
// both modes; in microservices mode it calls this service under its own
// identity and names the auditor in metadata (x-kinex-principal, which only
// the gateway may send; x-kinex-actor; x-kinex-request-id), so the event
// names the auditor. In --target=all the front calls AuditedQueryEvents in
// process. Either way: exactly one event per auditor query.
//
// Example:
//   AuditGrpcService service(log.get(), "kinex.dev");
//   builder.RegisterService(&service);
#ifndef KINEX_SERVICES_AUDIT_AUDIT_SERVICE_H_
#define KINEX_SERVICES_AUDIT_AUDIT_SERVICE_H_

#include <string>

#include "kinex/audit/v1/audit.grpc.pb.h"
#include "services/audit/audit_log.h"
#include "services/common/identity.h"

namespace kinex::audit {

// Most events one AppendBatch takes (AuditClient::AppendAll sends more as
// several batches).
inline constexpr int kMaxAppendBatch = 1000;

// Metadata a forwarded auditor query carries.
inline constexpr char kPrincipalMetadata[] = "x-kinex-principal";
inline constexpr char kActorMetadata[] = "x-kinex-actor";
inline constexpr char kRequestIdMetadata[] = "x-kinex-request-id";

// Who asks a query served to `peer` (already authorised): the auditor the
// gateway names in x-kinex-principal (only the gateway may; it must be an
// auditor: PERMISSION_DENIED otherwise), else `peer` itself; actor and
// request id from metadata (an unusable request id is left empty for the log
// to generate).
absl::StatusOr<AuditLog::QueryCaller> QueryCallerFromMetadata(const grpc::ServerContext& ctx,
                                                              const SpiffeId& peer,
                                                              absl::string_view trust_domain);

// Thread-safe (the core is).
class AuditGrpcService final : public kinex::audit::v1::Audit::Service {
 public:
  // `log` must outlive the service.
  AuditGrpcService(AuditLog* log, std::string trust_domain)
      : log_(log), trust_domain_(std::move(trust_domain)) {}

  grpc::Status Append(grpc::ServerContext* ctx, const v1::AppendRequest* req,
                      v1::AppendResponse* resp) override;
  grpc::Status AppendBatch(grpc::ServerContext* ctx, const v1::AppendBatchRequest* req,
                           v1::AppendBatchResponse* resp) override;
  grpc::Status QueryEvents(grpc::ServerContext* ctx, const v1::QueryEventsRequest* req,
                           v1::QueryEventsResponse* resp) override;
  grpc::Status GetSignedTreeHead(grpc::ServerContext* ctx, const v1::GetSignedTreeHeadRequest* req,
                                 v1::SignedTreeHead* resp) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* ctx, const v1::GetInclusionProofRequest* req,
                                 v1::GetInclusionProofResponse* resp) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* ctx,
                                   const v1::GetConsistencyProofRequest* req,
                                   v1::GetConsistencyProofResponse* resp) override;
  grpc::Status GetEntries(grpc::ServerContext* ctx, const v1::GetEntriesRequest* req,
                          v1::GetEntriesResponse* resp) override;
  grpc::Status ReadNotifications(grpc::ServerContext* ctx, const v1::ReadNotificationsRequest* req,
                                 v1::ReadNotificationsResponse* resp) override;
  grpc::Status GetSigningKey(grpc::ServerContext* ctx, const v1::GetSigningKeyRequest* req,
                             v1::SigningKey* resp) override;

 private:
  // OK when the caller is a Kinex service (or, with `auditors`, an auditor).
  absl::Status Authorize(const grpc::ServerContext& ctx, bool auditors) const;

  AuditLog* log_;
  const std::string trust_domain_;
};

}  // namespace kinex::audit

#endif  // KINEX_SERVICES_AUDIT_AUDIT_SERVICE_H_
