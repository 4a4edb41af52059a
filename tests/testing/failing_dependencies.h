// Failing versions of the gateway's dependencies, proving it fails closed.
// (Working in-memory versions are the real cores over their fake storage.)
// Test-only (kinex::testing_doubles): never linked into a production target.
#ifndef KINEX_TESTS_TESTING_FAILING_DEPENDENCIES_H_
#define KINEX_TESTS_TESTING_FAILING_DEPENDENCIES_H_

#include "services/audit/audit_sink.h"
#include "services/consent/consent_registry.h"
#include "services/policy/policy_decider.h"

namespace kinex::gateway {

// Always UNAVAILABLE: the consent store cannot answer.
class FailingConsentRegistry final : public kinex::consent::ConsentRegistry {
 public:
  absl::StatusOr<kinex::consent::v1::RecordConsentResponse> RecordConsent(
      const kinex::consent::Caller&, const kinex::consent::v1::RecordConsentRequest&) override {
    return Down();
  }
  absl::StatusOr<kinex::consent::v1::WithdrawConsentResponse> WithdrawConsent(
      const kinex::consent::Caller&, const kinex::consent::v1::WithdrawConsentRequest&) override {
    return Down();
  }
  absl::StatusOr<kinex::consent::v1::ListConsentsResponse> ListConsents(
      const kinex::consent::v1::ListConsentsRequest&) override {
    return Down();
  }
  absl::StatusOr<kinex::consent::v1::SharingAgreement> CreateSharingAgreement(
      const kinex::consent::Caller&,
      const kinex::consent::v1::CreateSharingAgreementRequest&) override {
    return Down();
  }
  absl::StatusOr<kinex::consent::v1::ListSharingAgreementsResponse> ListSharingAgreements(
      const kinex::consent::v1::ListSharingAgreementsRequest&) override {
    return Down();
  }
  absl::StatusOr<kinex::consent::v1::LookupBasesResponse> LookupBases(
      const kinex::consent::v1::LookupBasesRequest&) override {
    return Down();
  }

 private:
  static absl::Status Down() { return absl::UnavailableError("consent store is down"); }
};

// Always UNAVAILABLE.
class FailingPolicyDecider final : public kinex::policy::PolicyDecider {
 public:
  absl::StatusOr<std::shared_ptr<const kinex::policy::Evaluation>> Evaluate(
      const kinex::policy::v1::DecisionRequest&) const override {
    return absl::UnavailableError("policy service is down");
  }
};

// Always UNAVAILABLE: the audit log cannot commit.
class FailingAuditSink final : public kinex::audit::AuditSink {
 public:
  absl::StatusOr<kinex::audit::AppendResult> Append(const kinex::audit::v1::AuditEvent&) override {
    return absl::UnavailableError("audit storage cannot commit");
  }
};

}  // namespace kinex::gateway

#endif  // KINEX_TESTS_TESTING_FAILING_DEPENDENCIES_H_
