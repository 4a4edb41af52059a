// PolicyDecider backed by the Policy service over mTLS (microservices mode):
// Decide over gRPC, then compile the redaction plan here from the returned
// decision's allowed paths and row filters. A plan that cannot be compiled
// (the policy service knows a path this gateway's schema does not) is an
// error: nothing is disclosed.
#ifndef KINEX_SERVICES_GATEWAY_REMOTE_POLICY_DECIDER_H_
#define KINEX_SERVICES_GATEWAY_REMOTE_POLICY_DECIDER_H_

#include <memory>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "kinex/policy/v1/policy.grpc.pb.h"
#include "services/common/deadline.h"
#include "services/common/grpc_status.h"
#include "services/gateway/dependencies.h"
#include "services/policy/redactor.h"
#include "services/policy/schema.h"

namespace kinex::gateway {

// Thread-safe.
class RemotePolicyDecider final : public PolicyDecider {
 public:
  explicit RemotePolicyDecider(std::shared_ptr<grpc::Channel> channel,
                               absl::Duration timeout = absl::Seconds(5))
      : stub_(kinex::policy::v1::Policy::NewStub(std::move(channel))),
        schema_(kinex::policy::Schema::ChildRecordSchema()),
        timeout_(timeout) {}

  absl::StatusOr<std::shared_ptr<const kinex::policy::Evaluation>> Evaluate(
      const kinex::policy::v1::DecisionRequest& request) const override {
    grpc::ClientContext ctx;
    SetOutgoingDeadline(ctx, timeout_);
    auto evaluation = std::make_shared<kinex::policy::Evaluation>();
    grpc::Status s = stub_->Decide(&ctx, request, &evaluation->decision);
    if (!s.ok()) return FromGrpcStatus(s);
    absl::StatusOr<std::shared_ptr<const kinex::policy::RedactionPlan>> plan =
        kinex::policy::RedactionPlan::FromDecision(schema_, evaluation->decision);
    if (!plan.ok()) return plan.status();
    evaluation->plan = std::move(*plan);
    return std::shared_ptr<const kinex::policy::Evaluation>(std::move(evaluation));
  }

 private:
  std::unique_ptr<kinex::policy::v1::Policy::Stub> stub_;
  std::shared_ptr<const kinex::policy::Schema> schema_;
  absl::Duration timeout_;
};

}  // namespace kinex::gateway

#endif  // KINEX_SERVICES_GATEWAY_REMOTE_POLICY_DECIDER_H_
