// The policy engine as the consent service's ConsentRecordingAuthorizer
// (it runs in the consent target, so it lives beside the policy engine, not
// in the gateway): who may record which consent or statutory basis for a
// child is decided by the policy set's consent_recorders rules, not
// hard-coded. The child's policy context (scope, looked-after status,
// arrangements) comes from its facts through ChildContextFromFacts, the one
// derivation the gateway's decisions use too, so a recorder rule
// conditioned on the child's status matches here exactly as a grant rule
// does there.
#ifndef KINEX_SERVICES_POLICY_POLICY_CONSENT_AUTHORIZER_H_
#define KINEX_SERVICES_POLICY_POLICY_CONSENT_AUTHORIZER_H_

#include "services/common/clock.h"
#include "services/consent/consent_authorizer.h"
#include "services/policy/child_context.h"
#include "services/policy/policy_decider.h"
#include "services/policy/policy_engine.h"

namespace kinex::policy {

// Thread-safe; the engine (and clock) must outlive it.
class PolicyConsentAuthorizer final : public kinex::consent::ConsentRecordingAuthorizer {
 public:
  // `clock`: the time the child's legal status is read at; default (null)
  // the real clock.
  explicit PolicyConsentAuthorizer(const PolicyEngine& engine, const Clock* clock = nullptr)
      : engine_(engine), clock_(clock != nullptr ? clock : &RealClock::Get()) {}

  absl::Status MayRecord(const SpiffeId& recorder, const kinex::records::v1::ChildFacts& child,
                         const kinex::consent::v1::RecordConsentRequest& request) const override {
    const auto& entry = request.entry();
    const kinex::common::v1::LegalBasis basis =
        entry.has_statutory_basis() ? entry.statutory_basis().basis() : kinex::common::v1::CONSENT;
    return engine_.MayRecordConsent(ToPolicyPrincipal(recorder),
                                    ChildContextFromFacts(child, clock_->Now()), basis);
  }

 private:
  const PolicyEngine& engine_;
  const Clock* clock_;
};

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_POLICY_CONSENT_AUTHORIZER_H_
