// The consent core: records consents, refusals and statutory bases on a
// child's file, withdraws them, and answers which are in force for a
// disclosure. Plain C++ (absl::Status), no gRPC.
//
// Rules:
//  - The child is resolved through the records service (any ChildRef).
//  - Who may record or withdraw is asked of the injected
//    ConsentRecordingAuthorizer (policy); the core enforces only shape:
//    required fields, known enum values, and validity windows
//    (valid_until must be after valid_from: INVALID_ARGUMENT naming both).
//  - A consent given by CHILD_AGED_16_OR_OVER for a child whose published date
//    of birth makes them under 16 at valid_from is FAILED_PRECONDITION.
//  - Refusals are stored as entries with decision CONSENT_REFUSED and are
//    reported by LookupBases as refusals, never as consents.
//  - A withdrawal sets withdraw_time (now or later, never in the past); the
//    entry stays on file.
//  - In force at time t: valid_from <= t < valid_until (if set) and not
//    withdrawn at or before t; t is the injected clock's now.
//  - Information sharing agreements: a statutory basis recorded by agency R
//    for recipient X is narrowed by the agreements in force naming both R and
//    X as parties (a party with no code names every agency of its kind): if
//    there is at least one, the basis applies only when the purpose is one of
//    theirs, and only to the union of their categories for that purpose. With
//    no agreement for the pair, the basis applies unrestricted. Agreements do
//    not affect consents (the person's own scope governs them).
//
// Example:
//   auto core = ConsentCore::Create({.storage = &storage, .records = &records,
//                                    .authorizer = &policy, .clock = &clock});
//   auto bases = (*core)->LookupBases(request);
#ifndef KINEX_SERVICES_CONSENT_CONSENT_CORE_H_
#define KINEX_SERVICES_CONSENT_CONSENT_CORE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/clock.h"
#include "services/consent/consent_authorizer.h"
#include "services/consent/consent_registry.h"
#include "services/consent/consent_storage.h"
#include "services/records/records_store.h"

namespace kinex::consent {

// Thread-safe.
class ConsentCore final : public ConsentRegistry {
 public:
  struct Options {
    // Required. Not owned; must outlive the core.
    ConsentStorage* storage = nullptr;
    // Required. Resolves children. Not owned; must outlive the core.
    kinex::records::RecordsStore* records = nullptr;
    // Required. Decides who may record what. Not owned; must outlive the core.
    const ConsentRecordingAuthorizer* authorizer = nullptr;
    // Required. Not owned; must outlive the core.
    const Clock* clock = nullptr;
    // Default "kinex.dev". Trust domain of recipients' SPIFFE IDs.
    std::string trust_domain = "kinex.dev";
    // Default: RandomId(prefix). New entry ids ("cn_", "lb_", "isa_" prefixes).
    std::function<absl::StatusOr<std::string>(absl::string_view prefix)> new_id;
  };

  // INVALID_ARGUMENT naming a missing required option.
  static absl::StatusOr<std::unique_ptr<ConsentCore>> Create(Options options);

  absl::StatusOr<kinex::consent::v1::RecordConsentResponse> RecordConsent(
      const Caller& caller, const kinex::consent::v1::RecordConsentRequest& request) override;
  absl::StatusOr<kinex::consent::v1::WithdrawConsentResponse> WithdrawConsent(
      const Caller& caller, const kinex::consent::v1::WithdrawConsentRequest& request) override;
  absl::StatusOr<kinex::consent::v1::ListConsentsResponse> ListConsents(
      const kinex::consent::v1::ListConsentsRequest& request) override;
  absl::StatusOr<kinex::consent::v1::LookupBasesResponse> LookupBases(
      const kinex::consent::v1::LookupBasesRequest& request) override;

  // Records an information sharing agreement. The caller must be an agency
  // named by one of its parties (kind, and code when the party has one):
  // PERMISSION_DENIED otherwise. (A structural rule, not a role policy: which
  // roles may sign agreements is for policy to add.)
  absl::StatusOr<kinex::consent::v1::SharingAgreement> CreateSharingAgreement(
      const Caller& caller,
      const kinex::consent::v1::CreateSharingAgreementRequest& request) override;
  absl::StatusOr<kinex::consent::v1::ListSharingAgreementsResponse> ListSharingAgreements(
      const kinex::consent::v1::ListSharingAgreementsRequest& request) override;

 private:
  explicit ConsentCore(Options options) : options_(std::move(options)) {}

  Options options_;
};

}  // namespace kinex::consent

#endif  // KINEX_SERVICES_CONSENT_CONSENT_CORE_H_
