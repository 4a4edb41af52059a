#include "services/consent/consent_grpc.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "services/common/deadline.h"
#include "services/common/grpc_status.h"
#include "services/common/identity.h"
#include "services/common/service_acl.h"
#include "services/common/status_macros.h"

namespace kinex::consent {
namespace {

template <typename Resp, typename Fn>
grpc::Status Serve(const absl::Status& authorized, Fn call, Resp* response) {
  if (!authorized.ok()) return ToGrpcStatus(authorized);
  absl::StatusOr<Resp> r = call();
  if (!r.ok()) return ToGrpcStatus(r.status());
  *response = std::move(*r);
  return grpc::Status::OK;
}

std::string Metadata(const grpc::ServerContext& ctx, const char* key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(key);
  return it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

template <typename Resp, typename Req, typename Method>
absl::StatusOr<Resp> Call(v1::Consent::Stub& stub, Method method, const Req& request,
                          absl::Duration timeout, const Caller* caller) {
  grpc::ClientContext ctx;
  SetOutgoingDeadline(ctx, timeout);  // capped by the served call's deadline
  if (caller != nullptr) {
    ctx.AddMetadata(kPrincipalMetadata, caller->principal.uri);
    if (!caller->actor.empty()) ctx.AddMetadata(kActorMetadata, caller->actor);
    if (!caller->request_id.empty()) ctx.AddMetadata(kRequestIdMetadata, caller->request_id);
  }
  Resp response;
  grpc::Status s = (stub.*method)(&ctx, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
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
    return absl::PermissionDeniedError("only the gateway records consent entries");
  }
  const std::string principal = Metadata(ctx, kPrincipalMetadata);
  if (principal.empty()) {
    return absl::InvalidArgumentError("x-kinex-principal metadata is required");
  }
  absl::StatusOr<SpiffeId> who = ParseSpiffeId(principal, trust_domain_);
  if (!who.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("x-kinex-principal: ", who.status().message()));
  }
  return Caller{*who, Metadata(ctx, kActorMetadata), Metadata(ctx, kRequestIdMetadata)};
}

grpc::Status ConsentGrpcService::RecordConsent(grpc::ServerContext* ctx,
                                               const v1::RecordConsentRequest* request,
                                               v1::RecordConsentResponse* response) {
  absl::Status allowed = Allowed(*ctx, trust_domain_, "RecordConsent");
  absl::StatusOr<Caller> caller = allowed.ok() ? ForwardedCaller(*ctx) : allowed;
  return Serve(caller.status(), [&] { return registry_->RecordConsent(*caller, *request); },
               response);
}

grpc::Status ConsentGrpcService::WithdrawConsent(grpc::ServerContext* ctx,
                                                 const v1::WithdrawConsentRequest* request,
                                                 v1::WithdrawConsentResponse* response) {
  absl::Status allowed = Allowed(*ctx, trust_domain_, "WithdrawConsent");
  absl::StatusOr<Caller> caller = allowed.ok() ? ForwardedCaller(*ctx) : allowed;
  return Serve(caller.status(), [&] { return registry_->WithdrawConsent(*caller, *request); },
               response);
}

grpc::Status ConsentGrpcService::ListConsents(grpc::ServerContext* ctx,
                                              const v1::ListConsentsRequest* request,
                                              v1::ListConsentsResponse* response) {
  return Serve(Allowed(*ctx, trust_domain_, "ListConsents"),
               [&] { return registry_->ListConsents(*request); }, response);
}

grpc::Status ConsentGrpcService::LookupBases(grpc::ServerContext* ctx,
                                             const v1::LookupBasesRequest* request,
                                             v1::LookupBasesResponse* response) {
  return Serve(Allowed(*ctx, trust_domain_, "LookupBases"),
               [&] { return registry_->LookupBases(*request); }, response);
}

grpc::Status ConsentGrpcService::CreateSharingAgreement(
    grpc::ServerContext* ctx, const v1::CreateSharingAgreementRequest* request,
    v1::SharingAgreement* response) {
  absl::Status allowed = Allowed(*ctx, trust_domain_, "CreateSharingAgreement");
  absl::StatusOr<Caller> caller = allowed.ok() ? ForwardedCaller(*ctx) : allowed;
  return Serve(caller.status(),
               [&] { return registry_->CreateSharingAgreement(*caller, *request); }, response);
}

grpc::Status ConsentGrpcService::ListSharingAgreements(
    grpc::ServerContext* ctx, const v1::ListSharingAgreementsRequest* request,
    v1::ListSharingAgreementsResponse* response) {
  return Serve(Allowed(*ctx, trust_domain_, "ListSharingAgreements"),
               [&] { return registry_->ListSharingAgreements(*request); }, response);
}

absl::StatusOr<v1::RecordConsentResponse> ConsentGrpcClient::RecordConsent(
    const Caller& caller, const v1::RecordConsentRequest& request) {
  return Call<v1::RecordConsentResponse>(*stub_, &v1::Consent::Stub::RecordConsent, request,
                                         timeout_, &caller);
}
absl::StatusOr<v1::WithdrawConsentResponse> ConsentGrpcClient::WithdrawConsent(
    const Caller& caller, const v1::WithdrawConsentRequest& request) {
  return Call<v1::WithdrawConsentResponse>(*stub_, &v1::Consent::Stub::WithdrawConsent,
                                           request, timeout_, &caller);
}
absl::StatusOr<v1::ListConsentsResponse> ConsentGrpcClient::ListConsents(
    const v1::ListConsentsRequest& request) {
  return Call<v1::ListConsentsResponse>(*stub_, &v1::Consent::Stub::ListConsents, request,
                                        timeout_, nullptr);
}
absl::StatusOr<v1::LookupBasesResponse> ConsentGrpcClient::LookupBases(
    const v1::LookupBasesRequest& request) {
  return Call<v1::LookupBasesResponse>(*stub_, &v1::Consent::Stub::LookupBases, request,
                                       timeout_, nullptr);
}

absl::StatusOr<v1::SharingAgreement> ConsentGrpcClient::CreateSharingAgreement(
    const Caller& caller, const v1::CreateSharingAgreementRequest& request) {
  return Call<v1::SharingAgreement>(*stub_, &v1::Consent::Stub::CreateSharingAgreement,
                                    request, timeout_, &caller);
}
absl::StatusOr<v1::ListSharingAgreementsResponse> ConsentGrpcClient::ListSharingAgreements(
    const v1::ListSharingAgreementsRequest& request) {
  return Call<v1::ListSharingAgreementsResponse>(
      *stub_, &v1::Consent::Stub::ListSharingAgreements, request, timeout_, nullptr);
}

}  // namespace kinex::consent
