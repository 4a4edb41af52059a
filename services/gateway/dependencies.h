// What the gateway calls, as C++ interfaces. In --target=all they are the
// services' cores in this process; in microservices mode, gRPC clients over
// mTLS. The gateway cannot tell the difference, and fails closed on any
// error from either. Records (records::RecordsStore), consent
// (consent::ConsentRegistry) and audit (audit::AuditSink) declare their own
// interfaces; policy's is here, since the gateway needs the compiled plan
// with the decision.
#ifndef KINEX_SERVICES_GATEWAY_DEPENDENCIES_H_
#define KINEX_SERVICES_GATEWAY_DEPENDENCIES_H_

#include <memory>

#include "absl/status/statusor.h"
#include "kinex/policy/v1/policy.pb.h"
#include "services/policy/evaluator.h"

namespace kinex::gateway {

// Policy decisions with their compiled redaction plans. Thread-safe.
class PolicyDecider {
 public:
  virtual ~PolicyDecider() = default;
  // The decision and the plan that enforces it. Any error means: disclose
  // nothing.
  virtual absl::StatusOr<std::shared_ptr<const kinex::policy::Evaluation>> Evaluate(
      const kinex::policy::v1::DecisionRequest& request) const = 0;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_DEPENDENCIES_H_
