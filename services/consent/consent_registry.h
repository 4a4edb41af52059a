// The consent service as the gateway calls it: an abstract interface
// implemented in process by ConsentCore (--target=all) and over gRPC by
// ConsentGrpcClient (microservices mode). The caller passes the
// authenticated agency principal and actor that record or withdraw entries.
//
// Example (gateway, before asking policy):
//   LookupBasesRequest req;
//   req.set_kinex_id(kinex_id);
//   req.set_recipient(who.uri);
//   req.set_purpose(purpose);
//   KINEX_ASSIGN_OR_RETURN(LookupBasesResponse bases, registry.LookupBases(req));
#ifndef KINEX_SERVICES_CONSENT_CONSENT_REGISTRY_H_
#define KINEX_SERVICES_CONSENT_CONSENT_REGISTRY_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "kinex/consent/v1/consent.pb.h"
#include "services/common/identity.h"

namespace kinex::consent {

// Who is recording: the agency system (authenticated by the gateway), the
// practitioner it names (x-kinex-actor) and the gateway call's request id
// (x-kinex-request-id), which the write's audit event carries.
struct Caller {
  SpiffeId principal;
  std::string actor;
  // Optional: 1-128 printable ASCII characters without spaces; when empty
  // the consent core gives the audit event a new random one. (Initialised so
  // that callers naming only principal and actor still compile cleanly.)
  std::string request_id = {};
};

// Requests one BatchLookupBases call takes at most.
inline constexpr int kMaxBatchLookupBases = 500;

// Implementations are thread-safe.
class ConsentRegistry {
 public:
  virtual ~ConsentRegistry() = default;
  // Records a consent, refusal or statutory basis (see consent.proto).
  virtual absl::StatusOr<kinex::consent::v1::RecordConsentResponse> RecordConsent(
      const Caller& caller, const kinex::consent::v1::RecordConsentRequest& request) = 0;
  // Withdraws an entry from a time not in the past.
  virtual absl::StatusOr<kinex::consent::v1::WithdrawConsentResponse> WithdrawConsent(
      const Caller& caller, const kinex::consent::v1::WithdrawConsentRequest& request) = 0;
  // Lists a child's entries (the caller decides who may see them).
  virtual absl::StatusOr<kinex::consent::v1::ListConsentsResponse> ListConsents(
      const kinex::consent::v1::ListConsentsRequest& request) = 0;
  // Records an information sharing agreement (the caller must be a party).
  virtual absl::StatusOr<kinex::consent::v1::SharingAgreement> CreateSharingAgreement(
      const Caller& caller, const kinex::consent::v1::CreateSharingAgreementRequest& request) = 0;
  // Lists the agreements on file.
  virtual absl::StatusOr<kinex::consent::v1::ListSharingAgreementsResponse> ListSharingAgreements(
      const kinex::consent::v1::ListSharingAgreementsRequest& request) = 0;
  // Consents, bases and refusals in force now for (child, recipient, purpose).
  virtual absl::StatusOr<kinex::consent::v1::LookupBasesResponse> LookupBases(
      const kinex::consent::v1::LookupBasesRequest& request) = 0;

  // LookupBases for each request, in order (a ListChildren page's
  // children): all of them, or the first error. ConsentCore reads them in
  // one snapshot, ConsentGrpcClient in one BatchLookupBases call; this
  // default looks up one by one.
  virtual absl::StatusOr<kinex::consent::v1::BatchLookupBasesResponse> BatchLookupBases(
      const kinex::consent::v1::BatchLookupBasesRequest& request) {
    kinex::consent::v1::BatchLookupBasesResponse out;
    for (const kinex::consent::v1::LookupBasesRequest& one : request.requests()) {
      absl::StatusOr<kinex::consent::v1::LookupBasesResponse> found = LookupBases(one);
      if (!found.ok()) return found.status();
      *out.add_responses() = *std::move(found);
    }
    return out;
  }
};

}  // namespace kinex::consent

#endif  // KINEX_SERVICES_CONSENT_CONSENT_REGISTRY_H_
