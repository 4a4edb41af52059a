// What the gateway calls, as C++ interfaces. In --target=all they are the
// services' cores in this process; in microservices mode, gRPC clients over
// mTLS. The gateway cannot tell the difference, and fails closed on any
// error from either.
#ifndef KINEX_SERVICES_GATEWAY_DEPENDENCIES_H_
#define KINEX_SERVICES_GATEWAY_DEPENDENCIES_H_

#include <memory>

#include "absl/status/statusor.h"
#include "kinex/consent/v1/consent.pb.h"
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

// The consents and legal bases in force. Thread-safe.
class BasisLookup {
 public:
  virtual ~BasisLookup() = default;
  // Consents, statutory bases and refusals on file for (child, recipient,
  // purpose) now.
  virtual absl::StatusOr<kinex::consent::v1::LookupBasesResponse> LookupBases(
      const kinex::consent::v1::LookupBasesRequest& request) = 0;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_DEPENDENCIES_H_
