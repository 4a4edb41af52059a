// The consent service over gRPC: ConsentGrpcService (the thin adapter over a
// ConsentRegistry, for Kinex service callers only) and ConsentGrpcClient (a
// ConsentRegistry calling a remote consent service, for microservices mode).
//
// Access: every call must come from a Kinex service identity (mTLS).
// RecordConsent, WithdrawConsent and CreateSharingAgreement only from the gateway, which forwards
// the authenticated agency's SPIFFE ID in metadata `x-kinex-principal`, the practitioner in
// `x-kinex-actor` and its call's `x-kinex-request-id`. Agencies reach consent through the gateway's
// public API, never this service directly.
//
// Example:
//   ConsentGrpcService service(core.get(), "kinex.dev");
//   builder.RegisterService(&service);
#ifndef KINEX_SERVICES_CONSENT_CONSENT_GRPC_H_
#define KINEX_SERVICES_CONSENT_CONSENT_GRPC_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "kinex/consent/v1/consent.grpc.pb.h"
#include "services/consent/consent_registry.h"

namespace kinex::consent {

// Metadata keys the gateway sets on forwarded calls.
inline constexpr char kPrincipalMetadata[] = "x-kinex-principal";
inline constexpr char kActorMetadata[] = "x-kinex-actor";
// The gateway call's request id, which the write's audit event carries.
inline constexpr char kRequestIdMetadata[] = "x-kinex-request-id";

// Thread-safe; `registry` is not owned and must outlive the service.
class ConsentGrpcService final : public kinex::consent::v1::Consent::Service {
 public:
  ConsentGrpcService(ConsentRegistry* registry, std::string trust_domain)
      : registry_(registry), trust_domain_(std::move(trust_domain)) {}

  grpc::Status RecordConsent(grpc::ServerContext* ctx, const v1::RecordConsentRequest* request,
                             v1::RecordConsentResponse* response) override;
  grpc::Status WithdrawConsent(grpc::ServerContext* ctx, const v1::WithdrawConsentRequest* request,
                               v1::WithdrawConsentResponse* response) override;
  grpc::Status ListConsents(grpc::ServerContext* ctx, const v1::ListConsentsRequest* request,
                            v1::ListConsentsResponse* response) override;
  grpc::Status LookupBases(grpc::ServerContext* ctx, const v1::LookupBasesRequest* request,
                           v1::LookupBasesResponse* response) override;
  grpc::Status BatchLookupBases(grpc::ServerContext* ctx,
                                const v1::BatchLookupBasesRequest* request,
                                v1::BatchLookupBasesResponse* response) override;
  grpc::Status CreateSharingAgreement(grpc::ServerContext* ctx,
                                      const v1::CreateSharingAgreementRequest* request,
                                      v1::SharingAgreement* response) override;
  grpc::Status ListSharingAgreements(grpc::ServerContext* ctx,
                                     const v1::ListSharingAgreementsRequest* request,
                                     v1::ListSharingAgreementsResponse* response) override;

 private:
  absl::Status AuthorizeService(const grpc::ServerContext& ctx) const;
  // The agency the gateway forwards for; the peer must be the gateway.
  absl::StatusOr<Caller> ForwardedCaller(const grpc::ServerContext& ctx) const;

  ConsentRegistry* registry_;
  std::string trust_domain_;
};

// A ConsentRegistry backed by a remote consent service. Thread-safe.
class ConsentGrpcClient final : public ConsentRegistry {
 public:
  // `timeout`: deadline of each call (default 10 s).
  explicit ConsentGrpcClient(std::shared_ptr<grpc::Channel> channel,
                             absl::Duration timeout = absl::Seconds(10))
      : stub_(v1::Consent::NewStub(channel)), timeout_(timeout) {}

  absl::StatusOr<v1::RecordConsentResponse> RecordConsent(
      const Caller& caller, const v1::RecordConsentRequest& request) override;
  absl::StatusOr<v1::WithdrawConsentResponse> WithdrawConsent(
      const Caller& caller, const v1::WithdrawConsentRequest& request) override;
  absl::StatusOr<v1::ListConsentsResponse> ListConsents(
      const v1::ListConsentsRequest& request) override;
  absl::StatusOr<v1::LookupBasesResponse> LookupBases(
      const v1::LookupBasesRequest& request) override;
  // One BatchLookupBases call per kMaxBatchLookupBases requests (one
  // request: LookupBases). A consent service from before BatchLookupBases
  // (UNIMPLEMENTED, a rolling upgrade) is asked one LookupBases each.
  absl::StatusOr<v1::BatchLookupBasesResponse> BatchLookupBases(
      const v1::BatchLookupBasesRequest& request) override;
  absl::StatusOr<v1::SharingAgreement> CreateSharingAgreement(
      const Caller& caller, const v1::CreateSharingAgreementRequest& request) override;
  absl::StatusOr<v1::ListSharingAgreementsResponse> ListSharingAgreements(
      const v1::ListSharingAgreementsRequest& request) override;

 private:
  std::unique_ptr<v1::Consent::Stub> stub_;
  absl::Duration timeout_;
};

}  // namespace kinex::consent

#endif  // KINEX_SERVICES_CONSENT_CONSENT_GRPC_H_
