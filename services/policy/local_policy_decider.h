// PolicyDecider backed by the PolicyEngine in this process (--target=all).
#ifndef KINEX_SERVICES_POLICY_LOCAL_POLICY_DECIDER_H_
#define KINEX_SERVICES_POLICY_LOCAL_POLICY_DECIDER_H_

#include "services/policy/policy_decider.h"
#include "services/policy/policy_engine.h"

namespace kinex::policy {

// Thread-safe; the engine must outlive it.
class LocalPolicyDecider final : public PolicyDecider {
 public:
  explicit LocalPolicyDecider(const PolicyEngine& engine) : engine_(engine) {}
  absl::StatusOr<std::shared_ptr<const Evaluation>> Evaluate(
      const kinex::policy::v1::DecisionRequest& request) const override {
    return engine_.Evaluate(request);
  }

 private:
  const PolicyEngine& engine_;
};

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_LOCAL_POLICY_DECIDER_H_
