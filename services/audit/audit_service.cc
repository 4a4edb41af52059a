#include "services/audit/audit_service.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/common/error_reason.h"
#include "services/common/grpc_status.h"
#include "services/common/identity.h"
#include "services/common/service_acl.h"

namespace kinex::audit {

namespace {

// The service ACL's verdict on a read of the log (services/common/
// service_acl.h): the gateway, which forwards declared auditors.
absl::Status AllowedRead(const grpc::ServerContext& ctx, const std::string& trust_domain,
                         absl::string_view method) {
  return AuthorizeServiceCall(ctx, trust_domain, absl::StrCat("kinex.audit.v1.Audit/", method))
      .status();
}

std::string Metadata(const grpc::ServerContext& ctx, absl::string_view key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// A request id as given, when it fits the event's rules; else empty (the
// log generates one).
std::string RequestIdOrEmpty(std::string id) {
  if (id.empty() || id.size() > 128) return "";
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return "";
  }
  return id;
}

void FillAppendResponse(AppendResult r, v1::AppendResponse& out) {
  out.set_leaf_index(r.leaf_index);
  out.set_leaf_hash(std::move(r.leaf_hash));
  *out.mutable_signed_tree_head() = std::move(r.signed_tree_head);
  for (std::string& h : r.inclusion_proof) out.add_inclusion_proof(std::move(h));
}

}  // namespace

absl::StatusOr<AuditLog::QueryCaller> QueryCallerFromMetadata(const grpc::ServerContext& ctx,
                                                              const SpiffeId& peer,
                                                              absl::string_view trust_domain) {
  SpiffeId who = peer;
  const std::string forwarded = Metadata(ctx, kPrincipalMetadata);
  if (!forwarded.empty()) {
    // The gateway's audit front names the auditor it serves; no one else
    // may name another principal.
    if (!peer.is_service || peer.service_name != "gateway") {
      return absl::PermissionDeniedError(
          "only the gateway may forward a principal (x-kinex-principal)");
    }
    absl::StatusOr<SpiffeId> auditor = ParseSpiffeId(forwarded, trust_domain);
    if (!auditor.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("x-kinex-principal: ", auditor.status().message()));
    }
    if (auditor->is_service || auditor->agency_kind != kinex::common::v1::AUDITOR) {
      return absl::PermissionDeniedError(
          "x-kinex-principal: the audit log is readable by auditors only");
    }
    who = *std::move(auditor);
  }
  AuditLog::QueryCaller caller;
  caller.principal = who.uri;
  if (!who.is_service) {
    caller.agency_kind = who.agency_kind;
    caller.agency_code = who.agency_code;
  }
  caller.actor = Metadata(ctx, kActorMetadata);
  // The actor is as asserted; keep the event valid whatever was sent.
  if (caller.actor.size() > 200 || !IsUtf8(caller.actor)) {
    caller.actor = absl::CHexEscape(caller.actor.substr(0, 200));
  }
  caller.request_id = RequestIdOrEmpty(Metadata(ctx, kRequestIdMetadata));
  return caller;
}

grpc::Status AuditGrpcService::Append(grpc::ServerContext* ctx, const v1::AppendRequest* req,
                                      v1::AppendResponse* resp) {
  if (absl::Status s = AuthorizeAuditAppend(*ctx, trust_domain_, req->event()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<AppendResult> r = log_->Append(req->event());
  if (!r.ok()) return ToGrpcStatus(r.status());
  FillAppendResponse(*std::move(r), *resp);
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::AppendBatch(grpc::ServerContext* ctx,
                                           const v1::AppendBatchRequest* req,
                                           v1::AppendBatchResponse* resp) {
  // Who may call first: a caller that may not append learns nothing else.
  if (absl::Status s = AuthorizeAuditAppendBatch(*ctx, trust_domain_, req->events()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (req->events_size() == 0 || req->events_size() > kMaxAppendBatch) {
    return ToGrpcStatus(WithErrorReason(
        absl::InvalidArgumentError(absl::StrCat(
            "events: ", req->events_size(), " events; AppendBatch takes 1 to ", kMaxAppendBatch)),
        reason::kInvalidField, {{"field", "events"}}));
  }
  // (A repeated field is not contiguous: AppendAll takes a span of events.)
  const std::vector<v1::AuditEvent> events(req->events().begin(), req->events().end());
  std::vector<absl::StatusOr<AppendResult>> results = log_->AppendAll(events);
  for (absl::StatusOr<AppendResult>& r : results) {
    v1::AppendBatchResult* out = resp->add_results();
    *out->mutable_status() = ToRpcStatus(r.status());
    if (r.ok()) FillAppendResponse(*std::move(r), *out->mutable_appended());
  }
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::QueryEvents(grpc::ServerContext* ctx,
                                           const v1::QueryEventsRequest* req,
                                           v1::QueryEventsResponse* resp) {
  absl::StatusOr<SpiffeId> peer =
      AuthorizeServiceCall(*ctx, trust_domain_, "kinex.audit.v1.Audit/QueryEvents");
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  absl::StatusOr<AuditLog::QueryCaller> caller =
      QueryCallerFromMetadata(*ctx, *peer, trust_domain_);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  // Every query is itself an audit event (one per call, before the page).
  absl::StatusOr<v1::QueryEventsResponse> r = log_->AuditedQueryEvents(*caller, *req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::GetSignedTreeHead(grpc::ServerContext* ctx,
                                                 const v1::GetSignedTreeHeadRequest*,
                                                 v1::SignedTreeHead* resp) {
  if (absl::Status s = AllowedRead(*ctx, trust_domain_, "GetSignedTreeHead"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  *resp = log_->LatestHead();
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::GetInclusionProof(grpc::ServerContext* ctx,
                                                 const v1::GetInclusionProofRequest* req,
                                                 v1::GetInclusionProofResponse* resp) {
  if (absl::Status s = AllowedRead(*ctx, trust_domain_, "GetInclusionProof"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  auto r = log_->GetInclusionProof(*req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::GetConsistencyProof(grpc::ServerContext* ctx,
                                                   const v1::GetConsistencyProofRequest* req,
                                                   v1::GetConsistencyProofResponse* resp) {
  if (absl::Status s = AllowedRead(*ctx, trust_domain_, "GetConsistencyProof"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  auto r = log_->GetConsistencyProof(*req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::GetEntries(grpc::ServerContext* ctx,
                                          const v1::GetEntriesRequest* req,
                                          v1::GetEntriesResponse* resp) {
  absl::StatusOr<SpiffeId> peer =
      AuthorizeServiceCall(*ctx, trust_domain_, "kinex.audit.v1.Audit/GetEntries");
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  absl::StatusOr<AuditLog::QueryCaller> caller =
      QueryCallerFromMetadata(*ctx, *peer, trust_domain_);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  // Raw entries are every event in a range: reading them is audited too.
  auto r = log_->AuditedGetEntries(*caller, *req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::GetSigningKey(grpc::ServerContext* ctx,
                                             const v1::GetSigningKeyRequest*,
                                             v1::SigningKey* resp) {
  if (absl::Status s = AllowedRead(*ctx, trust_domain_, "GetSigningKey"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  auto r = log_->SigningKey();
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AuditGrpcService::ReadNotifications(grpc::ServerContext* ctx,
                                                 const v1::ReadNotificationsRequest* req,
                                                 v1::ReadNotificationsResponse* resp) {
  absl::StatusOr<SpiffeId> peer =
      AuthorizeServiceCall(*ctx, trust_domain_, "kinex.audit.v1.Audit/ReadNotifications");
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  auto r = log_->ReadNotifications(*req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

}  // namespace kinex::audit
