#include "services/consent/consent_grpc.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/error_reason.h"
#include "services/common/peer_identity.h"
#include "services/common/service_acl.h"
#include "services/common/status_macros.h"
#include "services/common/unary_rpc.h"

namespace kinex::consent {
namespace {

std::string Metadata(const grpc::ServerContext& ctx, const char* key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(key);
  return it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

// The metadata that carries `caller` (the agency the gateway serves) to
// the consent service; none for reads, which act for no one.
OutgoingMetadata CallerMetadata(const Caller* caller) {
  OutgoingMetadata md;
  if (caller == nullptr) return md;
  md.emplace_back(kPrincipalMetadata, caller->principal.uri);
  if (!caller->actor.empty()) md.emplace_back(kActorMetadata, caller->actor);
  if (!caller->request_id.empty()) md.emplace_back(kRequestIdMetadata, caller->request_id);
  return md;
}

// The service ACL's verdict on a call of `method` of this service
// (services/common/service_acl.h: which Kinex services may call it).
absl::Status Allowed(const grpc::ServerContext& ctx, absl::string_view trust_domain,
                     absl::string_view method) {
  return AuthorizeServiceCall(ctx, trust_domain, absl::StrCat("kinex.consent.v1.Consent/", method))
      .status();
}

}  // namespace

absl::StatusOr<Caller> ConsentGrpcService::ForwardedCaller(const grpc::ServerContext& ctx) const {
  KINEX_ASSIGN_OR_RETURN(SpiffeId peer, AuthenticatePeer(ctx, trust_domain_));
  if (!peer.is_service || peer.service_name != "gateway") {
    return WithErrorReason(absl::PermissionDeniedError("only the gateway records consent entries"),
                           reason::kServiceNotAllowed);
  }
  const std::string principal = Metadata(ctx, kPrincipalMetadata);
  if (principal.empty()) {
    return WithErrorReason(absl::InvalidArgumentError("x-kinex-principal metadata is required"),
                           reason::kInvalidField, {{"field", kPrincipalMetadata}});
  }
  absl::StatusOr<SpiffeId> who = ParseSpiffeId(principal, trust_domain_);
  if (!who.ok()) {
    return WithErrorReason(
        absl::InvalidArgumentError(absl::StrCat("x-kinex-principal: ", who.status().message())),
        reason::kInvalidField, {{"field", kPrincipalMetadata}});
  }
  return Caller{*who, Metadata(ctx, kActorMetadata), Metadata(ctx, kRequestIdMetadata)};
}

grpc::Status ConsentGrpcService::RecordConsent(grpc::ServerContext* ctx,
                                               const v1::RecordConsentRequest* request,
                                               v1::RecordConsentResponse* response) {
  absl::Status allowed = Allowed(*ctx, trust_domain_, "RecordConsent");
  absl::StatusOr<Caller> caller = allowed.ok() ? ForwardedCaller(*ctx) : allowed;
  return ServeUnary(
      *ctx, caller.status(), [&] { return registry_->RecordConsent(*caller, *request); }, response);
}

grpc::Status ConsentGrpcService::WithdrawConsent(grpc::ServerContext* ctx,
                                                 const v1::WithdrawConsentRequest* request,
                                                 v1::WithdrawConsentResponse* response) {
  absl::Status allowed = Allowed(*ctx, trust_domain_, "WithdrawConsent");
  absl::StatusOr<Caller> caller = allowed.ok() ? ForwardedCaller(*ctx) : allowed;
  return ServeUnary(
      *ctx, caller.status(), [&] { return registry_->WithdrawConsent(*caller, *request); },
      response);
}

grpc::Status ConsentGrpcService::ListConsents(grpc::ServerContext* ctx,
                                              const v1::ListConsentsRequest* request,
                                              v1::ListConsentsResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "ListConsents"),
      [&] { return registry_->ListConsents(*request); }, response);
}

grpc::Status ConsentGrpcService::LookupBases(grpc::ServerContext* ctx,
                                             const v1::LookupBasesRequest* request,
                                             v1::LookupBasesResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "LookupBases"),
      [&] { return registry_->LookupBases(*request); }, response);
}

grpc::Status ConsentGrpcService::BatchLookupBases(grpc::ServerContext* ctx,
                                                  const v1::BatchLookupBasesRequest* request,
                                                  v1::BatchLookupBasesResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "BatchLookupBases"),
      [&] { return registry_->BatchLookupBases(*request); }, response);
}

grpc::Status ConsentGrpcService::CreateSharingAgreement(
    grpc::ServerContext* ctx, const v1::CreateSharingAgreementRequest* request,
    v1::SharingAgreement* response) {
  absl::Status allowed = Allowed(*ctx, trust_domain_, "CreateSharingAgreement");
  absl::StatusOr<Caller> caller = allowed.ok() ? ForwardedCaller(*ctx) : allowed;
  return ServeUnary(
      *ctx, caller.status(), [&] { return registry_->CreateSharingAgreement(*caller, *request); },
      response);
}

grpc::Status ConsentGrpcService::ListSharingAgreements(
    grpc::ServerContext* ctx, const v1::ListSharingAgreementsRequest* request,
    v1::ListSharingAgreementsResponse* response) {
  return ServeUnary(
      *ctx, Allowed(*ctx, trust_domain_, "ListSharingAgreements"),
      [&] { return registry_->ListSharingAgreements(*request); }, response);
}

absl::StatusOr<v1::RecordConsentResponse> ConsentGrpcClient::RecordConsent(
    const Caller& caller, const v1::RecordConsentRequest& request) {
  return CallUnary(*stub_, &v1::Consent::Stub::RecordConsent, request, timeout_,
                   CallerMetadata(&caller));
}
absl::StatusOr<v1::WithdrawConsentResponse> ConsentGrpcClient::WithdrawConsent(
    const Caller& caller, const v1::WithdrawConsentRequest& request) {
  return CallUnary(*stub_, &v1::Consent::Stub::WithdrawConsent, request, timeout_,
                   CallerMetadata(&caller));
}
absl::StatusOr<v1::ListConsentsResponse> ConsentGrpcClient::ListConsents(
    const v1::ListConsentsRequest& request) {
  return CallUnary(*stub_, &v1::Consent::Stub::ListConsents, request, timeout_);
}
absl::StatusOr<v1::LookupBasesResponse> ConsentGrpcClient::LookupBases(
    const v1::LookupBasesRequest& request) {
  return CallUnary(*stub_, &v1::Consent::Stub::LookupBases, request, timeout_);
}
absl::StatusOr<v1::BatchLookupBasesResponse> ConsentGrpcClient::BatchLookupBases(
    const v1::BatchLookupBasesRequest& request) {
  if (request.requests_size() == 1) return ConsentRegistry::BatchLookupBases(request);
  v1::BatchLookupBasesResponse out;
  for (int first = 0; first < request.requests_size(); first += kMaxBatchLookupBases) {
    v1::BatchLookupBasesRequest chunk;
    const int last = std::min(request.requests_size(), first + kMaxBatchLookupBases);
    chunk.mutable_requests()->Add(request.requests().begin() + first,
                                  request.requests().begin() + last);
    absl::StatusOr<v1::BatchLookupBasesResponse> found =
        CallUnary(*stub_, &v1::Consent::Stub::BatchLookupBases, chunk, timeout_);
    if (found.status().code() == absl::StatusCode::kUnimplemented) {
      // A consent service from before BatchLookupBases: one LookupBases each.
      found = ConsentRegistry::BatchLookupBases(chunk);
    }
    if (!found.ok()) return found.status();
    if (found->responses_size() != chunk.requests_size()) {
      return absl::InternalError(absl::StrCat("consent BatchLookupBases answered ",
                                              found->responses_size(), " responses for ",
                                              chunk.requests_size(), " requests"));
    }
    for (v1::LookupBasesResponse& r : *found->mutable_responses()) {
      *out.add_responses() = std::move(r);
    }
  }
  return out;
}

absl::StatusOr<v1::SharingAgreement> ConsentGrpcClient::CreateSharingAgreement(
    const Caller& caller, const v1::CreateSharingAgreementRequest& request) {
  return CallUnary(*stub_, &v1::Consent::Stub::CreateSharingAgreement, request, timeout_,
                   CallerMetadata(&caller));
}
absl::StatusOr<v1::ListSharingAgreementsResponse> ConsentGrpcClient::ListSharingAgreements(
    const v1::ListSharingAgreementsRequest& request) {
  return CallUnary(*stub_, &v1::Consent::Stub::ListSharingAgreements, request, timeout_);
}

}  // namespace kinex::consent
