// The policy engine as the consent service's ConsentRecordingAuthorizer:
// who may record which consent or statutory basis for a child is decided by
// the policy set's consent_recorders rules, not hard-coded.
#ifndef KINEX_SERVICES_GATEWAY_POLICY_CONSENT_AUTHORIZER_H_
#define KINEX_SERVICES_GATEWAY_POLICY_CONSENT_AUTHORIZER_H_

#include "services/consent/consent_authorizer.h"
#include "services/gateway/call_context.h"
#include "services/policy/policy_engine.h"

namespace kinex::gateway {

// Thread-safe; the engine must outlive it.
class PolicyConsentAuthorizer final : public kinex::consent::ConsentRecordingAuthorizer {
 public:
  explicit PolicyConsentAuthorizer(const kinex::policy::PolicyEngine& engine) : engine_(engine) {}

  absl::Status MayRecord(const SpiffeId& recorder, const kinex::record::v1::ScopeLinks& scope,
                         const kinex::consent::v1::RecordConsentRequest& request) const override {
    const auto& entry = request.entry();
    const kinex::common::v1::LegalBasis basis =
        entry.has_statutory_basis() ? entry.statutory_basis().basis() : kinex::common::v1::CONSENT;
    return engine_.MayRecordConsent(ToPolicyPrincipal(recorder), scope, basis);
  }

 private:
  const kinex::policy::PolicyEngine& engine_;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_POLICY_CONSENT_AUTHORIZER_H_
