// A policy decision with the compiled plan that enforces it: what a
// PolicyDecider returns and the redactor applies. Header of
// kinex::policy_api.
#ifndef KINEX_SERVICES_POLICY_EVALUATION_H_
#define KINEX_SERVICES_POLICY_EVALUATION_H_

#include <memory>

#include "kinex/policy/v1/policy.pb.h"

namespace kinex::policy {

class RedactionPlan;  // services/policy/redactor.h

// A decision and the plan that enforces it. Immutable once built; shared
// between threads through the engine's cache.
struct Evaluation {
  kinex::policy::v1::Decision decision;
  // Never null. For a deny, a plan that clears everything.
  std::shared_ptr<const RedactionPlan> plan;
};

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_EVALUATION_H_
