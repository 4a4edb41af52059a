// The policy service's client, beside the service it calls:
// RemotePolicyDecider, a PolicyDecider over mTLS (microservices mode).
// Decide (BatchDecide for EvaluateAll) over gRPC, then compile the
// redaction plan here from the returned decision's allowed paths and row
// filters. A plan that cannot be compiled (the policy service knows a path
// this caller's schema does not) is an error: nothing is disclosed. Library
// kinex::policy_client (gRPC).
//
// Example:
//   RemotePolicyDecider decider(grpc::CreateChannel(policy_addr, creds));
//   gateway::Gateway::Dependencies deps{.policy = &decider, ...};
#ifndef KINEX_SERVICES_POLICY_POLICY_CLIENT_H_
#define KINEX_SERVICES_POLICY_POLICY_CLIENT_H_

#include <memory>
#include <vector>

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
  // One BatchDecide call per kMaxBatchDecide requests (one request: Decide).
  // A policy service from before BatchDecide (UNIMPLEMENTED, a rolling
  // upgrade) is asked one Decide per request instead.
  absl::StatusOr<std::vector<std::shared_ptr<const Evaluation>>> EvaluateAll(
      absl::Span<const kinex::policy::v1::DecisionRequest> requests) const override;

 private:
  // The evaluation of a decision the service made: its plan compiled here.
  absl::StatusOr<std::shared_ptr<const Evaluation>> Compiled(
      kinex::policy::v1::Decision decision) const;

  std::unique_ptr<kinex::policy::v1::Policy::Stub> stub_;
  std::shared_ptr<const Schema> schema_;
  absl::Duration timeout_;
};

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_POLICY_CLIENT_H_
