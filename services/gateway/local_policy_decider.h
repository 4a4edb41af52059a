// PolicyDecider backed by the PolicyEngine in this process (--target=all).
#ifndef KINEX_SERVICES_GATEWAY_LOCAL_POLICY_DECIDER_H_
#define KINEX_SERVICES_GATEWAY_LOCAL_POLICY_DECIDER_H_

#include "services/gateway/dependencies.h"
#include "services/policy/policy_engine.h"

namespace kinex::gateway {

// Thread-safe; the engine must outlive it.
class LocalPolicyDecider final : public PolicyDecider {
 public:
  explicit LocalPolicyDecider(const kinex::policy::PolicyEngine& engine) : engine_(engine) {}
  absl::StatusOr<std::shared_ptr<const kinex::policy::Evaluation>> Evaluate(
      const kinex::policy::v1::DecisionRequest& request) const override {
    return engine_.Evaluate(request);
  }

 private:
  const kinex::policy::PolicyEngine& engine_;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_LOCAL_POLICY_DECIDER_H_
