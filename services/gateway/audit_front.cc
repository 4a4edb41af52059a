#include "services/gateway/audit_front.h"

#include "services/audit/audit_service.h"
#include "services/common/deadline.h"
#include "services/common/error_reason.h"
#include "services/common/grpc_status.h"

namespace kinex::gateway {
namespace {

namespace av1 = kinex::audit::v1;

class Remote final : public AuditReads {
 public:
  explicit Remote(std::shared_ptr<grpc::Channel> channel)
      : stub_(av1::Audit::NewStub(std::move(channel))) {}

  absl::StatusOr<av1::QueryEventsResponse> QueryEvents(const audit::AuditLog::QueryCaller& caller,
                                                       const av1::QueryEventsRequest& r) override {
    // The audit service records the auditor named here (only the gateway
    // may name one).
    return Call(&av1::Audit::Stub::QueryEvents, r, &caller);
  }
  absl::StatusOr<av1::SignedTreeHead> GetSignedTreeHead(
      const av1::GetSignedTreeHeadRequest& r) override {
    return Call(&av1::Audit::Stub::GetSignedTreeHead, r);
  }
  absl::StatusOr<av1::GetInclusionProofResponse> GetInclusionProof(
      const av1::GetInclusionProofRequest& r) override {
    return Call(&av1::Audit::Stub::GetInclusionProof, r);
  }
  absl::StatusOr<av1::GetConsistencyProofResponse> GetConsistencyProof(
      const av1::GetConsistencyProofRequest& r) override {
    return Call(&av1::Audit::Stub::GetConsistencyProof, r);
  }
  absl::StatusOr<av1::SigningKey> GetSigningKey(const av1::GetSigningKeyRequest& r) override {
    return Call(&av1::Audit::Stub::GetSigningKey, r);
  }
  absl::StatusOr<av1::GetEntriesResponse> GetEntries(const audit::AuditLog::QueryCaller& caller,
                                                     const av1::GetEntriesRequest& r) override {
    return Call(&av1::Audit::Stub::GetEntries, r, &caller);
  }

 private:
  template <typename Req, typename Resp>
  absl::StatusOr<Resp> Call(grpc::Status (av1::Audit::Stub::*rpc)(grpc::ClientContext*, const Req&,
                                                                  Resp*),
                            const Req& request,
                            const audit::AuditLog::QueryCaller* caller = nullptr) {
    grpc::ClientContext out;
    SetOutgoingDeadline(out, absl::Seconds(30));
    if (caller != nullptr) {
      out.AddMetadata("x-kinex-principal", caller->principal);
      if (!caller->actor.empty()) out.AddMetadata("x-kinex-actor", caller->actor);
      if (!caller->request_id.empty()) {
        out.AddMetadata("x-kinex-request-id", caller->request_id);
      }
    }
    Resp response;
    grpc::Status s = ((*stub_).*rpc)(&out, request, &response);
    if (!s.ok()) return FromGrpcStatus(s);
    return response;
  }

  std::unique_ptr<av1::Audit::Stub> stub_;
};

class Local final : public AuditReads {
 public:
  explicit Local(audit::AuditLog& log) : log_(log) {}

  absl::StatusOr<av1::QueryEventsResponse> QueryEvents(const audit::AuditLog::QueryCaller& caller,
                                                       const av1::QueryEventsRequest& r) override {
    return log_.AuditedQueryEvents(caller, r);
  }
  absl::StatusOr<av1::SignedTreeHead> GetSignedTreeHead(
      const av1::GetSignedTreeHeadRequest&) override {
    return log_.LatestHead();
  }
  absl::StatusOr<av1::GetInclusionProofResponse> GetInclusionProof(
      const av1::GetInclusionProofRequest& r) override {
    return log_.GetInclusionProof(r);
  }
  absl::StatusOr<av1::GetConsistencyProofResponse> GetConsistencyProof(
      const av1::GetConsistencyProofRequest& r) override {
    return log_.GetConsistencyProof(r);
  }
  absl::StatusOr<av1::SigningKey> GetSigningKey(const av1::GetSigningKeyRequest&) override {
    return log_.SigningKey();
  }
  absl::StatusOr<av1::GetEntriesResponse> GetEntries(const audit::AuditLog::QueryCaller& caller,
                                                     const av1::GetEntriesRequest& r) override {
    return log_.AuditedGetEntries(caller, r);
  }

 private:
  audit::AuditLog& log_;
};

// The auditor behind a call, for the AUDIT_QUERIED event its read leaves.
audit::AuditLog::QueryCaller QueryCallerOf(const CallContext& call) {
  audit::AuditLog::QueryCaller caller;
  caller.principal = call.principal.uri;
  caller.agency_kind = call.principal.agency_kind;
  caller.agency_code = call.principal.agency_code;
  caller.actor = call.actor;
  caller.request_id = call.request_id;
  return caller;
}

}  // namespace

std::unique_ptr<AuditReads> RemoteAuditReads(std::shared_ptr<grpc::Channel> channel) {
  return std::make_unique<Remote>(std::move(channel));
}

std::unique_ptr<AuditReads> LocalAuditReads(audit::AuditLog& log) {
  return std::make_unique<Local>(log);
}

template <typename Resp, typename Read>
grpc::Status AuditFront::Forward(grpc::ServerContext* ctx, const char* method, Read read,
                                 Resp* response, Readers readers) {
  // `read` takes the call's context (the auditor).
  return edge_.Run(ctx, method, 0, [&](const CallContext& call, std::string&) -> absl::Status {
    // The edge has already refused roles not declared for their kind, so an
    // auditor here holds a declared auditor role.
    if (readers == Readers::kAuditors && call.principal.agency_kind != kinex::common::v1::AUDITOR) {
      return WithErrorReason(
          absl::PermissionDeniedError("the audit log is readable by auditors only"),
          reason::kPolicyDenied);
    }
    absl::StatusOr<Resp> r = read(call);
    if (!r.ok()) return r.status();
    *response = std::move(*r);
    return absl::OkStatus();
  });
}

grpc::Status AuditFront::Append(grpc::ServerContext* ctx, const av1::AppendRequest*,
                                av1::AppendResponse*) {
  return edge_.Run(ctx, "Append", 0, [](const CallContext&, std::string&) {
    return WithErrorReason(
        absl::PermissionDeniedError("only Kinex services may append to the audit log"),
        reason::kServiceNotAllowed);
  });
}

grpc::Status AuditFront::QueryEvents(grpc::ServerContext* ctx, const av1::QueryEventsRequest* req,
                                     av1::QueryEventsResponse* resp) {
  return Forward(
      ctx, "QueryEvents",
      [&](const CallContext& call) { return reads_->QueryEvents(QueryCallerOf(call), *req); },
      resp);
}

grpc::Status AuditFront::GetSignedTreeHead(grpc::ServerContext* ctx,
                                           const av1::GetSignedTreeHeadRequest* req,
                                           av1::SignedTreeHead* resp) {
  return Forward(
      ctx, "GetSignedTreeHead", [&](const CallContext&) { return reads_->GetSignedTreeHead(*req); },
      resp);
}

grpc::Status AuditFront::GetInclusionProof(grpc::ServerContext* ctx,
                                           const av1::GetInclusionProofRequest* req,
                                           av1::GetInclusionProofResponse* resp) {
  return Forward(
      ctx, "GetInclusionProof", [&](const CallContext&) { return reads_->GetInclusionProof(*req); },
      resp);
}

grpc::Status AuditFront::GetConsistencyProof(grpc::ServerContext* ctx,
                                             const av1::GetConsistencyProofRequest* req,
                                             av1::GetConsistencyProofResponse* resp) {
  return Forward(
      ctx, "GetConsistencyProof",
      [&](const CallContext&) { return reads_->GetConsistencyProof(*req); }, resp);
}

grpc::Status AuditFront::GetSigningKey(grpc::ServerContext* ctx,
                                       const av1::GetSigningKeyRequest* req,
                                       av1::SigningKey* resp) {
  // The public keys are not secret: any agency may pin them and verify the
  // receipts it was given offline (kinexctl audit signing-key).
  return Forward(
      ctx, "GetSigningKey", [&](const CallContext&) { return reads_->GetSigningKey(*req); }, resp,
      Readers::kEveryAgency);
}

grpc::Status AuditFront::GetEntries(grpc::ServerContext* ctx, const av1::GetEntriesRequest* req,
                                    av1::GetEntriesResponse* resp) {
  return Forward(
      ctx, "GetEntries",
      [&](const CallContext& call) { return reads_->GetEntries(QueryCallerOf(call), *req); }, resp);
}

}  // namespace kinex::gateway
