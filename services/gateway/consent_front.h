// kinex.consent.v1.Consent for agencies, at the gateway. Recording and
// withdrawing pass the authenticated caller (certificate identity and
// x-kinex-actor) to the consent registry, which asks policy who may record
// what. Listing a child's consent file is allowed to those policy lets
// record on it; anyone else, and any unknown child, gets the same
// PERMISSION_DENIED. Information sharing agreements (not child data) may be
// listed by any agency; only a party may record one. LookupBases is internal (the gateway's own
// step before deciding) and refused here.
#ifndef KINEX_SERVICES_GATEWAY_CONSENT_FRONT_H_
#define KINEX_SERVICES_GATEWAY_CONSENT_FRONT_H_

#include "kinex/consent/v1/consent.grpc.pb.h"
#include "services/consent/consent_authorizer.h"
#include "services/consent/consent_registry.h"
#include "services/gateway/edge.h"
#include "services/records/records_store.h"

namespace kinex::gateway {

// Thread-safe; every dependency must outlive it.
class ConsentFront final : public kinex::consent::v1::Consent::Service {
 public:
  ConsentFront(kinex::consent::ConsentRegistry& registry, kinex::records::RecordsStore& records,
               const kinex::consent::ConsentRecordingAuthorizer& authorizer, const Edge& edge)
      : registry_(registry), records_(records), authorizer_(authorizer), edge_(edge) {}

  grpc::Status RecordConsent(grpc::ServerContext* ctx,
                             const kinex::consent::v1::RecordConsentRequest* request,
                             kinex::consent::v1::RecordConsentResponse* response) override;
  grpc::Status WithdrawConsent(grpc::ServerContext* ctx,
                               const kinex::consent::v1::WithdrawConsentRequest* request,
                               kinex::consent::v1::WithdrawConsentResponse* response) override;
  grpc::Status ListConsents(grpc::ServerContext* ctx,
                            const kinex::consent::v1::ListConsentsRequest* request,
                            kinex::consent::v1::ListConsentsResponse* response) override;
  grpc::Status CreateSharingAgreement(
      grpc::ServerContext* ctx, const kinex::consent::v1::CreateSharingAgreementRequest* request,
      kinex::consent::v1::SharingAgreement* response) override;
  grpc::Status ListSharingAgreements(
      grpc::ServerContext* ctx, const kinex::consent::v1::ListSharingAgreementsRequest* request,
      kinex::consent::v1::ListSharingAgreementsResponse* response) override;
  grpc::Status LookupBases(grpc::ServerContext* ctx,
                           const kinex::consent::v1::LookupBasesRequest* request,
                           kinex::consent::v1::LookupBasesResponse* response) override;
  grpc::Status BatchLookupBases(grpc::ServerContext* ctx,
                                const kinex::consent::v1::BatchLookupBasesRequest* request,
                                kinex::consent::v1::BatchLookupBasesResponse* response) override;

 private:
  // PERMISSION_DENIED SERVICE_NOT_ALLOWED, audited as any refusal: a
  // method for Kinex services only.
  grpc::Status Internal(grpc::ServerContext* ctx, const char* method);
  // OK when `call` may record some kind of entry for the child.
  absl::Status MayList(const CallContext& call, const kinex::common::v1::ChildRef& child);

  kinex::consent::ConsentRegistry& registry_;
  kinex::records::RecordsStore& records_;
  const kinex::consent::ConsentRecordingAuthorizer& authorizer_;
  const Edge& edge_;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_CONSENT_FRONT_H_
