// The policy service's client, beside the service it calls:
// RemotePolicyDecider, a PolicyDecider over mTLS (microservices mode).
// Decide over gRPC, then compile the redaction plan here from the returned
// decision's allowed paths and row filters. A plan that cannot be compiled
// (the policy service knows a path this caller's schema does not) is an
// error: nothing is disclosed. Library kinex::policy_client (gRPC).
//
// Example:
//   RemotePolicyDecider decider(grpc::CreateChannel(policy_addr, creds));
//   gateway::Gateway::Dependencies deps{.policy = &decider, ...};
#ifndef KINEX_SERVICES_POLICY_POLICY_CLIENT_H_
#define KINEX_SERVICES_POLICY_POLICY_CLIENT_H_

#include <memory>

#include <grpcpp/channel.h>

#include "absl/time/time.h"
#include "kinex/policy/v1/policy.grpc.pb.h"
#include "services/policy/policy_decider.h"
#include "services/policy/schema.h"

namespace kinex::policy {

// Thread-safe.
class RemotePolicyDecider final : public PolicyDecider {
 public:
  // `timeout`: deadline of each call (default 5 s), capped by the deadline
  // of the call being served (services/common/deadline.h).
  explicit RemotePolicyDecider(std::shared_ptr<grpc::Channel> channel,
                               absl::Duration timeout = absl::Seconds(5));

  absl::StatusOr<std::shared_ptr<const Evaluation>> Evaluate(
      const kinex::policy::v1::DecisionRequest& request) const override;

 private:
  std::unique_ptr<kinex::policy::v1::Policy::Stub> stub_;
  std::shared_ptr<const Schema> schema_;
  absl::Duration timeout_;
};

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_POLICY_CLIENT_H_
